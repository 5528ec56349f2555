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

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// policyObjectChanged passes changes of policy objects named as meshkeeper names its own: the only ones
// meshkeeper writes or reports.
var policyObjectChanged = predicate.NewTypedPredicateFuncs(func(obj *metav1.PartialObjectMetadata) bool {
	return obj.Name == render.PolicyName
})

// KindWatches watches kinds whose CRDs meshkeeper installs itself (the Istio policy kinds): a watch set
// up at start would keep the manager from starting on a cluster without them, so each kind is watched,
// by its metadata and only its objects named as meshkeeper names its policies, from the first reconcile
// that finds it served.
type KindWatches struct {
	mapper     meta.RESTMapper
	controller controller.Controller
	kinds      []schema.GroupVersionKind
	source     func(gvk schema.GroupVersionKind) source.Source
	watching   sync.Map
	// all is set once every kind is served and watched. The REST mapper never forgets a kind it mapped
	// (it asks discovery again only for a kind it cannot map), so asking it again would always find
	// them served; each answer cost 2.6 KB of allocations, on every reconcile of every namespace.
	all atomic.Bool
}

// NewKindWatches returns the watches of kinds for controller c, whose events go to h.
func NewKindWatches(mgr ctrl.Manager, c controller.Controller, kinds []schema.GroupVersionKind,
	h handler.TypedEventHandler[*metav1.PartialObjectMetadata, reconcile.Request]) *KindWatches {
	return &KindWatches{
		mapper:     mgr.GetRESTMapper(),
		controller: c,
		kinds:      kinds,
		source: func(gvk schema.GroupVersionKind) source.Source {
			obj := &metav1.PartialObjectMetadata{}
			obj.SetGroupVersionKind(gvk)
			return source.Kind(mgr.GetCache(), obj, h, policyObjectChanged)
		},
	}
}

// WatchServed tells whether every kind is served, and starts watching the ones not watched yet.
func (w *KindWatches) WatchServed(ctx context.Context) bool {
	if w.all.Load() {
		return true
	}
	for _, gvk := range w.kinds {
		if _, err := w.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			if !meta.IsNoMatchError(err) {
				ctrl.LoggerFrom(ctx).Error(err, "Looking up an Istio kind", "kind", gvk.Kind)
			}
			return false
		}
		if _, loaded := w.watching.LoadOrStore(gvk, true); loaded {
			continue
		}
		if err := w.controller.Watch(w.source(gvk)); err != nil {
			w.watching.Delete(gvk)
			ctrl.LoggerFrom(ctx).Error(err, "Watching an Istio kind", "kind", gvk.Kind)
			return false
		}
	}
	w.all.Store(true)
	return true
}
