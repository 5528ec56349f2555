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
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// namespaceAsServed is a Namespace as the API server gives it after meshkeeper enrolled it: decoded
// from its own bytes, as an informer decodes each object.
func namespaceAsServed(t *testing.T, name string) *corev1.Namespace {
	t.Helper()
	doc := fmt.Sprintf(`{"metadata":{"name":%q,"labels":{"istio-injection":"enabled","team":"shop"},"managedFields":[
		{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"2026-12-02T10:00:00Z","fieldsType":"FieldsV1",
		 "fieldsV1":{"f:metadata":{"f:labels":{"f:team":{}}}}},
		{"manager":"meshkeeper","operation":"Apply","apiVersion":"v1","time":"2026-12-02T10:00:05Z","fieldsType":"FieldsV1",
		 "fieldsV1":{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}}]}}`, name)
	ns := &corev1.Namespace{}
	if err := json.Unmarshal([]byte(doc), ns); err != nil {
		t.Fatal(err)
	}
	return ns
}

// TestCachedObjectsShareTheirManagedFields: two objects meshkeeper wrote alike hold one copy of its
// entry's FieldsV1, API version and time in the cache, and read the same as before.
func TestCachedObjectsShareTheirManagedFields(t *testing.T) {
	a, b := namespaceAsServed(t, "shop"), namespaceAsServed(t, "cart")
	wantEntry := b.ManagedFields[1]
	wantEntry.FieldsV1 = wantEntry.FieldsV1.DeepCopy()
	for _, ns := range []*corev1.Namespace{a, b} {
		if _, err := keepOwnManagedFields(ns); err != nil {
			t.Fatal(err)
		}
	}
	if len(a.ManagedFields) != 1 || len(b.ManagedFields) != 1 {
		t.Fatalf("entries kept: %+v and %+v, want meshkeeper's only", a.ManagedFields, b.ManagedFields)
	}
	ea, eb := a.ManagedFields[0], b.ManagedFields[0]
	if ea.FieldsV1 != eb.FieldsV1 {
		t.Error("the two Namespaces hold two copies of the same FieldsV1")
	}
	if ea.Time != eb.Time {
		t.Error("the two Namespaces hold two copies of the same time")
	}
	if !equality.Semantic.DeepEqual(eb, wantEntry) {
		t.Errorf("entry in the cache:\n got %+v\nwant %+v", eb, wantEntry)
	}
	if got, want := apply.OwnedKeys(b, "labels"), sets.New("istio-injection"); !got.Equal(want) {
		t.Errorf("OwnedKeys = %v, want %v", sets.List(got), sets.List(want))
	}
}

func TestManagedFieldsTableBounds(t *testing.T) {
	table := &managedFieldsTable{}
	entry := func(raw string) *metav1.ManagedFieldsEntry {
		return &metav1.ManagedFieldsEntry{Manager: meshv1alpha1.FieldManager, APIVersion: "v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(raw)}
	}
	// A FieldsV1 larger than maxSharedFieldsSize is left as it is.
	large := `{"f:metadata":{"f:annotations":{"f:` + strings.Repeat("x", maxSharedFieldsSize) + `":{}}}}`
	first, second := entry(large), entry(large)
	table.share(first)
	table.share(second)
	if first.FieldsV1 == second.FieldsV1 || len(table.fields) != 0 {
		t.Errorf("a FieldsV1 of %d bytes was shared", len(large))
	}
	// Once the table is full, a new FieldsV1 is kept as it comes, and those shared stay shared.
	for i := range maxSharedFields + 10 {
		table.share(entry(fmt.Sprintf(`{"f:metadata":{"f:labels":{"f:k%d":{}}}}`, i)))
	}
	if len(table.fields) != maxSharedFields {
		t.Errorf("the table holds %d FieldsV1, want at most %d", len(table.fields), maxSharedFields)
	}
	late, again := entry(`{"f:metadata":{"f:labels":{"f:late":{}}}}`), entry(`{"f:metadata":{"f:labels":{"f:late":{}}}}`)
	table.share(late)
	table.share(again)
	if late.FieldsV1 == again.FieldsV1 {
		t.Error("a full table took one more FieldsV1")
	}
	early := entry(`{"f:metadata":{"f:labels":{"f:k0":{}}}}`)
	table.share(early)
	if early.FieldsV1 != table.fields[early.FieldsV1.GetRawString()] {
		t.Error("a FieldsV1 the table holds was not shared")
	}
}

// TestManagedFieldsTableConcurrent: informers transform their objects on goroutines of their own.
func TestManagedFieldsTableConcurrent(t *testing.T) {
	table := &managedFieldsTable{}
	var wg sync.WaitGroup
	entries := make([]*metav1.ManagedFieldsEntry, 8)
	for i := range entries {
		entries[i] = &metav1.ManagedFieldsEntry{Manager: meshv1alpha1.FieldManager, APIVersion: "networking.k8s.io/v1",
			Time: &metav1.Time{}, FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{}}`)}
		wg.Go(func() { table.share(entries[i]) })
	}
	wg.Wait()
	for _, e := range entries[1:] {
		if e.FieldsV1 != entries[0].FieldsV1 {
			t.Fatal("entries with the same FieldsV1 hold copies of their own")
		}
	}
}
