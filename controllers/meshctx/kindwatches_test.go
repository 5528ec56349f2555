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
	"errors"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// countingController counts the watches it is asked to start.
type countingController struct {
	controller.Controller
	watches int
}

func (c *countingController) Watch(source.TypedSource[reconcile.Request]) error {
	c.watches++
	return nil
}

// TestKindWatchesStopAskingOnceAllAreWatched: while a kind is not served, every call asks the mapper;
// each kind is watched once, as soon as it is served; once every kind is watched, a call asks nothing.
func TestKindWatchesStopAskingOnceAllAreWatched(t *testing.T) {
	ctx := context.Background()
	mapper := newDiscovery()
	c := &countingController{}
	w := &KindWatches{mapper: mapper, controller: c, kinds: render.PolicyKinds,
		source: func(schema.GroupVersionKind) source.Source { return nil }}
	if len(render.PolicyKinds) < 2 {
		t.Fatalf("want at least two policy kinds, have %v", render.PolicyKinds)
	}

	for range 2 {
		if w.WatchServed(ctx) {
			t.Fatal("served with no kind served")
		}
	}
	if mapper.asked.Load() != 2 || c.watches != 0 {
		t.Fatalf("asked the mapper %d times and started %d watches, want 2 and 0", mapper.asked.Load(), c.watches)
	}
	mapper.serve(render.PolicyKinds[0])
	if w.WatchServed(ctx) {
		t.Fatal("served with one kind not served")
	}
	if c.watches != 1 {
		t.Fatalf("%d watches, want the served kind's", c.watches)
	}
	mapper.serve(render.PolicyKinds...)
	asked := int(mapper.asked.Load())
	if !w.WatchServed(ctx) {
		t.Fatal("not served with every kind served")
	}
	if c.watches != len(render.PolicyKinds) || int(mapper.asked.Load()) != asked+len(render.PolicyKinds) {
		t.Fatalf("%d watches and %d questions, want one watch per kind and one question per kind", c.watches, int(mapper.asked.Load())-asked)
	}
	asked = int(mapper.asked.Load())
	for range 1000 {
		if !w.WatchServed(ctx) {
			t.Fatal("not served any more")
		}
	}
	if int(mapper.asked.Load()) != asked || c.watches != len(render.PolicyKinds) {
		t.Fatalf("after every kind was watched, 1,000 calls asked the mapper %d times and started %d more watches", int(mapper.asked.Load())-asked, c.watches-len(render.PolicyKinds))
	}
}

// TestKindWatchesAskOnceWhileTheKindsAreMissing: while the kinds are not served, the calls within
// recheck of a question answer false without asking (each question of a kind the mapper cannot map
// rebuilds it from discovery); KindsServed forgets that answer before it tells its sources the kinds
// are served, so the reconciles it wakes ask again and find them.
func TestKindWatchesAskOnceWhileTheKindsAreMissing(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mapper := newDiscovery()
	served := NewKindsServed(mapper, render.PolicyKinds)
	served.interval, served.timeout, served.slow = 5*time.Millisecond, time.Minute, time.Hour
	events := make(chan event.GenericEvent)
	served.sources = append(served.sources, events)
	w := &KindWatches{mapper: mapper, controller: &countingController{}, kinds: render.PolicyKinds,
		source: func(schema.GroupVersionKind) source.Source { return nil }, recheck: time.Hour}
	served.OnServed(w.Forget)
	done := make(chan struct{})
	go func() { _ = served.Start(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	for range 1000 {
		if w.WatchServed(ctx) {
			t.Fatal("served with no kind served")
		}
		served.Await() // as every caller that hears false does
	}
	// The runnable asks every 5 ms too; the 1,000 calls asked once between them.
	asked := mapper.asked.Load()
	mapper.serve(render.PolicyKinds...)
	select {
	case <-events:
	case <-time.After(5 * time.Second):
		t.Fatal("KindsServed did not tell its source the kinds are served")
	}
	if w.unserved.Load() != 0 {
		t.Fatal("the source heard before the watches forgot that the kinds were missing")
	}
	if !w.WatchServed(ctx) {
		t.Fatal("not served once KindsServed said so")
	}
	// The runnable polled at most every 5 ms in between; far fewer than one question per call.
	if asked > 200 {
		t.Fatalf("%d questions for 1,000 calls while the kinds were missing", asked)
	}

	// Without recheck (no KindsServed to tell the callers), every call asks.
	bare := newDiscovery()
	w = &KindWatches{mapper: bare, controller: &countingController{}, kinds: render.PolicyKinds,
		source: func(schema.GroupVersionKind) source.Source { return nil }}
	for range 10 {
		w.WatchServed(ctx)
	}
	if bare.asked.Load() != 10 {
		t.Fatalf("%d questions for 10 calls without a KindsServed, want 10", bare.asked.Load())
	}
}

// kindSource is the source of one kind, for failingController.
type kindSource struct {
	source.Source
	gvk schema.GroupVersionKind
}

// failingController fails its first watch, of kind fail, once release is closed; entered is closed when
// that watch starts. It records the kinds it watches.
type failingController struct {
	controller.Controller
	fail             schema.GroupVersionKind
	entered, release chan struct{}
	failed           bool
	mu               sync.Mutex
	watched          map[schema.GroupVersionKind]bool
}

func (c *failingController) Watch(src source.TypedSource[reconcile.Request]) error {
	gvk := src.(kindSource).gvk
	c.mu.Lock()
	first := gvk == c.fail && !c.failed
	c.failed = c.failed || first
	c.mu.Unlock()
	if first {
		close(c.entered)
		<-c.release
		return errors.New("watch failed")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.watched[gvk] = true
	return nil
}

// TestKindWatchesNeverSayServedBeforeEveryWatchExists: a caller that finds another starting a kind's
// watch waits for it; when that watch fails, the kind is not taken as watched, and the next caller
// watches it before anyone hears that every kind is.
func TestKindWatchesNeverSayServedBeforeEveryWatchExists(t *testing.T) {
	ctx := context.Background()
	mapper := newDiscovery()
	mapper.serve(render.PolicyKinds...)
	c := &failingController{fail: render.PolicyKinds[0], entered: make(chan struct{}), release: make(chan struct{}),
		watched: map[schema.GroupVersionKind]bool{}}
	w := &KindWatches{mapper: mapper, controller: c, kinds: render.PolicyKinds,
		source: func(gvk schema.GroupVersionKind) source.Source { return kindSource{gvk: gvk} }}

	first := make(chan bool)
	go func() { first <- w.WatchServed(ctx) }()
	<-c.entered
	second := make(chan bool)
	go func() { second <- w.WatchServed(ctx) }()
	// The second caller must not answer while the first one's watch is being started; give it the time
	// to answer wrongly before the first watch fails.
	select {
	case served := <-second:
		c.mu.Lock()
		watched := c.watched[render.PolicyKinds[0]]
		c.mu.Unlock()
		if served && !watched {
			t.Fatalf("a caller heard every kind served while the watch of %s was still being started", render.PolicyKinds[0].Kind)
		}
		close(c.release)
		<-first
	case <-time.After(200 * time.Millisecond):
		close(c.release)
		if <-first {
			t.Fatal("the caller whose watch failed heard every kind served")
		}
		if !<-second {
			t.Fatal("the caller after a failed watch did not watch every kind")
		}
	}
	if !w.WatchServed(ctx) {
		t.Fatal("not served with every kind served")
	}
	for _, gvk := range render.PolicyKinds {
		if !c.watched[gvk] {
			t.Errorf("%s is never watched after its first watch failed", gvk.Kind)
		}
	}
}
