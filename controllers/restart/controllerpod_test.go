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

package restart

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The ingress-nginx controller's namespace is not enrolled: only Istio's object-selector webhook can
// inject its pods, and it matches the pod label sidecar.istio.io/inject with "true" alone (operator In,
// values ["true"]). A template labelled "yes", which the injector would read as asking for a sidecar
// in an enrolled namespace, gets none there: restarting the controller, the gateway of the traffic
// into the mesh, would roll its pods for nothing.
func TestControllerPodAsTheObjectSelectorMatchesIt(t *testing.T) {
	ref := &meshv1alpha1.WorkloadReference{Kind: "Deployment", Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}
	for label, want := range map[string]bool{"true": true, "yes": false, "True": false, "on": false, "false": false, "": false} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ref.Namespace, Name: ref.Name}}
		d.Spec.Template.Labels = map[string]string{policy.SidecarInject: label}
		if got := controllerPod(ref, &workload{kind: "Deployment", obj: d}); got != want {
			t.Errorf("controllerPod with label %s=%q = %t, want %t", policy.SidecarInject, label, got, want)
		}
	}
}
