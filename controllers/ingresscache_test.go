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
	"fmt"
	"reflect"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	internalpolicy "github.com/meshkeeper/meshkeeper/internal/policy"
)

// The cache keeps of an Ingress's other field managers exactly the annotations meshkeeper writes that
// they own, with their names, so that the Ingress decision tells an annotation the owner applied with
// meshkeeper's value from meshkeeper's alone without reading around the cache; everything else those
// managers own is dropped, and an Ingress none of them shares a key of meshkeeper's with keeps only
// meshkeeper's entries, as before.
func TestIngressCacheKeepsTheAnnotationsOthersShare(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "networking.k8s.io/v1", FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(fields)}
	}
	vhost, upstream := internalpolicy.AnnotationUpstreamVhost, internalpolicy.AnnotationServiceUpstream
	mine := entry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply,
		`{"f:metadata":{"f:annotations":{"f:`+upstream+`":{},"f:`+vhost+`":{}}}}`)
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", ManagedFields: []metav1.ManagedFieldsEntry{
		mine,
		entry("argocd-controller", metav1.ManagedFieldsOperationApply,
			`{"f:metadata":{"f:annotations":{"f:`+vhost+`":{},"f:team":{}},"f:labels":{"f:app":{}}},"f:spec":{"f:defaultBackend":{}}}`),
		entry("helm", metav1.ManagedFieldsOperationApply, `{"f:metadata":{"f:annotations":{"f:`+upstream+`":{},"f:`+vhost+`":{}}}}`),
		entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:annotations":{"f:owner":{}}}}`),
		entry("nginx-ingress-controller", metav1.ManagedFieldsOperationUpdate, `{"f:status":{"f:loadBalancer":{}}}`),
	}}}
	out, err := ingressFields(ing)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*networkingv1.Ingress)
	var managers []string
	for _, e := range cached.ManagedFields {
		managers = append(managers, e.Manager)
	}
	if want := []string{meshv1alpha1.FieldManager, "argocd-controller", "helm"}; !reflect.DeepEqual(managers, want) {
		t.Errorf("cached entries of %v, want %v: meshkeeper's, and those of the managers that own one of its annotations", managers, want)
	}
	want := map[string][]string{vhost: {"argocd-controller", "helm"}, upstream: {"helm"}}
	if got := apply.OthersKeysAt(cached, "metadata", "annotations"); !reflect.DeepEqual(got, want) {
		t.Errorf("other managers' annotations in the cache = %v, want %v: only meshkeeper's annotations they own", got, want)
	}
	if got := apply.OthersKeys(cached, "labels"); got.Len() != 0 {
		t.Errorf("other managers' labels in the cache = %v, want none", sets.List(got))
	}
	if got := apply.OwnedKeys(cached, "annotations"); !got.Equal(sets.New(upstream, vhost)) {
		t.Errorf("meshkeeper's annotations in the cache = %v, want both of its own", sets.List(got))
	}

	// The common Ingress: its creator's entry holds none of meshkeeper's annotations, and is dropped.
	common := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "api", ManagedFields: []metav1.ManagedFieldsEntry{
		entry("kubectl-client-side-apply", metav1.ManagedFieldsOperationUpdate, `{"f:metadata":{"f:annotations":{"f:owner":{}}},"f:spec":{"f:rules":{}}}`),
		mine,
	}}}
	out, err = ingressFields(common)
	if err != nil {
		t.Fatal(err)
	}
	if got := out.(*networkingv1.Ingress).ManagedFields; len(got) != 1 || got[0].Manager != meshv1alpha1.FieldManager {
		t.Errorf("cached entries of the common Ingress = %v, want meshkeeper's alone", got)
	}
}

// TestIngressCacheCutsMeshkeepersOwnEntries: whoever may update an Ingress may write its managed
// fields, an entry in meshkeeper's name among them, up to the API server's limit on an object, and the
// cache holds every Ingress of the cluster. It keeps of meshkeeper's entries the annotations meshkeeper
// writes, all that the decisions read of them, and drops meshkeeper's entries of a subresource, which
// none reads.
func TestIngressCacheCutsMeshkeepersOwnEntries(t *testing.T) {
	vhost, upstream := internalpolicy.AnnotationUpstreamVhost, internalpolicy.AnnotationServiceUpstream
	var forged strings.Builder
	forged.WriteString(`{"f:metadata":{"f:annotations":{`)
	for i := range 20000 {
		fmt.Fprintf(&forged, `"f:filler-%d":{},`, i)
	}
	forged.WriteString(`"f:` + vhost + `":{"f:x":"` + strings.Repeat("y", 1<<20) + `"}}},"f:spec":{"f:rules":{}}}`)
	if forged.Len() < 1<<20 {
		t.Fatalf("the forged entry is %d bytes; want a mebibyte", forged.Len())
	}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", ManagedFields: []metav1.ManagedFieldsEntry{
		{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "networking.k8s.io/v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(forged.String())},
		{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "networking.k8s.io/v1",
			Subresource: "status", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(forged.String())},
	}}}
	out, err := ingressFields(ing)
	if err != nil {
		t.Fatal(err)
	}
	cached := out.(*networkingv1.Ingress)
	size := 0
	for _, e := range cached.ManagedFields {
		size += len(e.FieldsV1.GetRawBytes())
	}
	if len(cached.ManagedFields) != 1 || size > 256 {
		t.Errorf("the cache keeps %d of meshkeeper's entries, %d bytes of fields; want its apply alone, cut to its annotations",
			len(cached.ManagedFields), size)
	}
	if got := apply.OwnedKeys(cached, "annotations"); !got.Equal(sets.New(vhost)) {
		t.Errorf("meshkeeper's annotations in the cache = %v, want %s alone: the one of its own the entry names", sets.List(got), vhost)
	}

	// An entry as meshkeeper's apply leaves it reads the same in the cache.
	applied := metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{"f:` + upstream + `":{},"f:` + vhost + `":{}}}}`)
	ing.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		APIVersion: "networking.k8s.io/v1", FieldsType: "FieldsV1", FieldsV1: applied}}
	if out, err = ingressFields(ing); err != nil {
		t.Fatal(err)
	}
	if got := out.(*networkingv1.Ingress).ManagedFields; len(got) != 1 || string(got[0].FieldsV1.GetRawBytes()) != string(applied.GetRawBytes()) {
		t.Errorf("meshkeeper's entry in the cache = %v, want it as applied", got)
	}
}
