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
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

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

// TestOthersKeys: the keys someone besides meshkeeper's apply owns too, by any operation, meshkeeper's
// own create included; meshkeeper's apply and the status subresource do not count.
func TestOthersKeys(t *testing.T) {
	const injection = `{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`
	const team = `{"f:metadata":{"f:labels":{"f:team":{}}}}`
	tests := map[string]struct {
		entries []metav1.ManagedFieldsEntry
		want    sets.Set[string]
	}{
		"meshkeeper's apply alone": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(injection)},
		}, sets.New[string]()},
		"applied by its owner too": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(injection)},
			{Manager: "argocd-controller", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(injection)},
			{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(team)},
		}, sets.New("istio-injection", "team")},
		"written by meshkeeper's create": {[]metav1.ManagedFieldsEntry{
			{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(injection)},
		}, sets.New("istio-injection")},
		"status subresource": {[]metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: metav1.NewFieldsV1(team)},
		}, sets.New[string]()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := OthersKeys(&metav1.ObjectMeta{ManagedFields: tc.entries}, "labels"); !got.Equal(tc.want) {
				t.Errorf("OthersKeys = %v, want %v", sets.List(got), sets.List(tc.want))
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

// Each entry's keys are parsed once and remembered by content: a caller's set is its own, entries of
// other content or another path are parsed for themselves, and a full memory starts over.
func TestOwnedKeysRemembersEntriesByContent(t *testing.T) {
	object := func(fields string) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "meshkeeper",
			Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(fields)}}}
	}
	const both = `{"f:metadata":{"f:annotations":{"f:a":{},"f:b":{}},"f:labels":{"f:l":{}}}}`
	first := OwnedKeys(object(both), "annotations")
	first.Insert("changed by its caller")
	first.Delete("a")
	if again := OwnedKeys(object(both), "annotations"); !again.Equal(sets.New("a", "b")) {
		t.Errorf("a second object with the same entry owns %v", sets.List(again))
	}
	if labels := OwnedKeys(object(both), "labels"); !labels.Equal(sets.New("l")) {
		t.Errorf("labels of the remembered entry = %v", sets.List(labels))
	}
	if other := OwnedKeys(object(`{"f:metadata":{"f:annotations":{"f:c":{}}}}`), "annotations"); !other.Equal(sets.New("c")) {
		t.Errorf("another entry owns %v", sets.List(other))
	}
	for i := range maxParsedKeys + 10 {
		key := fmt.Sprintf("k%d", i)
		if got := OwnedKeys(object(`{"f:metadata":{"f:labels":{"f:`+key+`":{}}}}`), "labels"); !got.Equal(sets.New(key)) {
			t.Fatalf("entry %d owns %v", i, sets.List(got))
		}
	}
	if n := len(parsed.byPath[fieldPath{"metadata", "labels"}]); n > maxParsedKeys {
		t.Errorf("%d entries remembered", n)
	}
}

func BenchmarkOwnedKeys(b *testing.B) {
	obj := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{"f:nginx.ingress.kubernetes.io/service-upstream":{},"f:nginx.ingress.kubernetes.io/upstream-vhost":{}}}}`)}}}
	b.ReportAllocs()
	for b.Loop() {
		if OwnedKeys(obj, "annotations").Len() != 2 {
			b.Fatal("wrong keys")
		}
	}
}

// AppliedAt is the time of meshkeeper's apply of the object itself: neither an update under its name
// nor its apply of the status subresource.
func TestAppliedAt(t *testing.T) {
	at := func(minute int) *metav1.Time {
		return &metav1.Time{Time: time.Date(2026, 1, 2, 3, minute, 0, 0, time.UTC)}
	}
	tests := map[string]struct {
		entries []metav1.ManagedFieldsEntry
		want    *metav1.Time
	}{
		"meshkeeper's apply": {
			[]metav1.ManagedFieldsEntry{{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, Time: at(1)}},
			at(1),
		},
		"an update under meshkeeper's name is no apply": {
			[]metav1.ManagedFieldsEntry{
				{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(1)},
				{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, Time: at(2)},
			},
			at(2),
		},
		"nor is the apply of the status": {
			[]metav1.ManagedFieldsEntry{
				{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", Time: at(1)},
				{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationApply, Time: at(2)},
			},
			at(2),
		},
		"only others' applies": {
			[]metav1.ManagedFieldsEntry{
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, Time: at(1)},
				{Manager: "meshkeeper", Operation: metav1.ManagedFieldsOperationUpdate, Time: at(2)},
			},
			nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := AppliedAt(&metav1.ObjectMeta{ManagedFields: tc.entries}); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("AppliedAt = %v, want %v", got, tc.want)
			}
		})
	}
}

// An entry without fields owns nothing, and what is remembered of it is not another entry's answer.
func TestOwnedKeysOfAnEntryWithoutFields(t *testing.T) {
	object := func(fields *metav1.FieldsV1) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "meshkeeper",
			Operation: metav1.ManagedFieldsOperationApply, FieldsV1: fields}}}
	}
	if got := OwnedKeys(object(&metav1.FieldsV1{}), "annotations"); got.Len() != 0 {
		t.Errorf("an entry without fields owns %v", sets.List(got))
	}
	if got := OwnedKeys(object(metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{"f:empty-entry-test":{}}}}`)), "annotations"); !got.Equal(sets.New("empty-entry-test")) {
		t.Errorf("an entry after one without fields owns %v", sets.List(got))
	}
}

// The memory of a path never holds more than maxParsedKeys contents.
func TestOwnedKeysRemembersAtMostMaxParsedKeys(t *testing.T) {
	at := fieldPath{"metadata", "annotations"}
	parsed.mu.Lock()
	delete(parsed.byPath, at)
	parsed.mu.Unlock()
	for i := range maxParsedKeys + 1 {
		OwnedKeys(&metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "meshkeeper",
			Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1:  metav1.NewFieldsV1(fmt.Sprintf(`{"f:metadata":{"f:annotations":{"f:bound-%d":{}}}}`, i))}}}, "annotations")
		parsed.mu.RLock()
		n := len(parsed.byPath[at])
		parsed.mu.RUnlock()
		if n > maxParsedKeys {
			t.Fatalf("after %d entries, %d contents remembered", i+1, n)
		}
	}
}

// An entry larger than meshkeeper writes on the objects it labels and annotates by the thousand is read
// as any other, but not remembered: anyone who may update an object may write an entry in meshkeeper's
// name, up to the API server's limit on an object, and the memory would keep a copy of each.
func TestOwnedKeysDoesNotRememberALargeEntry(t *testing.T) {
	at := fieldPath{"metadata", "annotations"}
	parsed.mu.Lock()
	delete(parsed.byPath, at)
	parsed.mu.Unlock()
	large := `{"f:metadata":{"f:annotations":{"f:forged":{"f:x":"` + strings.Repeat("y", 1<<20) + `"}}}}`
	got := OwnedKeys(&metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "meshkeeper",
		Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(large)}}}, "annotations")
	if !got.Equal(sets.New("forged")) {
		t.Errorf("a large entry owns %v", sets.List(got))
	}
	parsed.mu.RLock()
	defer parsed.mu.RUnlock()
	for content := range parsed.byPath[at] {
		if len(content) > maxParsedSize {
			t.Errorf("an entry of %d bytes is remembered; want none over %d", len(content), maxParsedSize)
		}
	}
}

// KeysOnly keeps the keys of the map at path as the API server records them, whatever a set written by
// hand holds under them, and KeysOnlyAt those of several maps in one set.
func TestKeysOnly(t *testing.T) {
	raw := []byte(`{"f:metadata":{"f:annotations":{".":{},"f:a":{"f:x":"` + strings.Repeat("y", 4<<10) + `"},"f:b":{},"f:c":{}},` +
		`"f:labels":{"f:a":{}}},"f:spec":{"f:template":{"f:metadata":{"f:labels":{"f:a":{},"f:d":{}},"f:annotations":{"f:b":{}}}}}}`)
	for _, tc := range []struct {
		got, want string
	}{
		{string(KeysOnly(raw, []string{"a", "b"}, "metadata", "annotations")), `{"f:metadata":{"f:annotations":{"f:a":{},"f:b":{}}}}`},
		{string(KeysOnly(raw, []string{"z"}, "metadata", "annotations")), ``},
		{string(KeysOnlyAt(raw, []string{"a", "b"}, []string{"spec", "template", "metadata", "labels"},
			[]string{"spec", "template", "metadata", "annotations"})),
			`{"f:spec":{"f:template":{"f:metadata":{"f:annotations":{"f:b":{}},"f:labels":{"f:a":{}}}}}}`},
	} {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
