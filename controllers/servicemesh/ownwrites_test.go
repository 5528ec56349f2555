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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func meshAt(uid types.UID, version string, observed int64) *meshv1alpha1.ServiceMesh {
	return &meshv1alpha1.ServiceMesh{
		ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName, UID: uid, ResourceVersion: version},
		Status:     meshv1alpha1.ServiceMeshStatus{ObservedGeneration: observed},
	}
}

func answer(t *testing.T, uid types.UID, version string, observed int64) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "ServiceMesh",
		"metadata": map[string]any{"name": meshv1alpha1.ServiceMeshName, "uid": string(uid), "resourceVersion": version},
		"status":   map[string]any{"observedGeneration": observed},
	}}
	return u
}

// TestOwnWrites: a read at a resource version meshkeeper wrote over gives the answer to that write
// (following a finalizer write and then a status write), a read at any other version gives the read and
// forgets the writes, and another ServiceMesh of the same name is never given the first one's answer.
func TestOwnWrites(t *testing.T) {
	var w ownWrites
	if err := w.record("1", answer(t, "a", "2", 0)); err != nil { // the finalizer
		t.Fatal(err)
	}
	if err := w.record("2", answer(t, "a", "3", 1)); err != nil { // the status
		t.Fatal(err)
	}
	for _, behind := range []string{"1", "2"} {
		got := w.freshest(meshAt("a", behind, 0))
		if got.ResourceVersion != "3" || got.Status.ObservedGeneration != 1 {
			t.Errorf("read at %s: got version %s, observedGeneration %d; want the status write's answer", behind, got.ResourceVersion, got.Status.ObservedGeneration)
		}
	}
	if got := w.freshest(meshAt("b", "1", 0)); got.UID != "b" || got.ResourceVersion != "1" {
		t.Errorf("another ServiceMesh got %s@%s, want its own read", got.UID, got.ResourceVersion)
	}
	// The UID mismatch above dropped the writes as a read past them does.
	if got := w.freshest(meshAt("a", "2", 0)); got.ResourceVersion != "2" {
		t.Errorf("after the cache moved on, a read at 2 gave %s, want the read", got.ResourceVersion)
	}
	// A write that changed nothing (an apply that left the resource version) is not remembered.
	if err := w.record("5", answer(t, "a", "5", 1)); err != nil {
		t.Fatal(err)
	}
	if len(w.after) != 0 {
		t.Errorf("remembered a write that changed nothing: %v", w.after)
	}
}
