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
	"context"
	"sync"
	"time"

	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// batchDelay is the pace of the status passes that data-plane and policy changes wake while they keep
// changing: one pass per batchDelay on average.
const batchDelay = 2 * time.Second

// statusBurst is how many changes in a row, after a quiet statusBurst × batchDelay, each wake the
// status pass at once. A new mesh's install changes a handful of these objects one after the other
// (its namespace's label, then each policy meshkeeper writes into it as soon as their kinds are served),
// and each must show in the status without waiting; a storm of changes spends the burst in its first
// milliseconds, where the queue folds the wake-ups into one or two passes.
const statusBurst = 8

// statusPace spaces the status passes that changes of the data plane and the policy objects wake:
// they change by the thousand while a mesh converges. It is a rate of one wake-up per batchDelay with
// a burst of statusBurst (the generic cell rate algorithm): a change within the burst wakes the
// ServiceMesh at once; a change beyond it wakes it once the rate allows, and every change until that
// pass starts joins it. So a storm costs its first passes at its start and then one pass per
// batchDelay, and no change waits longer than batchDelay for a pass that reads it.
type statusPace struct {
	mu sync.Mutex
	// due is when the rate would next let a wake-up through with no burst left; trailing is when the pass
	// set for later starts, zero when none is set.
	due      time.Time
	trailing time.Time
}

// delay returns how long after now a change at now should wake the ServiceMesh: 0 for at once.
func (p *statusPace) delay(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.trailing.IsZero() {
		if now.Before(p.trailing) {
			return p.trailing.Sub(now) // the pass set for later has not started: it reads this change
		}
		p.trailing = time.Time{} // it has started and may have read before this change
	}
	if p.due.Before(now) {
		p.due = now
	}
	at := p.due.Add(-(statusBurst - 1) * batchDelay)
	p.due = p.due.Add(batchDelay)
	if !at.After(now) {
		return 0
	}
	p.trailing = at
	return at.Sub(now)
}

// toMeshBatched enqueues the ServiceMesh as pace says. The queue keeps one pending request (the
// earliest), so the changes that wait share one reconcile.
func toMeshBatched[T client.Object](pace *statusPace) handler.TypedFuncs[T, reconcile.Request] {
	wake := func(q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if d := pace.delay(time.Now()); d > 0 {
			q.AddAfter(meshctx.Request, d)
		} else {
			q.Add(meshctx.Request)
		}
	}
	return handler.TypedFuncs[T, reconcile.Request]{
		CreateFunc: func(_ context.Context, _ event.TypedCreateEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			wake(q)
		},
		UpdateFunc: func(_ context.Context, _ event.TypedUpdateEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			wake(q)
		},
		DeleteFunc: func(_ context.Context, _ event.TypedDeleteEvent[T], q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			wake(q)
		},
	}
}
