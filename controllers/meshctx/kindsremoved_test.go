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

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// rememberingDiscovery is a REST mapper that, as the manager's, still maps every kind it mapped once,
// and discovery itself, which lists the kinds only while listed is set.
type rememberingDiscovery struct {
	*discovery
	listed atomic.Bool
}

func (d *rememberingDiscovery) discovered(schema.GroupVersionKind) bool { return d.listed.Load() }

// newRemovalWait is a wait over discovery that lists and maps every policy kind, whose source holds up
// to buffer events, and the KindWatches of c that hear from it that the kinds are served or removed,
// as the policy controller's do. The test sets how the informers are replaced, then runs the wait.
func newRemovalWait(buffer int) (*rememberingDiscovery, testWait, *countingController, *KindWatches) {
	d := &rememberingDiscovery{discovery: newDiscovery()}
	d.serve(render.PolicyKinds...)
	d.listed.Store(true)
	w := newWait(d, buffer, time.Minute, time.Hour)
	c := &countingController{}
	watches := &KindWatches{mapper: d, controller: c, kinds: render.PolicyKinds, recheck: time.Hour,
		source: func(schema.GroupVersionKind) source.Source { return nil }}
	w.OnServed(watches.Forget)
	w.OnRemoved(watches.Removed)
	return d, w, c, watches
}

// TestKindsRemovedCountAsNotServedUntilDiscoveryListsThemAgain: a CRD of the kinds is deleted while the
// manager runs. The REST mapper still maps the kinds; the watches answer false all the same, the sources
// hear of the removal (the ServiceMesh recomputes PoliciesApplied), and once discovery lists the kinds
// again the informers are replaced (the old ones would relist only after their backoff, up to a minute)
// before the watches hear of it, the sources hear that the kinds are served, and the watches start one
// watch of each kind again.
func TestKindsRemovedCountAsNotServedUntilDiscoveryListsThemAgain(t *testing.T) {
	ctx := context.Background()
	d, w, c, watches := newRemovalWait(0)
	// renewed counts the replacements of the informers, each while the watches still took the kinds
	// for removed.
	var renewed, renewedLate atomic.Int32
	w.renewWith(func() {
		renewed.Add(1)
		if !watches.removed.Load() {
			renewedLate.Add(1)
		}
	})
	run(t, w)

	if !watches.WatchServed(ctx) || c.watches != len(render.PolicyKinds) {
		t.Fatalf("%d watches with every kind served, want one per kind", c.watches)
	}

	d.listed.Store(false)
	w.Removed() // as the policy controller does on the CRD's deletion
	if !sends(w, 5*time.Second) {
		t.Fatal("the sources did not hear that a CRD of the kinds was removed")
	}
	for range 3 {
		if watches.WatchServed(ctx) {
			t.Fatal("WatchServed = true after a CRD of the kinds was removed, because the REST mapper still maps them")
		}
		w.Await() // as every caller that hears false does
	}
	if sends(w, 100*time.Millisecond) {
		t.Fatal("the sources heard the kinds served while discovery did not list them")
	}
	if renewed.Load() != 0 {
		t.Fatal("the informers were replaced while the kinds were not served")
	}

	d.listed.Store(true)
	w.Kick() // the CRD is created again
	if !sends(w, 5*time.Second) {
		t.Fatal("the sources did not hear that the kinds are served again")
	}
	if !watches.WatchServed(ctx) {
		t.Fatal("WatchServed = false once discovery lists the kinds again")
	}
	if renewed.Load() != 1 || renewedLate.Load() != 0 {
		t.Fatalf("the informers were replaced %d times, %d of them after the watches heard, want once, before", renewed.Load(), renewedLate.Load())
	}
	if c.watches != 2*len(render.PolicyKinds) {
		t.Fatalf("%d watches after the kinds came back, want one more of each kind on its new informer", c.watches)
	}
	for range 10 {
		if !watches.WatchServed(ctx) {
			t.Fatal("WatchServed = false with the kinds served again")
		}
	}
	if c.watches != 2*len(render.PolicyKinds) || renewed.Load() != 1 {
		t.Fatalf("%d watches and %d replacements after further calls", c.watches, renewed.Load())
	}
}
