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
	"sync"
	"sync/atomic"

	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// Refusal is the API server's refusal of meshkeeper's last write of an object's labels or annotations.
type Refusal struct {
	// Releasing tells whether the write took meshkeeper's labels or annotations back rather than put
	// them on.
	Releasing bool
	// Answer is the API server's answer.
	Answer string
}

// Refusals holds, per object (its key), the refusal of meshkeeper's last write, as the controller that
// writes it warns about it (RefusedWrites: a refusal, or a failure only of the API server's making from
// the second in a row on); an object is dropped once a write of it goes through, it needs none, or it
// is gone. The writing controller records them; the ServiceMesh's status pass reads them (Of), and is
// woken by each change (SourceFor): a refusal changes nothing in the cluster, so no watch would. Safe
// for concurrent use; a nil Refusals holds nothing.
type Refusals struct {
	refusals sync.Map // key → Refusal
	// changes counts the changes of what refusals holds; changed carries the count to the status pass.
	changes atomic.Uint64
	changed Report[uint64]
}

// NewRefusals returns Refusals that hold none.
func NewRefusals() *Refusals {
	return &Refusals{}
}

// Of returns the refusal recorded for the object at key, and whether there is one.
func (r *Refusals) Of(key string) (Refusal, bool) {
	if r == nil {
		return Refusal{}, false
	}
	v, ok := r.refusals.Load(key)
	if !ok {
		return Refusal{}, false
	}
	return v.(Refusal), true
}

// SourceFor wakes a controller through h, with the ServiceMesh as the object, whenever a refusal is
// recorded, changes or is dropped.
func (r *Refusals) SourceFor(h handler.EventHandler) source.Source {
	return r.changed.SourceFor(h)
}

// Set records refusal for the object at key.
func (r *Refusals) Set(key string, refusal Refusal) {
	if r == nil {
		return
	}
	if previous, loaded := r.refusals.Swap(key, refusal); !loaded || previous.(Refusal) != refusal {
		r.changed.Set(r.changes.Add(1))
	}
}

// Forget drops the refusal of the object at key.
func (r *Refusals) Forget(key string) {
	if r == nil {
		return
	}
	if _, loaded := r.refusals.LoadAndDelete(key); loaded {
		r.changed.Set(r.changes.Add(1))
	}
}
