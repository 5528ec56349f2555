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

// TestNamespacesEnrolledSaysASelectorBesideAListMatchesNothing: a ServiceMesh that lists namespaces and
// selects more by a label says when the selector matches no namespace beyond the listed ones, as it
// does when nothing is listed: a misspelt label (mesh: enabed for mesh: enabled) otherwise leaves the
// namespaces meant out of the mesh without a word, the listed ones being enrolled. A selector that
// matches a namespace of its own gets no such note.
func TestNamespacesEnrolledSaysASelectorBesideAListMatchesNothing(t *testing.T) {
	for name, tc := range map[string]struct {
		namespaces []corev1.Namespace
		want       bool
	}{
		"the selector matches only a listed namespace": {
			namespaces: []corev1.Namespace{labelledNamespace("pay", map[string]string{"mesh": "enabled"}),
				labelledNamespace("shop", map[string]string{"mesh": "enabed"})},
			want: true,
		},
		"the selector matches a namespace of its own": {
			namespaces: []corev1.Namespace{labelledNamespace("pay", nil),
				labelledNamespace("shop", map[string]string{"mesh": "enabled"})},
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
			spec.Injection.Namespaces = []string{"pay"}
			spec.Injection.NamespaceSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "enabled"}}
			enrollment, err := policy.NewEnrollment(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			for i := range tc.namespaces {
				ns := &tc.namespaces[i]
				if d := enrollment.Namespace(ns, nil); d.Enroll {
					key, value := enrollment.LabelFor(ns.Name)
					ns.Labels[key] = value
				}
			}
			obs := testObservation()
			obs.spec = spec
			obs.namespaces = observeNamespaces(tc.namespaces, enrollment)
			st := &meshv1alpha1.ServiceMeshStatus{}
			setNamespacesEnrolled(st, obs)
			c := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionNamespacesEnrolled)
			if c == nil || c.Status != metav1.ConditionTrue {
				t.Fatalf("NamespacesEnrolled = %+v, want True", c)
			}
			if got := strings.Contains(c.Message, "spec.injection.namespaceSelector matches no namespace"); got != tc.want {
				t.Errorf("message %q: says the selector matches no namespace: %t, want %t", c.Message, got, tc.want)
			}
			if strings.Contains(c.Message, "do not exist") {
				t.Errorf("message %q names a listed namespace that exists", c.Message)
			}
		})
	}
}
