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
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// managedFieldsTable shares the parts of cached managed-fields entries that thousands of objects hold
// alike. meshkeeper applies the same keys to every Ingress and every Namespace it enrolls, so their
// entries carry the same FieldsV1 (about 150 bytes), API version and, for the writes of one second, the
// same time; the decoder gives each object copies of its own. The cache's objects are read, never
// changed in place, so one copy can serve them all.
type managedFieldsTable struct {
	mu sync.Mutex
	// fields are the FieldsV1 shared, by their content; strings the API versions. Both are bounded:
	// once full, further values are kept as they come.
	fields  map[string]*metav1.FieldsV1
	strings map[string]string
	// time is the last time shared: the writes of a burst carry the same second.
	time *metav1.Time
}

const (
	// maxSharedFields bounds the table; meshkeeper's entries differ by kind and by what it applies,
	// a few dozen in all.
	maxSharedFields = 256
	// maxSharedFieldsSize is the largest FieldsV1 shared: meshkeeper's entries on the objects it
	// annotates and labels are far smaller; the charts' objects, with large entries, are few.
	maxSharedFieldsSize = 2 << 10
)

var sharedManagedFields = &managedFieldsTable{}

// share makes entry use the table's copies of its strings, FieldsV1 and time where the table has them
// or takes them.
func (t *managedFieldsTable) share(entry *metav1.ManagedFieldsEntry) {
	// The constants the API server writes: no allocation of the object's own.
	if entry.Manager == meshv1alpha1.FieldManager {
		entry.Manager = meshv1alpha1.FieldManager
	}
	switch entry.Operation {
	case metav1.ManagedFieldsOperationApply:
		entry.Operation = metav1.ManagedFieldsOperationApply
	case metav1.ManagedFieldsOperationUpdate:
		entry.Operation = metav1.ManagedFieldsOperationUpdate
	}
	if entry.FieldsType == fieldsV1Type {
		entry.FieldsType = fieldsV1Type
	}

	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fields == nil {
		t.fields, t.strings = map[string]*metav1.FieldsV1{}, map[string]string{}
	}
	if s, ok := t.strings[entry.APIVersion]; ok {
		entry.APIVersion = s
	} else if len(t.strings) < maxSharedFields {
		t.strings[entry.APIVersion] = entry.APIVersion
	}
	if raw := entry.FieldsV1.GetRawBytes(); len(raw) > 0 && len(raw) <= maxSharedFieldsSize {
		if shared, ok := t.fields[string(raw)]; ok {
			entry.FieldsV1 = shared
		} else if len(t.fields) < maxSharedFields {
			t.fields[string(raw)] = entry.FieldsV1
		}
	}
	if entry.Time != nil {
		if t.time != nil && t.time.Equal(entry.Time) {
			entry.Time = t.time
		} else {
			t.time = entry.Time
		}
	}
}

const fieldsV1Type = "FieldsV1"
