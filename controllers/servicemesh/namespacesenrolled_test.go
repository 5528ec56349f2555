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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestNamespacesEnrolledNamesEveryKindLeftOut: NamespacesEnrolled's reason is the first kind of
// namespace left out, and its message names every kind: a conflict in one namespace hid another whose
// Pod Security level rejects the pods injection adds, which the status then named nowhere.
func TestNamespacesEnrolledNamesEveryKindLeftOut(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.CNI.Enabled = ptr.To(false)
	mesh.Spec.CNI.ExcludeNamespaces = []string{"legacy"}
	mesh.Spec.Injection.Namespaces = []string{"theirs", "strict"}
	mesh.Status.Version = "1.31.1"
	namespaces := []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Labels: map[string]string{"istio-injection": "disabled"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "strict", Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}},
	}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	status := &meshv1alpha1.ServiceMeshStatus{}
	setNamespacesEnrolled(status, &observation{namespaces: observeNamespaces(namespaces, enrollment, nil, nil)})
	if len(status.Conditions) != 1 {
		t.Fatalf("conditions %+v", status.Conditions)
	}
	c := status.Conditions[0]
	if c.Reason != meshv1alpha1.ReasonInjectionLabelConflict {
		t.Errorf("reason %s, want %s", c.Reason, meshv1alpha1.ReasonInjectionLabelConflict)
	}
	for _, want := range []string{"keep their own injection label and are not enrolled: theirs", "enforce a Pod Security level (baseline or restricted)",
		"are not enrolled: strict"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("the message does not say %q: %s", want, c.Message)
		}
	}
}

// TestNamespacesEnrolledNamesRefusedWrites: a namespace whose label write the API server refuses, as
// the namespace controller records it, is named under NamespaceWriteRefused with the API server's
// answer, not counted among those being enrolled: one the spec selects that lacks the label, and one it
// no longer selects that keeps meshkeeper's. A refusal left over for a namespace that carries the label
// counts for nothing.
func TestNamespacesEnrolledNamesRefusedWrites(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.Injection.Namespaces = []string{"tenant", "shop", "web"}
	mesh.Status.Version = "1.31.1"
	meshkeepers := []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`)}}
	namespaces := []corev1.Namespace{
		{ObjectMeta: metav1.ObjectMeta{Name: "tenant"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "shop"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: map[string]string{"istio-injection": "enabled"}, ManagedFields: meshkeepers}},
		{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: map[string]string{"istio-injection": "enabled"}, ManagedFields: meshkeepers}},
	}
	refusals := meshctx.NewRefusals()
	refusals.Set("tenant", meshctx.Refusal{Answer: "istio-injection is forbidden on tenant namespaces"})
	refusals.Set("old", meshctx.Refusal{Releasing: true, Answer: "istio-injection is required"})
	refusals.Set("web", meshctx.Refusal{Answer: "a refusal the write that followed got past"})
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	status := &meshv1alpha1.ServiceMeshStatus{}
	setNamespacesEnrolled(status, &observation{namespaces: observeNamespaces(namespaces, enrollment, nil, refusals)})
	if len(status.Conditions) != 1 {
		t.Fatalf("conditions %+v", status.Conditions)
	}
	c := status.Conditions[0]
	if c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonNamespaceWriteRefused {
		t.Errorf("NamespacesEnrolled %s/%s, want False/%s: %s", c.Status, c.Reason, meshv1alpha1.ReasonNamespaceWriteRefused, c.Message)
	}
	for _, want := range []string{"(putting it on or taking it back) of 2 namespace(s): old, tenant;",
		"for old answers: istio-injection is required", "allow meshkeeper's change"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("the message does not say %q: %s", want, c.Message)
		}
	}
	if status.Namespaces.Enrolled != 1 {
		t.Errorf("status.namespaces.enrolled %d, want 1 (web)", status.Namespaces.Enrolled)
	}
}
