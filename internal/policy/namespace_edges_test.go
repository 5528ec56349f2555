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

package policy

import (
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A canary without a revision names no revision to enroll with: the namespaces it lists keep the
// mesh's own label, not the default revision's.
func TestEnrollmentWithCanaryWithoutRevision(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}}
	e, err := NewEnrollment(spec, "1-30-0")
	if err != nil {
		t.Fatal(err)
	}
	d := e.WithCanary([]string{"shop"}, "").Namespace(namespace("shop", nil), sets.New[string]())
	want := map[string]string{LabelIstioRevision: "1-30-0"}
	if !d.Enroll || len(d.Labels) != 1 || d.Labels[LabelIstioRevision] != "1-30-0" {
		t.Errorf("Namespace() = enroll %v, labels %v; want enroll true, labels %v", d.Enroll, d.Labels, want)
	}
}

// An istio.io/rev label whose value happens to equal istio-injection's "enabled" still names a
// revision the namespace's owner chose: it is a conflict, not meshkeeper's own label.
func TestEnrollmentRevisionLabelNamedLikeInjectionValue(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}}
	e, err := NewEnrollment(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	d := e.Namespace(namespace("shop", map[string]string{LabelIstioRevision: "enabled"}), sets.New[string]())
	if d.Enroll || d.Reason != InjectionLabelConflict || len(d.Labels) != 0 {
		t.Errorf("Namespace() = enroll %v, reason %q, labels %v; want enroll false, reason %q, no labels",
			d.Enroll, d.Reason, d.Labels, InjectionLabelConflict)
	}
}
