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

package policy

import (
	"context"

	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// policyCRDNames are the CRDs of render.PolicyKinds.
var policyCRDNames = sets.New("peerauthentications.security.istio.io", "sidecars.networking.istio.io")

// crdChanged enqueues what its EventHandler enqueues and kicks the wait for the kinds to be served, on
// every creation and change of a policy kind's CRD; on its deletion, from the moment the API server marks
// it for deletion, it tells the wait that the kinds are removed, so that they count as not served until
// discovery serves them again.
type crdChanged struct {
	handler.EventHandler
	served *meshctx.KindsServed
}

func (h crdChanged) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if !e.Object.GetDeletionTimestamp().IsZero() {
		// Already marked for deletion when the informer first lists it (the manager started, or a new
		// leader took over, during the deletion): discovery still lists the kind, and the REST mapper maps
		// it, but the API server refuses new objects of it.
		h.served.Removed()
	} else {
		h.served.Kick()
	}
	h.EventHandler.Create(ctx, e, q)
}

func (h crdChanged) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if e.ObjectOld.GetDeletionTimestamp().IsZero() && !e.ObjectNew.GetDeletionTimestamp().IsZero() {
		// Marked for deletion: the API server refuses new objects of the kind from now on.
		h.served.Removed()
	} else {
		h.served.Kick()
	}
	h.EventHandler.Update(ctx, e, q)
}

func (h crdChanged) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	h.served.Removed()
	h.EventHandler.Delete(ctx, e, q)
}

var _ handler.EventHandler = crdChanged{}
