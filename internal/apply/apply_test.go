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
package apply

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

func TestOwnedKeys(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: subresource,
			FieldsV1: metav1.NewFieldsV1(fields)}
	}
	const labels = `{"f:metadata":{"f:labels":{"f:istio-injection":{},"f:team":{}},"f:annotations":{"f:note":{}}}}`
	tests := map[string]struct {
		entries []metav1.ManagedFieldsEntry
		field   string
		want    sets.Set[string]
	}{
		"meshkeeper's applied labels": {
			[]metav1.ManagedFieldsEntry{entry("meshkeeper", metav1.ManagedFieldsOperationApply, "", labels)},
			"labels", sets.New("istio-injection", "team"),
		},
		"annotations are their own field": {
			[]metav1.ManagedFieldsEntry{entry("meshkeeper", metav1.ManagedFieldsOperationApply, "", labels)},
			"annotations", sets.New("note"),
		},
		"another manager's labels are not meshkeeper's": {
			[]metav1.ManagedFieldsEntry{entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, "", labels)},
			"labels", sets.New[string](),
		},
		"an update under meshkeeper's name is not an apply": {
			[]metav1.ManagedFieldsEntry{entry("meshkeeper", metav1.ManagedFieldsOperationUpdate, "", labels)},
			"labels", sets.New[string](),
		},
		"the status subresource holds no metadata": {
			[]metav1.ManagedFieldsEntry{entry("meshkeeper", metav1.ManagedFieldsOperationApply, "status", labels)},
			"labels", sets.New[string](),
		},
		"no managed fields": {nil, "labels", sets.New[string]()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obj := &metav1.ObjectMeta{ManagedFields: tc.entries}
			if got := OwnedKeys(obj, tc.field); !got.Equal(tc.want) {
				t.Errorf("OwnedKeys = %v, want %v", sets.List(got), sets.List(tc.want))
			}
		})
	}
}

// TestWrittenKeys: a create under meshkeeper's name counts as well as an apply; another manager's key
// (someone adding meshkeeper's label to their own object) and the status subresource do not.
func TestWrittenKeys(t *testing.T) {
	const fields = `{"f:metadata":{"f:labels":{"f:mesh.meshkeeper.io/created-by":{}}}}`
	const other = `{"f:metadata":{"f:labels":{"f:team":{}}}}`
	tests := map[string]struct {
		entries []metav1.ManagedFieldsEntry
		want    sets.Set[string]
	}{
		"created by meshkeeper": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(fields)},
		}, sets.New("mesh.meshkeeper.io/created-by")},
		"applied by meshkeeper": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(fields)},
		}, sets.New("mesh.meshkeeper.io/created-by")},
		"set by another manager": {[]metav1.ManagedFieldsEntry{
			{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(fields)},
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(other)},
		}, sets.New("team")},
		"status subresource": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: metav1.NewFieldsV1(fields)},
		}, sets.New[string]()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := WrittenKeys(&metav1.ObjectMeta{ManagedFields: tc.entries}, "labels"); !got.Equal(tc.want) {
				t.Errorf("WrittenKeys = %v, want %v", sets.List(got), sets.List(tc.want))
			}
		})
	}
}

func TestOwnedPodTemplateKeys(t *testing.T) {
	const fields = `{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:template":{"f:metadata":{` +
		`"f:labels":{"f:sidecar.istio.io/inject":{}},"f:annotations":{"f:proxy.istio.io/config":{}}}}}}`
	obj := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{
		Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(fields),
	}}}
	if got, want := OwnedPodTemplateKeys(obj, "labels"), sets.New("sidecar.istio.io/inject"); !got.Equal(want) {
		t.Errorf("pod template labels = %v, want %v", sets.List(got), sets.List(want))
	}
	if got, want := OwnedPodTemplateKeys(obj, "annotations"), sets.New("proxy.istio.io/config"); !got.Equal(want) {
		t.Errorf("pod template annotations = %v, want %v", sets.List(got), sets.List(want))
	}
	if got, want := OwnedKeys(obj, "labels"), sets.New("app"); !got.Equal(want) {
		t.Errorf("object labels = %v, want %v", sets.List(got), sets.List(want))
	}
}
