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
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

func TestSetMTLSReady(t *testing.T) {
	spec := func(mode meshv1alpha1.MTLSMode, overrides map[string]meshv1alpha1.MTLSMode) meshv1alpha1.ServiceMeshSpec {
		return meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", MTLS: meshv1alpha1.MTLSSpec{Mode: mode, Namespaces: overrides},
			IngressNginx: meshv1alpha1.IngressNginxSpec{Controller: meshv1alpha1.WorkloadReference{
				Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}}
	}
	enrolled := sets.New("shop", "legacy")
	tests := map[string]struct {
		spec                     meshv1alpha1.ServiceMeshSpec
		withoutSidecar           map[string]int
		controllerWithoutSidecar bool
		// controllerRollingOut: the controller's template has the sidecar, but not all its pods yet.
		controllerRollingOut bool
		want                 metav1.ConditionStatus
		mentions, omits      []string
	}{
		"permissive: plaintext clients are fine": {
			spec(meshv1alpha1.MTLSPermissive, nil), map[string]int{"shop": 3}, true, true, metav1.ConditionTrue, nil, nil,
		},
		"strict mesh, every pod has its sidecar": {
			spec(meshv1alpha1.MTLSStrict, nil), nil, false, false, metav1.ConditionTrue, nil, nil,
		},
		"strict mesh, pods without a sidecar": {
			spec(meshv1alpha1.MTLSStrict, nil), map[string]int{"shop": 3}, false, false, metav1.ConditionFalse,
			[]string{"shop (3 pod(s))"}, []string{"ingress-nginx"},
		},
		"a permissive override covers its namespace": {
			spec(meshv1alpha1.MTLSStrict, map[string]meshv1alpha1.MTLSMode{"legacy": meshv1alpha1.MTLSPermissive}),
			map[string]int{"legacy": 2}, false, false, metav1.ConditionTrue, nil, nil,
		},
		"a strict override in a permissive mesh": {
			spec(meshv1alpha1.MTLSPermissive, map[string]meshv1alpha1.MTLSMode{"shop": meshv1alpha1.MTLSStrict}),
			map[string]int{"shop": 1, "legacy": 4}, false, false, metav1.ConditionFalse, []string{"shop (1 pod(s))"}, []string{"legacy"},
		},
		// True says what it does not judge: it does not claim that no client at all is rejected.
		"pods of a namespace that is not enrolled do not count": {
			spec(meshv1alpha1.MTLSStrict, nil), map[string]int{"outside": 5}, false, false, metav1.ConditionTrue,
			[]string{"opted out of injection", "on the host network", "namespaces outside the mesh, are not judged"}, []string{"no client"},
		},
		"the ingress-nginx controller without its sidecar under strict": {
			spec(meshv1alpha1.MTLSStrict, nil), nil, true, false, metav1.ConditionFalse,
			[]string{"Deployment ingress-nginx/ingress-nginx-controller runs without its sidecar"}, nil,
		},
		// Its template has the sidecar, but pods of the template before still run without one.
		"the ingress-nginx controller rolling out its sidecar under strict": {
			spec(meshv1alpha1.MTLSStrict, nil), nil, false, true, metav1.ConditionFalse,
			[]string{"Deployment ingress-nginx/ingress-nginx-controller runs without its sidecar (or some of its pods still do)"}, nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			recorder := events.NewFakeRecorder(10)
			r := &Reconciler{Recorder: recorder}
			mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 2}, Spec: tc.spec}
			obs := &observation{generation: 2, spec: &mesh.Spec,
				namespaces: &namespacesObservation{enrolled: enrolled},
				proxies:    &proxiesObservation{withoutSidecar: tc.withoutSidecar},
				ingresses: &ingressesObservation{enabled: true, controllerApplied: true,
					controller:        policy.PodTemplateDecision{Configured: !tc.controllerWithoutSidecar},
					controllerRollout: ingress.Rollout{Done: !tc.controllerRollingOut}}}
			status := &meshv1alpha1.ServiceMeshStatus{}
			setMTLSReady(status, obs)
			r.reportMTLS(mesh, status, obs)
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionMTLSReady)
			if c == nil || c.Status != tc.want {
				t.Fatalf("MTLSReady = %+v, want %s", c, tc.want)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q does not name %q", c.Message, m)
				}
			}
			for _, m := range tc.omits {
				if strings.Contains(c.Message, m) {
					t.Errorf("message %q names %q", c.Message, m)
				}
			}
			if warned := len(recorder.Events) > 0; warned != (tc.want == metav1.ConditionFalse) {
				t.Errorf("Warning emitted: %v, want %v", warned, tc.want == metav1.ConditionFalse)
			}
			// The same risk again is not reported twice.
			setMTLSReady(status, obs)
			r.reportMTLS(mesh, status, obs)
			if len(recorder.Events) > 1 {
				t.Errorf("%d Warnings for one unchanged risk", len(recorder.Events))
			}
		})
	}
}
