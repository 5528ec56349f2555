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
	"maps"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// SpecOrDeletionChanged passes a ServiceMesh update when its spec (generation) changed or its deletion
// began: its status writes must wake no one.
var SpecOrDeletionChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp())
	},
}

// LabelsOrDeletionChanged passes namespace updates that change labels or begin a deletion: nothing else
// of a namespace bears on enrollment.
var LabelsOrDeletionChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			!apply.OwnedKeys(e.ObjectOld, "labels").Equal(apply.OwnedKeys(e.ObjectNew, "labels"))
	},
}

// ManagedOnly passes only the objects meshkeeper labelled, for kinds cached whole.
var ManagedOnly = predicate.NewPredicateFuncs(func(obj client.Object) bool { return IsManaged(obj) })

// AllNamespaces enqueues a request for every namespace: for controllers keyed by namespace, when the
// ServiceMesh changes.
func AllNamespaces(c client.Reader) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		return NamespaceRequests(ctx, c)
	})
}

// NamespaceRequests is a request for every namespace c lists; none when it cannot list them.
func NamespaceRequests(ctx context.Context, c client.Reader) []reconcile.Request {
	list := &corev1.NamespaceList{}
	if err := c.List(ctx, list); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "Listing namespaces")
		return nil
	}
	requests := make([]reconcile.Request, 0, len(list.Items))
	for _, ns := range list.Items {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKey{Name: ns.Name}})
	}
	return requests
}
