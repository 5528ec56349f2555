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
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
//
// Removed is for the deletion of one of the CRDs (an uninstall cleaned up with kubectl delete crd, the
// base chart removed), from the moment the API server marks it for deletion and stops accepting new
// objects of its kind: the REST mapper never forgets a kind it mapped, so without it the kinds would
// count as served for as long as the manager runs. Its OnRemoved functions are called, its sources hear
// of it, and from then on the kinds count as served only once discovery itself lists every one again.
type KindsServed struct {
	mapper  mapper
	kinds   []schema.GroupVersionKind
	kick    chan struct{}
	awaited atomic.Bool
	// late is set while a CRD changed but its kind has not been served within discoveryTimeout (a CRD
	// that is not Established, or removed, say): the kinds are then asked for every slowInterval, and an
	// Await waits for that instead of asking every discoveryInterval again.
	late      atomic.Bool
	mu        sync.Mutex
	sources   []chan event.GenericEvent
	onServed  []func()
	onRemoved []func()
	// removed is set from a CRD's removal until discovery lists every kind again; removals counts the
	// removals, so that a removal made while discovery was being asked is not forgotten. Both under mu.
	removed  bool
	removals int
	// tellRemoved is set by Removed until the runnable has told the sources.
	tellRemoved atomic.Bool
	// renewDue is set once discovery lists every kind again after a removal, until renew is called.
	// renew replaces the kinds' informers (see KindWatches); nil does nothing.
	renewDue atomic.Bool
	renew    func()
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
// source hears of it; f is called under the wait's lock, and must not call the wait. Every OnServed is
// called before the manager starts.
func (d *KindsServed) OnServed(f func()) {
	d.mu.Lock()
	d.onServed = append(d.onServed, f)
	d.mu.Unlock()
}

// OnRemoved has f called each time one of the kinds' CRDs is removed, before any source hears of it.
// Every OnRemoved is called before the manager starts.
func (d *KindsServed) OnRemoved(f func()) {
	d.mu.Lock()
	d.onRemoved = append(d.onRemoved, f)
	d.mu.Unlock()
}

// renewWith has f replace the kinds' informers once the kinds are served again after a removal, before
// the OnServed functions are called; the first f given is kept (every KindWatches of a manager gives the
// same). Called before the manager starts.
func (d *KindsServed) renewWith(f func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.renew == nil {
		d.renew = f
	}
}

// Removed tells that one of the kinds' CRDs was deleted: its OnRemoved functions are called at once, its
// sources hear of it, and the kinds count as served again only once discovery lists every one.
func (d *KindsServed) Removed() {
	d.mu.Lock()
	d.removed = true
	d.removals++
	onRemoved := d.onRemoved
	d.mu.Unlock()
	for _, f := range onRemoved {
		f()
	}
	d.tellRemoved.Store(true)
	d.late.Store(false) // the CRD may come back at once: ask at the quick pace
	d.Kick()
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
		if d.tellRemoved.Swap(false) {
			// The callers that watched the kinds recompute what depends on them (the ServiceMesh's
			// PoliciesApplied), and hear that they are not served.
			if !d.send(ctx) {
				return nil
			}
		}
		if d.allServed() {
			// Otherwise already mapped when a CRD changed: the CRD's own event brought its watchers back.
			if wasLate, awaited := d.late.Swap(false), d.awaited.Swap(false); wasLate || awaited || d.renewDue.Load() {
				if !d.sendServed(ctx) {
					return nil
				}
			}
			continue
		}
		err := wait.PollUntilContextTimeout(ctx, d.interval, d.timeout, false, func(context.Context) (bool, error) {
			return d.allServed() || d.tellRemoved.Load(), nil
		})
		if ctx.Err() != nil {
			return nil
		}
		if err == nil && d.tellRemoved.Load() {
			continue // removed again while the kinds were being asked for; the kick is pending
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
		if !d.sendServed(ctx) {
			return nil
		}
	}
}

// sendServed replaces the kinds' informers when they come back after a removal, calls the OnServed
// functions and sends one event to every source; it is false when ctx ended first. A removal since the
// kinds were found served (the CRD deleted again as it came back) calls and sends nothing: the OnServed
// functions would forget it (KindWatches.Forget), and the runnable tells the sources of the removal
// instead. The OnServed functions are called under mu, so that a removal is either seen here or comes
// after them, its OnRemoved functions with it.
func (d *KindsServed) sendServed(ctx context.Context) bool {
	d.mu.Lock()
	renew := d.renew
	d.mu.Unlock()
	if d.renewDue.Swap(false) && renew != nil {
		renew()
	}
	d.mu.Lock()
	if d.removed {
		d.mu.Unlock()
		return true
	}
	for _, f := range d.onServed {
		f()
	}
	d.mu.Unlock()
	return d.send(ctx)
}

// send sends one event to every source; it is false when ctx ended first.
func (d *KindsServed) send(ctx context.Context) bool {
	d.mu.Lock()
	sources := d.sources
	d.mu.Unlock()
	for _, events := range sources {
		select {
		case events <- event.GenericEvent{Object: &corev1.Namespace{}}:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// allServed tells whether the REST mapper maps every kind; after a CRD's removal, whether discovery
// lists every kind again.
func (d *KindsServed) allServed() bool {
	d.mu.Lock()
	removed, removals := d.removed, d.removals
	d.mu.Unlock()
	if !removed {
		for _, gvk := range d.kinds {
			if _, err := d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
				return false
			}
		}
		return true
	}
	for _, gvk := range d.kinds {
		if !d.discovered(gvk) {
			return false
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.removals != removals {
		return false // removed again meanwhile
	}
	d.removed = false
	d.renewDue.Store(true)
	return true
}

// discoverer asks discovery itself whether a kind is served, as a ProbingMapper can: the REST mapper
// answers from what it mapped before.
type discoverer interface {
	discovered(gvk schema.GroupVersionKind) bool
}

// discovered tells whether discovery serves gvk, asking discovery itself when d's mapper can.
func (d *KindsServed) discovered(gvk schema.GroupVersionKind) bool {
	if m, ok := d.mapper.(discoverer); ok {
		return m.discovered(gvk)
	}
	_, err := d.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil
}

// discovered tells whether discovery lists gvk as a kind objects of which can be created (a CRD being
// deleted is listed without the verb until it is gone) and its watch cache serves, whatever the REST
// mapper mapped before.
func (p *ProbingMapper) discovered(gvk schema.GroupVersionKind) bool {
	list, err := p.lister.ServerResourcesForGroupVersion(gvk.GroupVersion().String())
	if err != nil {
		return false
	}
	i := slices.IndexFunc(list.APIResources, func(r metav1.APIResource) bool {
		return r.Kind == gvk.Kind && !strings.Contains(r.Name, "/") // not a subresource
	})
	if i < 0 || !slices.Contains(list.APIResources[i].Verbs, "create") {
		return false
	}
	m, err := p.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	return err == nil && p.lister.WatchCacheReady(m.Resource)
}
