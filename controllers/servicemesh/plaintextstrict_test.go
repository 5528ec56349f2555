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

package servicemesh

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// STRICT as the mesh-wide mode is STRICT somewhere, even when every enrolled namespace is overridden to
// PERMISSIVE: the ingress-nginx controller without its sidecar is named.
func TestMTLSReadyNamesTheControllerUnderAMeshWideStrictMode(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		MTLS: meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSStrict,
			Namespaces: map[string]meshv1alpha1.MTLSMode{"shop": meshv1alpha1.MTLSPermissive}},
		IngressNginx: meshv1alpha1.IngressNginxSpec{Controller: meshv1alpha1.WorkloadReference{
			Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}}
	obs := &observation{generation: 1, spec: spec,
		namespaces: &namespacesObservation{enrolled: sets.New("shop")},
		proxies:    &proxiesObservation{},
		ingresses: &ingressesObservation{enabled: true, controllerApplied: true,
			controller:        policy.PodTemplateDecision{Configured: false},
			controllerRollout: ingress.Rollout{Done: true}}}
	_, controller, ok := plaintextClients(obs)
	if !ok || !controller {
		t.Errorf("plaintextClients: controller without its sidecar = %v (ok %v), want true under mesh-wide STRICT", controller, ok)
	}
}
