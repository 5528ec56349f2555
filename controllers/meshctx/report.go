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
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Report carries the last value one controller found to the status pass (and to other controllers
// that decide on it), and wakes them when it changes, so they need not read again what that controller
// has just read.
type Report[T any] struct {
	mu    sync.Mutex
	value T
	set   bool
	// changed has one channel per Source.
	changed []chan event.GenericEvent
}

// NewReport returns a Report that holds nothing yet.
func NewReport[T any]() *Report[T] {
	return &Report[T]{}
}

// Get returns the last value and whether there is one; the zero value for a nil Report.
func (r *Report[T]) Get() (T, bool) {
	if r == nil {
		var zero T
		return zero, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.value, r.set
}

// Value returns the last value; the zero value when there is none.
func (r *Report[T]) Value() T {
	value, _ := r.Get()
	return value
}

// Set stores value, and wakes the status pass when it differs from the last one.
func (r *Report[T]) Set(value T) {
	if r == nil {
		return
	}
	r.mu.Lock()
	changed := !r.set || !equality.Semantic.DeepEqual(r.value, value)
	r.value, r.set = value, true
	subscribers := r.changed
	r.mu.Unlock()
	if !changed {
		return
	}
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	for _, ch := range subscribers {
		select {
		case ch <- event.GenericEvent{Object: mesh}:
		default: // a wake-up is already pending
		}
	}
}

// Source wakes a controller with the ServiceMesh's request whenever the value changes.
func (r *Report[T]) Source() source.Source {
	return r.SourceFor(handler.EnqueueRequestsFromMapFunc(
		func(context.Context, client.Object) []reconcile.Request { return []reconcile.Request{Request} }))
}

// SourceFor wakes a controller through h, with the ServiceMesh as the object, whenever the value
// changes. Each source gets every wake-up.
func (r *Report[T]) SourceFor(h handler.EventHandler) source.Source {
	ch := make(chan event.GenericEvent, 1)
	r.mu.Lock()
	r.changed = append(r.changed, ch)
	r.mu.Unlock()
	return source.Channel(ch, h)
}
