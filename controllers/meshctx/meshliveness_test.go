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

package meshctx

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A ServiceMesh being deleted asks for no mesh any more: every controller gives back what it wrote.
func TestLiveIsFalseOnceTheServiceMeshIsBeingDeleted(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if !Live(mesh) {
		t.Error("Live = false for a ServiceMesh that is not being deleted")
	}
	now := metav1.Now()
	mesh.DeletionTimestamp = &now
	if Live(mesh) {
		t.Error("Live = true for a ServiceMesh being deleted")
	}
	if Live(nil) {
		t.Error("Live = true without a ServiceMesh")
	}
}

// Another API group may have a kind named ServiceMesh too: only an owner reference to meshkeeper's
// ServiceMesh makes an object the mesh's.
func TestOwnedByServiceMeshOnlyThroughMeshkeepersGroup(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "now"}}
	obj := &metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
		{APIVersion: "mesh.example.com/v1", Kind: "ServiceMesh", Name: "default", UID: "now"}}}
	if OwnedByServiceMesh(obj, mesh) {
		t.Error("owned through a ServiceMesh of another API group")
	}
	if OwnedByServiceMesh(obj, nil) {
		t.Error("owned through a ServiceMesh of another API group (no ServiceMesh now)")
	}
	obj.OwnerReferences[0].APIVersion = meshv1alpha1.GroupVersion.String()
	if !OwnedByServiceMesh(obj, mesh) {
		t.Error("not owned through meshkeeper's ServiceMesh")
	}
}

// Canary namespaces are served by the canary revision only under RevisionBased: once the spec is back
// to InPlace, a canary the status still reports does not take them.
func TestCanaryTargetOnlyForRevisionBasedUpdates(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateInPlace,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", State: meshv1alpha1.RevisionCanary, Ready: true},
		{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
	}
	if got := CanaryTarget(mesh); got != "" {
		t.Errorf("CanaryTarget = %q under InPlace, want none", got)
	}
	mesh.Spec.UpdateStrategy.Type = meshv1alpha1.UpdateRevisionBased
	if got := CanaryTarget(mesh); got != "1-31-1" {
		t.Errorf("CanaryTarget = %q under RevisionBased, want 1-31-1", got)
	}
}
