/*
Copyright 2026 The meshkeeper Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package meshctx

import (
	"context"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// IngressController is the ingress-nginx controller workload the spec names, when the integration is
// on; nil otherwise. Its pods get their sidecar from their pod template (policy.IngressNginxPodTemplate),
// enrolled namespace or not: the proxy count and the restarts judge them wherever they run.
func IngressController(mesh *meshv1alpha1.ServiceMesh) *meshv1alpha1.WorkloadReference {
	if mesh == nil || !policy.IngressNginxEnabled(mesh.Spec.IngressNginx) || mesh.Spec.IngressNginx.Controller.Name == "" {
		return nil
	}
	ref := mesh.Spec.IngressNginx.Controller
	if ref.Kind == "" {
		ref.Kind = "Deployment"
	}
	return &ref
}

// MayBeControllerPod tells, without a read, whether pod may be one of the pods of the workload ref
// names: in its namespace, with a sidecar, and controlled by a ReplicaSet (a Deployment's pods are) or
// by a DaemonSet of its name. Only PodOfWorkload tells for certain.
func MayBeControllerPod(ref *meshv1alpha1.WorkloadReference, pod *policy.ProxyPod) bool {
	if ref == nil || pod.Namespace != ref.Namespace || (!pod.HasProxy && !pod.Injected) ||
		!strings.HasPrefix(pod.Controller.APIVersion, "apps/") {
		return false
	}
	switch ref.Kind {
	case "DaemonSet":
		return pod.Controller.Kind == "DaemonSet" && pod.Controller.Name == ref.Name
	case "Deployment":
		// The Deployment controller names its ReplicaSets <deployment>-<pod-template-hash>.
		return pod.Controller.Kind == "ReplicaSet" && strings.HasPrefix(pod.Controller.Name, ref.Name+"-")
	}
	return false
}

// PodOfWorkload tells whether pod belongs to the Deployment or DaemonSet ref names, whose UID is uid,
// following its owner chain by UID as the restarts do (PodWorkload).
func PodOfWorkload(ctx context.Context, replicaSets client.Reader, pod *policy.ProxyPod, ref *meshv1alpha1.WorkloadReference,
	uid types.UID) (bool, error) {
	if !MayBeControllerPod(ref, pod) || uid == "" {
		return false, nil
	}
	w, ok, err := PodWorkload(ctx, replicaSets, pod)
	if err != nil || !ok {
		return false, err
	}
	return w.Kind == ref.Kind && w.Name == ref.Name && w.UID == uid, nil
}

// PodWorkload follows a pod's controller to the Deployment, StatefulSet or DaemonSet that manages it, by
// UID: a ReplicaSet's pod to the Deployment that controls the ReplicaSet, whose metadata replicaSets
// reads (a cache: this is on the status pass's and the restarts' path), and a StatefulSet's or
// DaemonSet's pod to it. ok is false when the chain does not hold: another controller (a pod never
// belongs to a Deployment directly), or a ReplicaSet gone, replaced or not a Deployment's.
func PodWorkload(ctx context.Context, replicaSets client.Reader, pod *policy.ProxyPod) (policy.PodController, bool, error) {
	ref := pod.Controller
	if !strings.HasPrefix(ref.APIVersion, "apps/") {
		return policy.PodController{}, false, nil
	}
	switch ref.Kind {
	case "StatefulSet", "DaemonSet":
		return ref, true, nil
	case "ReplicaSet":
	default:
		return policy.PodController{}, false, nil
	}
	rs := &metav1.PartialObjectMetadata{}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	if err := replicaSets.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, rs); err != nil {
		return policy.PodController{}, false, client.IgnoreNotFound(err)
	}
	owner := metav1.GetControllerOf(rs)
	if rs.UID != ref.UID || owner == nil || owner.Kind != "Deployment" || !strings.HasPrefix(owner.APIVersion, "apps/") {
		return policy.PodController{}, false, nil
	}
	return policy.PodController{APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: owner.UID}, true, nil
}
