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

package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// The cache keeps of a namespace's other field managers exactly the injection labels they own, so that
// the namespace controller tells a label the owner applied as well as meshkeeper from meshkeeper's
// alone without reading around the cache; everything else those managers own is dropped.
func TestNamespaceCacheKeepsTheInjectionLabelsOthersOwn(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(fields)}
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", ManagedFields: []metav1.ManagedFieldsEntry{
		entry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`),
		entry("kustomize-controller", metav1.ManagedFieldsOperationApply,
			`{"f:metadata":{"f:annotations":{"f:big":{}},"f:labels":{"f:istio-injection":{},"f:team":{}}}}`),
		entry("argocd-controller", metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:labels":{"f:istio.io/rev":{}}}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:labels":{"f:owner":{}}}}`),
		entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, `{"f:status":{"f:phase":{}}}`),
	}}}
	out, err := namespaceFields(ns)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*corev1.Namespace)
	var managers []string
	for _, e := range cached.ManagedFields {
		managers = append(managers, e.Manager)
	}
	if want := []string{meshv1alpha1.FieldManager, "kustomize-controller", "argocd-controller"}; !sets.New(managers...).Equal(sets.New(want...)) ||
		len(managers) != len(want) {
		t.Errorf("cached entries of %v, want %v: meshkeeper's, and those of the managers that own an injection label", managers, want)
	}
	if got, want := apply.OthersKeys(cached, "labels"), sets.New("istio-injection", "istio.io/rev"); !got.Equal(want) {
		t.Errorf("other managers' labels in the cache = %v, want %v: only the injection labels they own", sets.List(got), sets.List(want))
	}
	if got := apply.OthersKeys(cached, "annotations"); got.Len() != 0 {
		t.Errorf("other managers' annotations in the cache = %v, want none", sets.List(got))
	}
	if got := apply.OwnedKeys(cached, "labels"); !got.Equal(sets.New("istio-injection")) {
		t.Errorf("meshkeeper's labels in the cache = %v, want its istio-injection", sets.List(got))
	}
}
