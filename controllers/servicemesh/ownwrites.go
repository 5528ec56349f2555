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
	"fmt"
	"sync"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ownWrites remembers meshkeeper's own writes of the ServiceMesh (its finalizer, its status) that the
// cache may not show yet: for each, the resource version it wrote over and the object the API server
// answered. A reconcile that starts right after such a write, woken by a change of a chart object,
// reads the ServiceMesh from a cache that is often one write behind; a status computed from that read
// is refused (a conflict) and computed again a moment later. With ownWrites the reconcile works from the
// answer instead. That is safe: while the cache still shows the resource version a write replaced,
// it has seen nothing newer than the write, and the answer is at least as new as anything it holds.
type ownWrites struct {
	mu sync.Mutex
	// after maps the resource version each write replaced to the API server's answer, for the one
	// ServiceMesh last written (its name is fixed; a ServiceMesh created again has another UID).
	after map[string]*meshv1alpha1.ServiceMesh
}

// record remembers a write of the ServiceMesh over resource version over, which the API server
// answered with answer (an object as the client decoded it).
func (w *ownWrites) record(over string, answer *unstructured.Unstructured) error {
	written := &meshv1alpha1.ServiceMesh{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(answer.Object, written); err != nil {
		return fmt.Errorf("reading the answer to a write of ServiceMesh %s: %w", answer.GetName(), err)
	}
	if over == "" || written.ResourceVersion == "" || written.ResourceVersion == over {
		return nil // nothing changed, or nothing to tell the cache's copy by
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.after == nil {
		w.after = map[string]*meshv1alpha1.ServiceMesh{}
	}
	w.after[over] = written
	return nil
}

// freshest returns the newest copy of cached that meshkeeper knows: the answer to its own last write
// when the cache has not seen that write yet, else cached. Once the cache shows a resource version
// meshkeeper did not write over, it has caught up (or someone else wrote since), and what was
// remembered is dropped.
func (w *ownWrites) freshest(cached *meshv1alpha1.ServiceMesh) *meshv1alpha1.ServiceMesh {
	w.mu.Lock()
	defer w.mu.Unlock()
	newest := cached
	for range len(w.after) { // follow a chain of writes, never in a loop
		next, ok := w.after[newest.ResourceVersion]
		if !ok || next.UID != cached.UID {
			break
		}
		newest = next
	}
	if newest == cached {
		w.after = nil
		return cached
	}
	return newest.DeepCopy()
}

// forget drops everything remembered, when the ServiceMesh is gone.
func (w *ownWrites) forget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.after = nil
}
