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
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// How often KindsServed asks discovery for its kinds after it was kicked: every discoveryInterval for
// discoveryTimeout, then every slowInterval until they are served.
const (
	discoveryInterval = 50 * time.Millisecond
	discoveryTimeout  = time.Minute
	slowInterval      = 10 * time.Second
)

// mapper is what KindsServed needs of a meta.RESTMapper.
type mapper interface {
	RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error)
}

// KindsServed closes the gap between the CRDs of kinds meshkeeper installs itself (the Istio policy
// kinds) becoming Established and discovery serving the kinds. The API server adds a CRD's kind to
// discovery only after it marked the CRD Established, so the CRD's last event often comes before the kind
// can be mapped, and nothing else would bring back a reconcile that found the kinds not served. After
// each kick it asks the REST mapper (which re-reads discovery on every miss) until every kind is served,
// then sends one event to each of its sources. A single runnable does this for every controller and
// object that waits, so a thousand namespaces do not each poll.
//
// Kick is for a change of one of the CRDs: when the kinds are served by then, the CRD's own event is
// left to bring its watchers back. Await is for a reconcile that found the kinds not served: its
// sources hear once they are, even when that is already the case by the time the runnable looks.
type KindsServed struct {
	mapper  mapper
	kinds   []schema.GroupVersionKind
	kick    chan struct{}
	awaited atomic.Bool
	// late is set while a CRD changed but its kind has not been served within discoveryTimeout (a CRD
	// that is not Established, or removed, say): the kinds are then asked for every slowInterval, and an
	// Await waits for that instead of asking every discoveryInterval again.
	late     atomic.Bool
	mu       sync.Mutex
	sources  []chan event.GenericEvent
	onServed []func()
	// interval, timeout and slow are discoveryInterval, discoveryTimeout and slowInterval.
	interval, timeout, slow time.Duration
}

// NewKindsServed returns the wait for kinds, on discovery as m maps it.
func NewKindsServed(m mapper, kinds []schema.GroupVersionKind) *KindsServed {
	return &KindsServed{
		mapper:   m,
		kinds:    kinds,
		kick:     make(chan struct{}, 1),
		interval: discoveryInterval,
		timeout:  discoveryTimeout,
		slow:     slowInterval,
	}
}

// Source is a source of one event, for h, each time the kinds come to be served after a kick or an
// Await. Every Source is made before the manager starts.
func (d *KindsServed) Source(h handler.EventHandler) source.Source {
	events := make(chan event.GenericEvent)
	d.mu.Lock()
	d.sources = append(d.sources, events)
	d.mu.Unlock()
	return source.Channel(events, h)
}

// OnServed has f called each time the kinds come to be served after a kick or an Await, before any
// source hears of it. Every OnServed is called before the manager starts.
func (d *KindsServed) OnServed(f func()) {
	d.mu.Lock()
	d.onServed = append(d.onServed, f)
	d.mu.Unlock()
}

// Kick makes the runnable wait for discovery to serve the kinds; kicks while it waits are one.
func (d *KindsServed) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Await is Kick for a reconcile that found the kinds not served: the sources hear once they are, even if
// they are by the time the runnable looks.
func (d *KindsServed) Await() {
	d.awaited.Store(true)
	if !d.late.Load() {
		d.Kick()
	}
}

// Start waits for kicks until ctx ends. It implements manager.Runnable.
func (d *KindsServed) Start(ctx context.Context) error {
	log := ctrl.LoggerFrom(ctx).WithName("kinds-served")
	for {
		var slow <-chan time.Time
		if d.late.Load() {
			slow = time.After(d.slow)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-d.kick:
		case <-slow:
		}
		if d.allServed() {
			// Otherwise already mapped when a CRD changed: the CRD's own event brought its watchers back.
			if wasLate, awaited := d.late.Swap(false), d.awaited.Swap(false); wasLate || awaited {
				if !d.send(ctx) {
					return nil
				}
			}
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, d.interval, d.timeout, false, func(context.Context) (bool, error) {
			return d.allServed(), nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			if !d.late.Load() {
				log.Info("Kinds of the Istio CRDs are not served yet; asking again every "+d.slow.String(), "waited", d.timeout)
			}
			d.late.Store(true)
			continue
		}
		d.late.Store(false)
		d.awaited.Store(false)
		if !d.send(ctx) {
			return nil
		}
	}
}

// send sends one event to every source; it is false when ctx ended first.
func (d *KindsServed) send(ctx context.Context) bool {
	d.mu.Lock()
	sources, onServed := d.sources, d.onServed
	d.mu.Unlock()
	for _, f := range onServed {
		f()
	}
	for _, events := range sources {
		select {
		case events <- event.GenericEvent{Object: &corev1.Namespace{}}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// allServed tells whether the REST mapper maps every kind.
func (d *KindsServed) allServed() bool {
	for _, gvk := range d.kinds {
		if _, err := d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return false
		}
	}
	return true
}
