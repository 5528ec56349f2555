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
	"cmp"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// policyObjectChanged passes every change of a policy object named as meshkeeper names its own, and of
// any other the creation, the removal and a change of its spec (its generation): an object of another
// name that applies to the whole namespace keeps meshkeeper from writing its own there (the policy
// controller's Rivals). Changes of another object's metadata alone pass not, but for its istio.io/rev
// label, which tells which revision's istiod reads it (a Sidecar of the root namespace is the mesh-wide
// default only for the istiod it is labelled for).
var policyObjectChanged = predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
	UpdateFunc: func(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
		return e.ObjectNew.Name == render.PolicyName || e.ObjectOld.Generation != e.ObjectNew.Generation ||
			e.ObjectOld.Labels[policy.LabelIstioRevision] != e.ObjectNew.Labels[policy.LabelIstioRevision]
	},
}

// CRDMetadata is a CustomResourceDefinition read by its metadata alone: what the controllers that follow
// the Istio CRDs watch, all through the one metadata informer of CRDs of the manager's cache.
func CRDMetadata() *metav1.PartialObjectMetadata {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	return crd
}

// KindWatches watches kinds whose CRDs meshkeeper installs itself (the Istio policy kinds): a watch set
// up at start would keep the manager from starting on a cluster without them, so each kind is watched,
// by its metadata (policyObjectChanged says which changes count), from the first reconcile
// that finds it served. When one of their CRDs is removed (KindsServed.Removed), it answers false until
// KindsServed finds them served again. Their informers stay meanwhile: an informer removed from the
// manager's cache would be made anew by the next read of the kind from the cache, or by a watch being
// started, and waited for without end while the kind is not served; each lists its kind again after a
// backoff instead, at most every 30 to 60 s. Once the kinds are served again, KindsServed replaces the
// informers (which would otherwise see the kinds back only after that backoff, the status with them) and
// the next call watches the kinds anew.
type KindWatches struct {
	mapper     mapper
	controller controller.Controller
	kinds      []schema.GroupVersionKind
	source     func(gvk schema.GroupVersionKind) source.Source
	// mu keeps one caller at a time starting watches: a caller that found a kind's watch being started
	// by another must not go on to say every kind is watched before that watch exists, or set all when
	// the other's watch fails. watching holds the kinds watched.
	mu       sync.Mutex
	watching map[schema.GroupVersionKind]bool
	// all is set once every kind is served and watched. The REST mapper never forgets a kind it mapped
	// (it asks discovery again only for a kind it cannot map), so asking it again would always find
	// them served; each answer cost 2.6 KB of allocations, on every reconcile of every namespace.
	all atomic.Bool
	// unserved is when (Unix nanoseconds) the mapper last found a kind not served, or discovery failed
	// past the lookup's retries, 0 after Forget. For recheck after it every call answers false without
	// asking: a kind the mapper cannot map sends it to discovery and makes it rebuild itself (1.3 MB), and
	// a thousand namespaces reconciled while the CRDs are not served yet each asked (133 MB of allocations
	// and a discovery request each in the 10,000-pod scale benchmark). Every caller that hears false
	// awaits KindsServed, which asks discovery at the same pace and calls Forget before it tells them the
	// kinds are served.
	unserved atomic.Int64
	recheck  time.Duration
	// failed is the discovery failure behind the last false, nil when that was the kinds' verdict.
	failed atomic.Pointer[error]
	// retry is the wait after a lookup's first failure, lookupRetry when zero.
	retry time.Duration
	// removed is set by Removed and cleared by Forget: a CRD of the kinds was removed, and the REST
	// mapper, which never forgets a kind it mapped, cannot tell when it is back.
	removed atomic.Bool
}

// A lookup that discovery fails only because the API server could not answer for a moment (Transient:
// a 503 while the API server restarts, on the first reconcile after a leader failover) is made again,
// up to lookupAttempts times in all, lookupRetry after the first and twice as long after each next one:
// such a failure says nothing about whether the kinds are served, and answered false it would have the
// ServiceMesh report PoliciesApplied False IstioCRDsMissing for a blip.
const (
	lookupAttempts = 3
	lookupRetry    = 100 * time.Millisecond
)

// NewKindWatches returns the watches of kinds for controller c, whose events go to h. served, when not
// nil, is the wait its callers await when the kinds are not served.
func NewKindWatches(mgr ctrl.Manager, c controller.Controller, kinds []schema.GroupVersionKind,
	h handler.TypedEventHandler[*metav1.PartialObjectMetadata, reconcile.Request], served *KindsServed) *KindWatches {
	w := &KindWatches{
		mapper:     mgr.GetRESTMapper(),
		controller: c,
		kinds:      kinds,
		source: func(gvk schema.GroupVersionKind) source.Source {
			obj := &metav1.PartialObjectMetadata{}
			obj.SetGroupVersionKind(gvk)
			return source.Kind(mgr.GetCache(), obj, h, policyObjectChanged)
		},
	}
	if served != nil {
		// served tells the callers once the kinds are served, so a missing kind is asked for at its
		// pace; without it, every call asks. Both ask the same mapper (a ProbingMapper in the manager).
		w.mapper = served.mapper
		w.recheck = discoveryInterval
		served.OnServed(w.Forget)
		served.OnRemoved(w.Removed)
		served.renewWith(func() {
			for _, gvk := range kinds {
				obj := &metav1.PartialObjectMetadata{}
				obj.SetGroupVersionKind(gvk)
				// RemoveInformer fails only for an object the scheme does not know; metadata has no scheme.
				_ = mgr.GetCache().RemoveInformer(context.Background(), obj)
			}
		})
	}
	return w
}

// Forget forgets that a kind was found not served, or that a CRD of the kinds was removed: the next call
// asks the mapper.
func (w *KindWatches) Forget() {
	w.removed.Store(false)
	w.unserved.Store(0)
}

// Removed takes the kinds for not served, one of whose CRDs was removed: every call answers false,
// without asking the mapper (which never forgets a kind it mapped), until Forget. The kinds' watches
// are started anew by the first call after Forget, on the informers KindsServed made anew before it.
func (w *KindWatches) Removed() {
	w.removed.Store(true)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.all.Store(false)
	w.failed.Store(nil)
	clear(w.watching)
}

// DiscoveryFailed is the discovery failure that made WatchServed answer false last, past the lookup's
// retries: then whether the kinds are served is not known, rather than that they are not. nil when the
// last false was the kinds' verdict, or the last answer true.
func (w *KindWatches) DiscoveryFailed() error {
	if err := w.failed.Load(); err != nil {
		return *err
	}
	return nil
}

// WatchServed tells whether every kind is served, and starts watching the ones not watched yet. A caller
// that hears false must await the kinds with the KindsServed given to NewKindWatches. False is also the
// answer when discovery failed past a few quick retries (DiscoveryFailed says so).
func (w *KindWatches) WatchServed(ctx context.Context) bool {
	if w.all.Load() {
		return true
	}
	if w.recentlyUnserved() || w.removed.Load() {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.all.Load() {
		return true
	}
	if w.recentlyUnserved() || w.removed.Load() {
		return false // found so by the caller this one waited for, or removed meanwhile
	}
	for _, gvk := range w.kinds {
		if err := w.lookup(ctx, gvk); err != nil {
			if meta.IsNoMatchError(err) {
				w.failed.Store(nil)
			} else {
				ctrl.LoggerFrom(ctx).Error(err, "Looking up an Istio kind", "kind", gvk.Kind)
				w.failed.Store(&err)
			}
			w.unserved.Store(time.Now().UnixNano())
			return false
		}
		if w.watching[gvk] {
			continue
		}
		if err := w.controller.Watch(w.source(gvk)); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Watching an Istio kind", "kind", gvk.Kind)
			return false
		}
		if w.watching == nil {
			w.watching = map[schema.GroupVersionKind]bool{}
		}
		w.watching[gvk] = true
	}
	w.failed.Store(nil)
	w.all.Store(true)
	return true
}

// recentlyUnserved tells whether a call within recheck found a kind not served, or discovery failing.
func (w *KindWatches) recentlyUnserved() bool {
	at := w.unserved.Load()
	return w.recheck > 0 && at != 0 && time.Since(time.Unix(0, at)) < w.recheck
}

// lookup maps gvk, asking again after a failure only of the API server's making for a moment.
func (w *KindWatches) lookup(ctx context.Context, gvk schema.GroupVersionKind) error {
	wait := cmp.Or(w.retry, lookupRetry)
	for attempt := 1; ; attempt++ {
		_, err := w.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err == nil || meta.IsNoMatchError(err) || !Transient(err) || attempt == lookupAttempts {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait *= 2
	}
}
