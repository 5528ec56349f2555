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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestNamespacesEnrolledWaitsForANamespaceToLoseMeshkeepersLabel: a namespace the spec no longer
// selects that still carries meshkeeper's injection label (its removal not written yet, or retried
// after a failure) still has its new pods injected: NamespacesEnrolled is not True, and so neither is
// Ready, until the label is gone. NamespacesEnrolled was True, Ready with it, while the label was still
// on. A label another field manager keeps as well stays when meshkeeper gives up its share, and holds
// nothing back; nor does a namespace being deleted.
func TestNamespacesEnrolledWaitsForANamespaceToLoseMeshkeepersLabel(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.Injection.Namespaces = []string{"web"}
	mesh.Status.Version = "1.31.1"
	meshkeepers := metav1.ManagedFieldsEntry{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`)}
	theirs := metav1.ManagedFieldsEntry{Manager: "argocd-controller", Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`)}
	injection := map[string]string{"istio-injection": "enabled"}
	web := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web", Labels: injection, ManagedFields: []metav1.ManagedFieldsEntry{meshkeepers}}}
	old := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "old", Labels: injection, ManagedFields: []metav1.ManagedFieldsEntry{meshkeepers}}}
	shared := corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shared", Labels: injection,
		ManagedFields: []metav1.ManagedFieldsEntry{meshkeepers, theirs}}}
	deleted := *old.DeepCopy()
	deleted.Name, deleted.DeletionTimestamp = "deleted", &metav1.Time{}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	judge := func(namespaces ...corev1.Namespace) metav1.Condition {
		t.Helper()
		status := &meshv1alpha1.ServiceMeshStatus{}
		setNamespacesEnrolled(status, &observation{namespaces: observeNamespaces(namespaces, enrollment, nil, nil)})
		if len(status.Conditions) != 1 {
			t.Fatalf("conditions %+v", status.Conditions)
		}
		if status.Namespaces.Enrolled != 1 {
			t.Errorf("status.namespaces.enrolled %d, want 1 (web)", status.Namespaces.Enrolled)
		}
		return status.Conditions[0]
	}
	c := judge(web, old, shared, deleted)
	if c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonReconciling {
		t.Errorf("NamespacesEnrolled %s/%s, want False/%s while namespace old keeps meshkeeper's label: %s",
			c.Status, c.Reason, meshv1alpha1.ReasonReconciling, c.Message)
	}
	if want := "1 namespace(s) no longer selected still carry meshkeeper's injection label, being taken back: old"; !strings.Contains(c.Message, want) {
		t.Errorf("the message does not say %q: %s", want, c.Message)
	}
	if c := judge(web, shared, deleted); c.Status != metav1.ConditionTrue {
		t.Errorf("NamespacesEnrolled %s/%s, want True once old lost the label: %s", c.Status, c.Reason, c.Message)
	}
}
