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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// FuzzOwnedKeys feeds the managed-fields parser what any writer of an object may leave in
// metadata.managedFields: it must never panic, and it reads only meshkeeper's entries.
func FuzzOwnedKeys(f *testing.F) {
	f.Add([]byte(`{"f:metadata":{"f:labels":{"f:istio-injection":{},"f:mesh.meshkeeper.io/managed":{}},"f:annotations":{".":{},"f:a":{}}}}`))
	f.Add([]byte(`{"f:spec":{"f:template":{"f:metadata":{"f:annotations":{"f:traffic.sidecar.istio.io/includeOutboundIPRanges":{}}}}}}`))
	f.Add([]byte(`{"f:metadata":{"f:labels":[]}}`))
	f.Add([]byte(`{"f:metadata":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		obj := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(string(raw)),
		}}}
		for _, field := range []string{"labels", "annotations"} {
			owned := OwnedKeys(obj, field)
			if again := OwnedKeys(obj, field); !owned.Equal(again) {
				t.Fatalf("two reads of the same managed fields differ: %v, %v", owned, again)
			}
			_ = OwnedPodTemplateKeys(obj, field)
		}
		// Another manager's entry is never read as meshkeeper's.
		obj.ManagedFields[0].Manager = "kubectl"
		if owned := OwnedKeys(obj, "labels"); owned.Len() != 0 {
			t.Fatalf("keys %v of another manager reported as meshkeeper's", owned)
		}
	})
}
