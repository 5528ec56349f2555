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

package faultkit

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// State is an end state the system converges to.
type State string

const (
	// MeshReady is the state in which the ServiceMesh default is Ready for its current generation.
	MeshReady State = "Ready"
	// Uninstalled is the state in which the ServiceMesh is gone with everything it installed.
	Uninstalled State = "uninstalled"
)

// NotReady says why mesh is not Ready for its current generation (and, unless version is "", on
// version), or "" when it is.
func NotReady(mesh *meshv1alpha1.ServiceMesh, version string) string {
	if mesh == nil {
		return "no ServiceMesh"
	}
	var ready *metav1.Condition
	for i := range mesh.Status.Conditions {
		if mesh.Status.Conditions[i].Type == meshv1alpha1.ConditionReady {
			ready = &mesh.Status.Conditions[i]
		}
	}
	switch {
	case ready == nil:
		return fmt.Sprintf("no Ready condition at generation %d", mesh.Generation)
	case ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != mesh.Generation:
		return fmt.Sprintf("Ready=%s (%s: %s), generation %d observed %d", ready.Status, ready.Reason, ready.Message, mesh.Generation, ready.ObservedGeneration)
	case version != "" && mesh.Status.Version != version:
		return fmt.Sprintf("status.version %q, want %q", mesh.Status.Version, version)
	}
	return ""
}

// Mesh reads the ServiceMesh default; nil when there is none or it cannot be read.
func Mesh(ctx context.Context, c client.Client) *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := c.Get(ctx, types.NamespacedName{Name: "default"}, mesh); err != nil {
		return nil
	}
	return mesh
}

// Violations lists the invariants of the fault tier that do not hold in the cluster of config and c,
// whose control plane lives in namespace, in the end state state:
//   - no Helm release in the control-plane namespace is left pending, none has two deployed revisions;
//   - no webhook configuration calls a Service that does not exist;
//   - every object marked as meshkeeper's or Helm's belongs to a deployed release or to the live
//     ServiceMesh by owner reference (the Istio CRDs, kept on purpose, excepted);
//   - the ServiceMesh is Ready, or it is gone with everything it installed: no release Secret, no
//     istiod, no webhook of meshkeeper's, no injection label of meshkeeper's on any namespace.
//
// Right after a change the garbage collector and the cluster's controllers may still be finishing:
// callers retry for a while before they report what is left.
func Violations(ctx context.Context, config *rest.Config, c client.Client, namespace string, state State) []string {
	var v []string
	add := func(format string, args ...any) { v = append(v, fmt.Sprintf(format, args...)) }

	secrets := &corev1.SecretList{}
	if err := c.List(ctx, secrets, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm"}); err != nil {
		return []string{err.Error()}
	}
	deployed := map[string]bool{}
	for _, s := range secrets.Items {
		status := s.Labels["status"]
		if strings.HasPrefix(status, "pending") {
			add("release Secret %s is %s", s.Name, status)
		}
		if status == "deployed" {
			if deployed[s.Labels["name"]] {
				add("release %s has more than one deployed revision", s.Labels["name"])
			}
			deployed[s.Labels["name"]] = true
		}
	}

	for _, service := range webhookServices(ctx, c) {
		if err := c.Get(ctx, service.key, &corev1.Service{}); err != nil {
			add("%s calls Service %s: %v", service.webhook, service.key, err)
		}
	}

	mesh := Mesh(ctx, c)
	all, err := ListAll(ctx, config)
	if err != nil {
		return append(v, err.Error())
	}
	for key, obj := range all {
		if key.GVR.Resource == "endpoints" {
			continue // the endpoints controller's copy of a Service's labels, deleted with the Service
		}
		if reason := orphaned(obj, mesh, namespace, deployed); reason != "" {
			add("%s: %s", key, reason)
		}
	}

	switch state {
	case MeshReady:
		if got := NotReady(mesh, ""); got != "" {
			add("the ServiceMesh is not Ready: %s", got)
		}
	case Uninstalled:
		if mesh != nil {
			add("the ServiceMesh still exists (deletionTimestamp %v, finalizers %v)", mesh.DeletionTimestamp, mesh.Finalizers)
		}
		for _, s := range secrets.Items {
			add("release Secret %s is left", s.Name)
		}
		deployments := &appsv1.DeploymentList{}
		if err := c.List(ctx, deployments, client.InNamespace(namespace)); err != nil {
			add("listing Deployments: %v", err)
		}
		for _, d := range deployments.Items {
			if strings.HasPrefix(d.Name, "istiod") {
				add("Deployment %s is left", d.Name)
			}
		}
		for key, obj := range all {
			if obj.GetLabels()[meshv1alpha1.ManagedByLabel] == "meshkeeper" && strings.HasSuffix(key.GVR.Resource, "webhookconfigurations") {
				add("webhook configuration %s is left", obj.GetName())
			}
			if key.GVR.Resource == "namespaces" {
				for _, label := range MeshkeeperLabels(obj) {
					if label == "istio-injection" || label == "istio.io/rev" {
						add("namespace %s keeps meshkeeper's label %s", obj.GetName(), label)
					}
				}
			}
		}
	}
	return v
}

// orphaned says why obj, marked as meshkeeper's or Helm's, belongs to nothing alive, or "".
func orphaned(obj *unstructured.Unstructured, mesh *meshv1alpha1.ServiceMesh, namespace string, deployed map[string]bool) string {
	labels, annotations := obj.GetLabels(), obj.GetAnnotations()
	release := annotations["meta.helm.sh/release-name"]
	if labels[meshv1alpha1.ManagedByLabel] != "meshkeeper" && release == "" {
		return ""
	}
	if annotations["helm.sh/resource-policy"] == "keep" {
		return "" // the Istio CRDs outlive every mesh on purpose (docs/uninstall.md)
	}
	if release != "" && annotations["meta.helm.sh/release-namespace"] == namespace && deployed[release] {
		return ""
	}
	for _, ref := range obj.GetOwnerReferences() {
		if mesh != nil && ref.UID == mesh.UID {
			return ""
		}
		if ref.Kind != "ServiceMesh" {
			return "" // what a controller derived from one of the objects (a ReplicaSet, an EndpointSlice) goes with it
		}
	}
	return fmt.Sprintf("marked as meshkeeper's (release %q) but owned by no deployed release and no live ServiceMesh", release)
}

// MeshkeeperLabels lists the labels of obj whose field manager is meshkeeper.
func MeshkeeperLabels(obj metav1.Object) []string {
	var labels []string
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager != "meshkeeper" || entry.FieldsV1 == nil {
			continue
		}
		var fields struct {
			Metadata struct {
				Labels map[string]any `json:"f:labels"`
			} `json:"f:metadata"`
		}
		if json.Unmarshal(entry.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		for key := range fields.Metadata.Labels {
			labels = append(labels, strings.TrimPrefix(key, "f:"))
		}
	}
	slices.Sort(labels)
	return labels
}

type webhookService struct {
	webhook string
	key     types.NamespacedName
}

// webhookServices lists the Services every webhook of the cluster calls.
func webhookServices(ctx context.Context, c client.Client) []webhookService {
	var services []webhookService
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := c.List(ctx, mutating); err == nil {
		for _, w := range mutating.Items {
			for _, h := range w.Webhooks {
				if s := h.ClientConfig.Service; s != nil {
					services = append(services, webhookService{"MutatingWebhookConfiguration " + w.Name, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
				}
			}
		}
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := c.List(ctx, validating); err == nil {
		for _, w := range validating.Items {
			for _, h := range w.Webhooks {
				if s := h.ClientConfig.Service; s != nil {
					services = append(services, webhookService{"ValidatingWebhookConfiguration " + w.Name, types.NamespacedName{Namespace: s.Namespace, Name: s.Name}})
				}
			}
		}
	}
	return services
}

// ObjectKey names one object of any kind.
type ObjectKey struct {
	GVR       schema.GroupVersionResource
	Namespace string
	Name      string
}

func (k ObjectKey) String() string {
	resource := k.GVR.Resource
	if k.GVR.Group != "" {
		resource += "." + k.GVR.Group
	}
	if k.Namespace == "" {
		return resource + "/" + k.Name
	}
	return resource + "/" + k.Namespace + "/" + k.Name
}

// ListAll lists every object of every kind the API server can list, in each kind's preferred version.
func ListAll(ctx context.Context, config *rest.Config) (map[ObjectKey]*unstructured.Unstructured, error) {
	config = rest.CopyConfig(config)
	config.WarningHandler = rest.NoWarnings{} // deprecated kinds (Endpoints, ComponentStatus) are listed on purpose
	// One LIST per kind of the API, several times a step: client-go's default limit of 5 requests/s
	// would make each call take seconds.
	config.QPS, config.Burst = -1, 0
	disco, err := discovery.NewDiscoveryClientForConfig(config)
	if err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, err
	}
	lists, err := disco.ServerPreferredResources()
	if err != nil {
		return nil, fmt.Errorf("discovering the API: %w", err)
	}
	all := map[ObjectKey]*unstructured.Unstructured{}
	for _, list := range lists {
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			return nil, err
		}
		for _, r := range list.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			items, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{})
			if err != nil {
				return nil, fmt.Errorf("listing %s: %w", gvr, err)
			}
			for i := range items.Items {
				obj := &items.Items[i]
				all[ObjectKey{GVR: gvr, Namespace: obj.GetNamespace(), Name: obj.GetName()}] = obj
			}
		}
	}
	return all, nil
}
