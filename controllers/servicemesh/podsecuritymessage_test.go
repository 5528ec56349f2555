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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestPodSecurityMessageNamesTheLevelsThatReject: NamespacesEnrolled's PodSecurityRejectsSidecar names
// the Pod Security levels that really reject what injection adds. Without the CNI agent, istio-init needs
// NET_ADMIN and NET_RAW, which baseline and restricted both reject. A sidecar that spec.values has run as
// root (global.proxy.capNetBindService) is rejected by restricted only: baseline allows NET_BIND_SERVICE
// and root. Saying that baseline rejects it would send the owner of a baseline namespace to change a
// label that is not in the way.
func TestPodSecurityMessageNamesTheLevelsThatReject(t *testing.T) {
	const rootSidecar = `{"global": {"proxy": {"capNetBindService": true}}}`
	tests := map[string]struct {
		cniOff bool
		values string
		// namespaces are the selected namespaces with the level each enforces.
		namespaces     map[string]string
		wantRejected   []string
		wantMessage    []string
		wantNotMessage []string
	}{
		"istio-init is rejected by both levels": {
			cniOff:       true,
			namespaces:   map[string]string{"shop": "baseline", "bank": "restricted"},
			wantRejected: []string{"bank", "shop"},
			wantMessage: []string{"2 namespace(s) the spec selects enforce a Pod Security level (baseline or restricted) that rejects the istio-init container",
				"bank, shop", "turn on CNI"},
		},
		"a sidecar that runs as root is rejected by restricted only": {
			values:       rootSidecar,
			namespaces:   map[string]string{"shop": "baseline", "bank": "restricted"},
			wantRejected: []string{"bank"},
			wantMessage: []string{"1 namespace(s) the spec selects enforce the Pod Security level restricted (or a level the API server " +
				"does not know, which it enforces as restricted), which rejects the sidecar that spec.values asks for (global.proxy.capNetBindService: true), which runs as root",
				"not enrolled: bank", "remove global.proxy.capNetBindService: true from spec.values"},
			wantNotMessage: []string{"baseline"},
		},
		"a sidecar without a seccomp profile is rejected by restricted only": {
			values:       `{"global": {"proxy": {"seccompProfile": null}}}`,
			namespaces:   map[string]string{"shop": "baseline", "bank": "restricted"},
			wantRejected: []string{"bank"},
			wantMessage: []string{"1 namespace(s) the spec selects enforce the Pod Security level restricted (or a level the API server " +
				"does not know, which it enforces as restricted), which rejects the sidecar that spec.values asks for (global.proxy.seccompProfile: null), whose containers have no seccomp profile",
				"not enrolled: bank", "remove global.proxy.seccompProfile: null from spec.values"},
			wantNotMessage: []string{"baseline"},
		},
		"istio-init and a sidecar that runs as root: baseline rejects only istio-init": {
			cniOff:       true,
			values:       rootSidecar,
			namespaces:   map[string]string{"shop": "baseline", "bank": "restricted"},
			wantRejected: []string{"bank", "shop"},
			wantMessage: []string{"restricted rejects the istio-init container",
				"and baseline only the istio-init container that injection adds without the CNI agent (it needs NET_ADMIN and NET_RAW)",
				"where baseline is enforced, it is enough to turn on CNI"},
			wantNotMessage: []string{"(baseline or restricted)"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
			if tc.cniOff {
				spec.CNI.Enabled = new(bool)
			}
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{}
				if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
					t.Fatal(err)
				}
			}
			var namespaces []corev1.Namespace
			for ns, level := range tc.namespaces {
				spec.Injection.Namespaces = append(spec.Injection.Namespaces, ns)
				namespaces = append(namespaces, corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
					Labels: map[string]string{policy.LabelPodSecurityEnforce: level}}})
			}
			enrollment, err := policy.NewEnrollment(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			obs := testObservation()
			obs.spec = spec
			obs.namespaces = observeNamespaces(namespaces, enrollment, nil, nil)
			st := &meshv1alpha1.ServiceMeshStatus{}
			setNamespacesEnrolled(st, obs)
			c := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionNamespacesEnrolled)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonPodSecurityRejectsSidecar {
				t.Fatalf("NamespacesEnrolled = %+v, want False with %s", c, meshv1alpha1.ReasonPodSecurityRejectsSidecar)
			}
			if got := names(obs.namespaces.podSecurity); got != strings.Join(tc.wantRejected, ", ") {
				t.Errorf("namespaces not enrolled for their Pod Security level: %s, want %s", got, strings.Join(tc.wantRejected, ", "))
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(c.Message, part) {
					t.Errorf("message %q does not contain %q", c.Message, part)
				}
			}
			for _, part := range tc.wantNotMessage {
				if strings.Contains(c.Message, part) {
					t.Errorf("message %q contains %q", c.Message, part)
				}
			}
		})
	}
}
