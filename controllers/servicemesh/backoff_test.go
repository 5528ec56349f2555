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
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestControlPlaneBackoff walks the backoff through a series of outcomes on a fake clock.
func TestControlPlaneBackoff(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := &controlPlaneBackoff{now: func() time.Time { return now }}
	retry := meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("quota exceeded"))
	terminal := meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New("no chart 1.29.9"))
	wait := meshctx.Wait(meshv1alpha1.ReasonNamespaceTerminating, time.Second, errors.New("terminating"))

	if left, err := b.pending("uid/1"); err != nil || left != 0 {
		t.Fatalf("pending before any attempt = %v, %v", left, err)
	}
	for i, want := range []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second} {
		if got := b.record("uid/1", retry); got != want {
			t.Errorf("failure %d: wait %v, want %v", i+1, got, want)
		}
	}
	now = now.Add(39 * time.Second)
	if left, err := b.pending("uid/1"); err != retry || left != time.Second {
		t.Errorf("pending within the wait = %v, %v; want 1s and the last failure", left, err)
	}
	if _, err := b.pending("uid/2"); err != nil {
		t.Errorf("a new generation waits out the old one's failure: %v", err)
	}
	now = now.Add(time.Second)
	if _, err := b.pending("uid/1"); err != nil {
		t.Errorf("pending after the wait = %v", err)
	}
	for range 20 {
		b.record("uid/1", retry)
	}
	if got := b.record("uid/1", retry); got != backoffMax {
		t.Errorf("wait after many failures = %v, want the cap %v", got, backoffMax)
	}
	if got := b.record("uid/1", nil); got != 0 {
		t.Errorf("wait after a success = %v", got)
	}
	if got := b.record("uid/1", retry); got != backoffInitial {
		t.Errorf("a success did not reset the backoff: wait %v", got)
	}
	if got := b.record("uid/3", terminal); got != backoffMax {
		t.Errorf("wait after a terminal failure = %v, want %v", got, backoffMax)
	}
	if got := b.record("uid/3", wait); got != 0 {
		t.Errorf("a known wait paces itself, got backoff %v", got)
	}
	if _, err := b.pending("uid/3"); err != nil {
		t.Errorf("a known wait left a failure pending: %v", err)
	}
}

// TestFailedInstallIsNotRedoneOnEveryWakeUp: a reconcile woken again within the backoff reports the
// failure again without another Helm action.
func TestFailedInstallIsNotRedoneOnEveryWakeUp(t *testing.T) {
	var calls atomic.Int32
	chartManager := &fakeCharts{ensure: func(helm.Release) (helm.Result, error) {
		calls.Add(1)
		return helm.Result{State: helm.StateAbsent, Action: helm.ActionInstalled}, errors.New("exceeded quota")
	}}
	r := newTestReconciler(t, testMesh(), chartManager)
	if _, err := r.reconcile(t); err == nil {
		t.Fatal("the failed install was not returned as an error, so it is neither retried nor counted")
	}
	for range 4 {
		result, err := r.reconcile(t)
		if err != nil || result.RequeueAfter <= 0 || result.RequeueAfter > backoffInitial {
			t.Errorf("a wake-up within the backoff = %+v, %v; want a requeue when it has passed", result, err)
		}
	}
	// The first reconcile ensures the base and istiod releases (side by side); the others none.
	if n := calls.Load(); n != 2 {
		t.Errorf("Helm installs attempted %d times in five wake-ups within the backoff, want 2 (one per release, once)", n)
	}
}

// notFoundResolver finds no charts, as a repository without spec.version does, and counts the lookups.
type notFoundResolver struct{ calls atomic.Int32 }

func (n *notFoundResolver) Resolve(_ context.Context, source charts.Source) (charts.Set, error) {
	n.calls.Add(1)
	return charts.Set{}, fmt.Errorf("%w: no charts of %s", charts.ErrChartNotFound, source.Version)
}

// A failure retrying cannot fix is held for backoffMax like any other, but a wake-up it holds must come
// back when the hold ends: the change that woke it may be the one that fixes it (another installation's
// default tag deleted, a chart version published), and nothing else would wake the ServiceMesh again.
// The held wake-up once returned no requeue, and the mesh stayed failed until an unrelated change.
func TestATerminalFailureHeldComesBackWhenItsHoldEnds(t *testing.T) {
	resolver := &notFoundResolver{}
	r := newTestReconciler(t, testMesh(), &fakeCharts{})
	r.Resolver = resolver
	now := time.Now()
	r.backoff.now = func() time.Time { return now }

	if result, err := r.reconcile(t); err != nil || result.RequeueAfter != 0 {
		t.Fatalf("the first ChartNotFound = %+v, %v; want no retry", result, err)
	}
	now = now.Add(time.Minute)
	result, err := r.reconcile(t)
	if err != nil || result.RequeueAfter <= 0 || result.RequeueAfter > backoffMax-time.Minute {
		t.Errorf("a wake-up held a minute into the hold = %+v, %v; want a requeue when the hold ends, in %v", result, err, backoffMax-time.Minute)
	}
	if n := resolver.calls.Load(); n != 1 {
		t.Errorf("charts looked up %d times within the hold, want 1", n)
	}
	now = now.Add(backoffMax)
	if _, err := r.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if n := resolver.calls.Load(); n != 2 {
		t.Errorf("charts looked up %d times once the hold ended, want 2", n)
	}
}
