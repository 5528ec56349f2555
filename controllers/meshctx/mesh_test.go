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
	"context"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestGenerated(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "now"}}
	label := map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}
	owner := func(name string, uid types.UID) []metav1.OwnerReference {
		return []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: name, UID: uid}}
	}
	applied := func(manager string, op metav1.ManagedFieldsOperationType) []metav1.ManagedFieldsEntry {
		return []metav1.ManagedFieldsEntry{{Manager: manager, Operation: op}}
	}
	cases := map[string]struct {
		labels   map[string]string
		owners   []metav1.OwnerReference
		managers []metav1.ManagedFieldsEntry
		mesh     *meshv1alpha1.ServiceMesh
		want     bool
	}{
		"written for this ServiceMesh":            {label, owner("default", "now"), applied("meshkeeper", metav1.ManagedFieldsOperationApply), mesh, true},
		"left by an earlier ServiceMesh":          {label, owner("default", "gone"), applied("meshkeeper", metav1.ManagedFieldsOperationApply), mesh, true},
		"left by one when there is none now":      {label, owner("default", "gone"), applied("meshkeeper", metav1.ManagedFieldsOperationApply), nil, true},
		"a user's object with meshkeeper's label": {label, nil, applied("kubectl", metav1.ManagedFieldsOperationUpdate), mesh, false},
		"the label and meshkeeper's field manager, but no owner": {label, nil,
			applied("meshkeeper", metav1.ManagedFieldsOperationApply), mesh, false},
		"an owner reference a user copied, without meshkeeper's field manager": {label, owner("default", "now"),
			applied("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate), mesh, false},
		"owned by another kind's object": {label, []metav1.OwnerReference{{APIVersion: "v1", Kind: "ConfigMap", Name: "default", UID: "now"}},
			applied("meshkeeper", metav1.ManagedFieldsOperationApply), mesh, false},
		"meshkeeper's owner and manager, without the label": {nil, owner("default", "now"),
			applied("meshkeeper", metav1.ManagedFieldsOperationApply), mesh, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &metav1.ObjectMeta{Labels: tc.labels, OwnerReferences: tc.owners, ManagedFields: tc.managers}
			if got := Generated(obj, tc.mesh); got != tc.want {
				t.Errorf("Generated = %v, want %v", got, tc.want)
			}
		})
	}
}

// cacheReader answers as the manager's cache does: the cached ServiceMesh itself when asked not to
// copy it, a deep copy otherwise.
type cacheReader struct {
	client.Reader
	cached *meshv1alpha1.ServiceMesh
}

func (c cacheReader) Get(_ context.Context, _ client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	o := client.GetOptions{}
	o.ApplyOptions(opts)
	if o.UnsafeDisableDeepCopy != nil && *o.UnsafeDisableDeepCopy {
		*obj.(*meshv1alpha1.ServiceMesh) = *c.cached
		return nil
	}
	*obj.(*meshv1alpha1.ServiceMesh) = *c.cached.DeepCopy()
	return nil
}

// TestGetSharesTheCachedServiceMesh: the readers of every Namespace and Ingress reconcile share the
// cached ServiceMesh, and only GetCopy's caller may change what it read.
func TestGetSharesTheCachedServiceMesh(t *testing.T) {
	cached := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
		Status: meshv1alpha1.ServiceMeshStatus{Conditions: []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue}}}}
	c := cacheReader{cached: cached}
	shared, err := Get(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if &shared.Status.Conditions[0] != &cached.Status.Conditions[0] {
		t.Error("Get copied the cached ServiceMesh")
	}
	own, err := GetCopy(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	own.Status.Conditions[0].Status = metav1.ConditionFalse
	if cached.Status.Conditions[0].Status != metav1.ConditionTrue {
		t.Error("a change to GetCopy's ServiceMesh reached the cache")
	}
}
