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
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// switchableResolver finds no charts while missing is set, as a repository without spec.version does,
// and the built-in charts otherwise; it counts the lookups.
type switchableResolver struct {
	missing atomic.Bool
	calls   atomic.Int32
	builtin charts.CachingResolver
}

func (s *switchableResolver) Resolve(ctx context.Context, source charts.Source) (charts.Set, error) {
	s.calls.Add(1)
	if s.missing.Load() {
		return charts.Set{}, fmt.Errorf("%w: no charts of %s", charts.ErrChartNotFound, source.Version)
	}
	return s.builtin.Resolve(ctx, source)
}

// A control plane refused (a namespace the installer did not allow) or without charts is tried again
// every backoffMax, and ControlPlaneReady says why on every pass; its Warning is recorded once for the
// cause, not at every attempt, and once more when the cause cleared and came back. It was recorded at
// every attempt: a mesh stuck on one cause had a Warning every five minutes for as long as it lasted.
func TestControlPlaneRefusalWarnedOncePerCause(t *testing.T) {
	tests := map[string]struct {
		reason string
		// set brings the cause about (true) or clears it (false).
		set func(tr *testReconciler, resolver *switchableResolver, on bool)
	}{
		"a control-plane namespace not allowed": {
			reason: meshv1alpha1.ReasonNamespaceNotAllowed,
			set: func(tr *testReconciler, _ *switchableResolver, on bool) {
				tr.Policy.Namespaces = nil
				if on {
					tr.Policy.Namespaces = []string{"mesh-system"}
				}
			},
		},
		"charts not found": {
			reason: meshv1alpha1.ReasonChartNotFound,
			set: func(_ *testReconciler, resolver *switchableResolver, on bool) {
				resolver.missing.Store(on)
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			inSync := &fakeCharts{ensure: func(helm.Release) (helm.Result, error) {
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			tr := newTestReconciler(t, testMesh(), inSync)
			resolver := &switchableResolver{}
			tr.Resolver = resolver
			now := time.Now()
			tr.backoff.now = func() time.Time { return now }
			var recorded []string
			warnings := func() int {
				for {
					select {
					case e := <-tr.recorder.Events:
						recorded = append(recorded, e)
						continue
					default:
					}
					break
				}
				n := 0
				for _, e := range recorded {
					if strings.HasPrefix(e, "Warning "+tc.reason+" ") {
						n++
					}
				}
				return n
			}
			attempt := func(want string) {
				t.Helper()
				tr.applied = nil
				if _, err := tr.reconcile(t); err != nil {
					t.Fatal(err)
				}
				if tr.applied == nil {
					t.Fatal("no status written")
				}
				c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionControlPlaneReady)
				if c == nil || (want != "" && c.Reason != want) || (want == "" && c.Reason == tc.reason) {
					t.Fatalf("ControlPlaneReady = %+v, want reason %q", c, want)
				}
				now = now.Add(backoffMax + time.Second) // the next reconcile is the next attempt
			}

			tc.set(tr, resolver, true)
			for range 4 {
				attempt(tc.reason)
			}
			if tc.reason == meshv1alpha1.ReasonChartNotFound && resolver.calls.Load() < 4 {
				t.Fatalf("charts looked up %d times in four attempts, want at least 4", resolver.calls.Load())
			}
			if n := warnings(); n != 1 {
				t.Errorf("%d Warnings %s in four attempts at one cause, want 1: %q", n, tc.reason, recorded)
			}

			tc.set(tr, resolver, false)
			attempt("")
			tc.set(tr, resolver, true)
			attempt(tc.reason)
			attempt(tc.reason)
			if n := warnings(); n != 2 {
				t.Errorf("%d Warnings %s once the cause cleared and came back, want 2: %q", n, tc.reason, recorded)
			}

			// A ServiceMesh deleted and created again starts with no Events: the cause is warned of again.
			tr.forgetMesh()
			attempt(tc.reason)
			if n := warnings(); n != 3 {
				t.Errorf("%d Warnings %s once the ServiceMesh was created again, want 3: %q", n, tc.reason, recorded)
			}
		})
	}
}

// A ServiceMesh created again under the same name is a new object whose Events start empty: a cause
// the old one was warned of is warned of again on it, even if no reconcile saw the old one gone.
func TestControlPlaneWarningsOfAnotherServiceMesh(t *testing.T) {
	var w attemptWarnings
	old, recreated := testMesh(), testMesh()
	recreated.UID = "mesh-uid-2"
	w.begin()
	if !w.news(old, meshv1alpha1.ReasonChartNotFound, "no charts") {
		t.Fatal("the first Warning of a cause was not recorded")
	}
	w.end()
	w.begin()
	if w.news(old, meshv1alpha1.ReasonChartNotFound, "no charts") {
		t.Error("the same cause on the same ServiceMesh was recorded again")
	}
	if !w.news(recreated, meshv1alpha1.ReasonChartNotFound, "no charts") {
		t.Error("the cause on a ServiceMesh created again was not recorded")
	}
	w.end()
}
