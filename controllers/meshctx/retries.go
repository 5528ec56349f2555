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
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
)

// RetryCap is the longest any meshkeeper controller waits before it retries a reconcile that failed.
// controller-runtime's own limit is 1000 s: a failure that lasts would then show as one reconcile
// error every 16 minutes, too sparse for the MeshkeeperReconcileErrors alert (a rate over 10 minutes
// held for 15) to ever fire, and a namespace or Ingress that failed for a while would wait that long
// after its cause was gone. 5 minutes is also the cap of the servicemesh controller's control-plane
// backoff.
const RetryCap = 5 * time.Minute

// ControllerOptions are the options of every meshkeeper controller: workers reconciles at a time (0
// for controller-runtime's default of one), and failed reconciles retried after 5 ms, doubling up to
// RetryCap.
func ControllerOptions(workers int) controller.Options {
	return controller.Options{
		MaxConcurrentReconciles: workers,
		RateLimiter:             workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](5*time.Millisecond, RetryCap),
	}
}
