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

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// discovery is a REST mapper whose discovery document changes: a DefaultRESTMapper swapped whole. It
// answers RESTMapping only.
type discovery struct {
	meta.RESTMapper
	current atomic.Pointer[meta.DefaultRESTMapper]
	// asked counts the lookups.
	asked atomic.Int64
}

func newDiscovery() *discovery {
	d := &discovery{}
	d.current.Store(meta.NewDefaultRESTMapper(nil))
	return d
}

// serve makes discovery serve kinds.
func (d *discovery) serve(kinds ...schema.GroupVersionKind) {
	m := meta.NewDefaultRESTMapper(nil)
	for _, gvk := range kinds {
		m.Add(gvk, meta.RESTScopeNamespace)
	}
	d.current.Store(m)
}

func (d *discovery) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	d.asked.Add(1)
	return d.current.Load().RESTMapping(gk, versions...)
}

// testWait is a KindsServed with one source, whose events the test reads.
type testWait struct {
	*KindsServed
	served chan event.GenericEvent
}

func startWait(t *testing.T, d *discovery, timeout, slow time.Duration) testWait {
	t.Helper()
	w := newWait(d, 0, timeout, slow)
	run(t, w)
	return w
}

// newWait is a testWait of the policy kinds over m, asking every 5 ms, whose source holds up to buffer
// events; it runs once run starts it.
func newWait(m mapper, buffer int, timeout, slow time.Duration) testWait {
	w := testWait{KindsServed: NewKindsServed(m, render.PolicyKinds), served: make(chan event.GenericEvent, buffer)}
	w.sources = append(w.sources, w.served)
	w.interval, w.timeout, w.slow = 5*time.Millisecond, timeout, slow
	return w
}

// run runs w until the test ends.
func run(t *testing.T, w testWait) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = w.Start(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

// sends tells whether w sends its event within d.
func sends(w testWait, d time.Duration) bool {
	select {
	case <-w.served:
		return true
	case <-time.After(d):
		return false
	}
}

func TestKindsServedEnqueuesOnceTheKindsAreServed(t *testing.T) {
	d := newDiscovery()
	w := startWait(t, d, time.Minute, time.Hour)
	w.Kick() // a CRD changed; discovery does not serve its kind yet
	if sends(w, 100*time.Millisecond) {
		t.Fatal("enqueued every namespace before the kinds were served")
	}
	d.serve(render.PeerAuthenticationKind)
	if sends(w, 100*time.Millisecond) {
		t.Fatal("enqueued every namespace with one of the two kinds served")
	}
	d.serve(render.PolicyKinds...)
	if !sends(w, 5*time.Second) {
		t.Fatal("did not enqueue every namespace once the kinds were served")
	}
	if sends(w, 100*time.Millisecond) {
		t.Fatal("enqueued every namespace twice")
	}
}

func TestKindsServedLeavesServedKindsToTheCRDEvent(t *testing.T) {
	d := newDiscovery()
	d.serve(render.PolicyKinds...)
	w := startWait(t, d, time.Minute, time.Hour)
	w.Kick()
	if sends(w, 200*time.Millisecond) {
		t.Error("enqueued every namespace though the kinds were served when the CRD changed (its event did)")
	}
}

func TestKindsServedKeepsAskingAfterItsTimeout(t *testing.T) {
	d := newDiscovery()
	w := startWait(t, d, 50*time.Millisecond, 100*time.Millisecond)
	w.Kick()
	time.Sleep(200 * time.Millisecond) // past the fast polling
	d.serve(render.PolicyKinds...)
	if !sends(w, 5*time.Second) {
		t.Fatal("stopped asking discovery after the fast polling timed out")
	}
}

func TestKindsServedAnswersAnAwaitEvenWhenServedAlready(t *testing.T) {
	d := newDiscovery()
	w := startWait(t, d, time.Minute, time.Hour)
	w.Await() // a reconcile found the kinds not served
	if sends(w, 100*time.Millisecond) {
		t.Fatal("sent before the kinds were served")
	}
	d.serve(render.PolicyKinds...)
	if !sends(w, 5*time.Second) {
		t.Fatal("did not send once the kinds were served")
	}
	// A reconcile that looked just before discovery served the kinds, and awaits after: the runnable
	// finds them served at once, and must still answer.
	w.Await()
	if !sends(w, 5*time.Second) {
		t.Fatal("an Await made when the kinds were served already was not answered")
	}
	if sends(w, 100*time.Millisecond) {
		t.Fatal("answered one Await twice")
	}
}

// TestKindsServedAwaitsTheSlowPaceOnceLate: once the fast asking timed out (kinds that stay missing), an
// Await, which every reconcile of a namespace or of the ServiceMesh makes while the kinds are missing,
// does not start asking every interval again; the slow pace answers it.
func TestKindsServedAwaitsTheSlowPaceOnceLate(t *testing.T) {
	d := newDiscovery()
	w := startWait(t, d, 50*time.Millisecond, 500*time.Millisecond)
	w.Kick()
	time.Sleep(150 * time.Millisecond) // past the fast asking
	before := d.asked.Load()
	for range 3 {
		w.Await()
	}
	time.Sleep(100 * time.Millisecond)
	if asked := d.asked.Load() - before; asked > 2 {
		t.Fatalf("asked discovery %d times within 100 ms of an Await while late, want the slow pace", asked)
	}
	d.serve(render.PolicyKinds...)
	if !sends(w, 5*time.Second) {
		t.Fatal("the Await was not answered at the slow pace")
	}
}
