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

// batchDelay is the least time between two status passes that data-plane and policy changes wake.
const batchDelay = 2 * time.Second

// statusPace spaces the status passes that changes of the data plane and the policy objects wake:
// they change by the thousand while a mesh converges. The first change after a quiet batchDelay wakes
// the ServiceMesh at once (a lone change, such as the policies a new mesh's first reconcile awaits,
// shows in the status without waiting); every change after it, until batchDelay has passed since,
// wakes it once, at the end of that batchDelay. So a burst of changes costs one pass at its start and
// one per batchDelay after.
type statusPace struct {
	mu sync.Mutex
	// next is the earliest time the next pass may start; trailing tells whether a pass is set for it.
	next     time.Time
	trailing bool
}

// delay returns how long after now a change at now should wake the ServiceMesh: 0 for at once.
func (p *statusPace) delay(now time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.trailing && !now.Before(p.next) {
		// The pass set for next has started: the one after it waits a batchDelay more.
		p.next, p.trailing = p.next.Add(batchDelay), false
	}
	if !now.Before(p.next) {
		p.next = now.Add(batchDelay)
		return 0
	}
	p.trailing = true
	return p.next.Sub(now)
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
