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
	"sync/atomic"
	"testing"
	"time"
)

// TestKindsRemovedAgainAsTheyComeBackStayNotServed: a CRD of the kinds is deleted again just as
// discovery lists the kinds again after an earlier deletion (a GitOps tool creating and pruning it, a
// second kubectl delete). The removal comes after the runnable found the kinds served and before the
// watches heard of it: the watches take the kinds for not served all the same, instead of forgetting
// the removal and answering from the REST mapper, which still maps the kinds, while the API server
// refuses every object of them. Once discovery lists them again, they are served.
func TestKindsRemovedAgainAsTheyComeBackStayNotServed(t *testing.T) {
	ctx := context.Background()
	d, w, _, watches := newRemovalWait(10)
	// The first replacement of the informers, once discovery lists the kinds again, is when the CRD is
	// deleted again.
	var renewals atomic.Int32
	w.renewWith(func() {
		if renewals.Add(1) == 1 {
			d.listed.Store(false)
			w.Removed()
		}
	})
	run(t, w)

	if !watches.WatchServed(ctx) {
		t.Fatal("WatchServed = false with every kind served")
	}
	d.listed.Store(false)
	w.Removed()
	time.Sleep(50 * time.Millisecond)
	d.listed.Store(true)
	w.Kick() // the CRD is created again, and deleted again as the kinds come back
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		if renewals.Load() > 0 && watches.WatchServed(ctx) {
			t.Fatal("WatchServed = true after the CRD was deleted again, while discovery does not list the kinds")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if renewals.Load() == 0 {
		t.Fatal("the kinds were never found served again")
	}

	d.listed.Store(true)
	w.Kick() // the CRD is created again
	deadline = time.Now().Add(5 * time.Second)
	for !watches.WatchServed(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("WatchServed = false once discovery lists the kinds again")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if renewals.Load() != 2 {
		t.Fatalf("the informers were replaced %d times, want once for each return of the kinds", renewals.Load())
	}
}
