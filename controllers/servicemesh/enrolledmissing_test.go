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

// TestNamespacesEnrolledNamesListedNamespacesThatDoNotExist: a namespace listed in
// spec.injection.namespaces that does not exist is enrolled once it is created, so it does not hold
// NamespacesEnrolled back. But a misspelt name (shpo for shop) would otherwise leave no trace: the
// condition said only how many namespaces are enrolled, and the namespace meant stays out of the mesh
// without a word. The message names the listed namespaces that are not there, and says what happens to
// them and what to check. It also says when spec.injection.namespaceSelector matches no namespace
// (beyond the listed ones, when some are); a selector that matches a namespace of its own gets no such
// note.
func TestNamespacesEnrolledNamesListedNamespacesThatDoNotExist(t *testing.T) {
	tests := map[string]struct {
		listed      []string
		selector    *metav1.LabelSelector
		namespaces  []corev1.Namespace
		wantMessage []string
		wantNot     []string
	}{
		"a misspelt name": {
			listed:     []string{"pay", "shpo"},
			namespaces: []corev1.Namespace{labelledNamespace("pay", nil), labelledNamespace("shop", nil)},
			wantMessage: []string{"1 namespace(s) enrolled",
				"1 namespace(s) listed in spec.injection.namespaces do not exist (or are being deleted): shpo",
				"enrolled once created", "check the names"},
		},
		"every listed namespace exists": {
			listed:      []string{"pay", "shop"},
			namespaces:  []corev1.Namespace{labelledNamespace("pay", nil), labelledNamespace("shop", nil)},
			wantMessage: []string{"2 namespace(s) enrolled"},
			wantNot:     []string{"do not exist"},
		},
		"a selector that matches no namespace": {
			selector:   &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "on"}},
			namespaces: []corev1.Namespace{labelledNamespace("shop", map[string]string{"mesh": "yes"})},
			wantMessage: []string{"0 namespace(s) enrolled",
				"spec.injection.namespaceSelector matches no namespace meshkeeper may enroll"},
		},
		"a selector that matches a namespace": {
			selector:    &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "on"}},
			namespaces:  []corev1.Namespace{labelledNamespace("shop", map[string]string{"mesh": "on"})},
			wantMessage: []string{"1 namespace(s) enrolled"},
			wantNot:     []string{"matches no namespace"},
		},
		// Beside a list, a misspelt label (mesh: enabed for mesh: enabled) would otherwise leave the
		// namespaces meant out of the mesh without a word, the listed ones being enrolled.
		"a selector beside a list that matches only a listed namespace": {
			listed:   []string{"pay"},
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "enabled"}},
			namespaces: []corev1.Namespace{labelledNamespace("pay", map[string]string{"mesh": "enabled"}),
				labelledNamespace("shop", map[string]string{"mesh": "enabed"})},
			wantMessage: []string{"1 namespace(s) enrolled",
				"spec.injection.namespaceSelector matches no namespace meshkeeper may enroll beyond those listed"},
			wantNot: []string{"do not exist"},
		},
		"a selector beside a list that matches a namespace of its own": {
			listed:   []string{"pay"},
			selector: &metav1.LabelSelector{MatchLabels: map[string]string{"mesh": "enabled"}},
			namespaces: []corev1.Namespace{labelledNamespace("pay", nil),
				labelledNamespace("shop", map[string]string{"mesh": "enabled"})},
			wantMessage: []string{"2 namespace(s) enrolled"},
			wantNot:     []string{"matches no namespace", "do not exist"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
			spec.Injection.Namespaces = tc.listed
			spec.Injection.NamespaceSelector = tc.selector
			enrollment, err := policy.NewEnrollment(spec, "")
			if err != nil {
				t.Fatal(err)
			}
			// Every selected namespace already carries meshkeeper's label.
			for i := range tc.namespaces {
				ns := &tc.namespaces[i]
				if d := enrollment.Namespace(ns, nil); d.Enroll {
					key, value := enrollment.LabelFor(ns.Name)
					ns.Labels[key] = value
				}
			}
			obs := testObservation()
			obs.spec = spec
			obs.namespaces = observeNamespaces(tc.namespaces, enrollment, nil, nil)
			st := &meshv1alpha1.ServiceMeshStatus{}
			setNamespacesEnrolled(st, obs)
			c := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionNamespacesEnrolled)
			if c == nil || c.Status != metav1.ConditionTrue || c.Reason != meshv1alpha1.ReasonEnrolled {
				t.Fatalf("NamespacesEnrolled = %+v, want True with %s", c, meshv1alpha1.ReasonEnrolled)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(c.Message, part) {
					t.Errorf("message %q does not contain %q", c.Message, part)
				}
			}
			for _, part := range tc.wantNot {
				if strings.Contains(c.Message, part) {
					t.Errorf("message %q contains %q", c.Message, part)
				}
			}
		})
	}
}

// labelledNamespace is a namespace named name with labels (never nil, so a label can be added).
func labelledNamespace(name string, labels map[string]string) corev1.Namespace {
	if labels == nil {
		labels = map[string]string{}
	}
	return corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
}
