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
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// flakyLister is discovery's group version endpoints answering failures times with err before it
// answers as l does.
type flakyLister struct {
	*lister
	failures atomic.Int64
	err      error
}

func (f *flakyLister) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.lister.ServerResourcesForGroupVersion(gv)
}

// flakyMapper is a REST mapper that answers failures times with err before it answers as mapper does.
type flakyMapper struct {
	mapper
	failures atomic.Int64
	err      error
}

func (f *flakyMapper) RESTMapping(gk schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	if f.failures.Add(-1) >= 0 {
		return nil, f.err
	}
	return f.mapper.RESTMapping(gk, versions...)
}

// servedDiscovery is discovery serving every policy kind, with their watch caches ready.
func servedDiscovery() (*discovery, *lister) {
	d := newDiscovery()
	d.serve(render.PolicyKinds...)
	l := &lister{served: map[string][]metav1.APIResource{}}
	for _, gvk := range render.PolicyKinds {
		gv := gvk.GroupVersion().String()
		l.served[gv] = append(l.served[gv], metav1.APIResource{Name: gvk.Kind, Kind: gvk.Kind})
	}
	return d, l
}

// A discovery lookup that fails only because the API server could not answer for a moment (a 503, as
// discovery answers on the first reconcile after a leader failover while the API server restarts, or
// the REST mapper's aggregated discovery error holding one) says nothing about whether the Istio kinds
// are served: WatchServed asks again a moment later rather than answer false, on which the ServiceMesh
// reports PoliciesApplied False IstioCRDsMissing ("does not serve PeerAuthentication and Sidecar: not yet").
func TestKindWatchesAskAgainWhenDiscoveryFailsForAMoment(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	peer := render.PolicyKinds[0].GroupVersion()
	for name, mapperOf := range map[string]func() mapper{
		"a 503 from discovery, through the probing mapper": func() mapper {
			d, l := servedDiscovery()
			f := &flakyLister{lister: l, err: unavailable}
			f.failures.Store(1)
			return newProbingMapper(d, f)
		},
		"the REST mapper's aggregated discovery error holding a 503": func() mapper {
			d, _ := servedDiscovery()
			failed := apiutil.ErrResourceDiscoveryFailed{peer: unavailable}
			f := &flakyMapper{mapper: d, err: &failed}
			f.failures.Store(1)
			return f
		},
		"the REST mapper failing to get the server's groups, timed out": func() mapper {
			d, _ := servedDiscovery()
			f := &flakyMapper{mapper: d, err: fmt.Errorf("failed to get server groups: %w", apierrors.NewTimeoutError("the request timed out", 1))}
			f.failures.Store(2)
			return f
		},
	} {
		t.Run(name, func(t *testing.T) {
			c := &countingController{}
			w := &KindWatches{mapper: mapperOf(), controller: c, kinds: render.PolicyKinds, recheck: time.Hour,
				source: func(schema.GroupVersionKind) source.Source { return nil }, retry: time.Millisecond}
			if !w.WatchServed(context.Background()) {
				t.Fatal("WatchServed = false after discovery failed for a moment, with every kind served; want true")
			}
			if c.watches != len(render.PolicyKinds) {
				t.Fatalf("%d watches, want one per kind", c.watches)
			}
			if err := w.DiscoveryFailed(); err != nil {
				t.Fatalf("DiscoveryFailed = %v once discovery answered, want nil", err)
			}
		})
	}
}

// A discovery failure that lasts, or that is no failure of the moment (a 403: meshkeeper may not read
// discovery), is not taken for the kinds being served: WatchServed answers false, and DiscoveryFailed
// says that discovery failed, not that the kinds are missing. Once discovery answers again (KindsServed
// calls Forget before it wakes the callers), the next call finds the kinds.
func TestKindWatchesReportADiscoveryFailureThatLasts(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	forbidden := apierrors.NewForbidden(schema.GroupResource{}, "", errors.New("meshkeeper may not read discovery"))
	for name, tc := range map[string]struct {
		err       error
		failures  int64
		wantAsked int64
	}{
		"a 503 that lasts":                              {err: unavailable, failures: 100, wantAsked: lookupAttempts},
		"a refusal, not asked again at once":            {err: forbidden, failures: 100, wantAsked: 1},
		"the kinds not served are no discovery failure": {},
	} {
		t.Run(name, func(t *testing.T) {
			d, l := servedDiscovery()
			if tc.err == nil {
				d, l = newDiscovery(), &lister{served: map[string][]metav1.APIResource{}}
			}
			f := &flakyLister{lister: l, err: tc.err}
			f.failures.Store(tc.failures)
			w := &KindWatches{mapper: newProbingMapper(d, f), controller: &countingController{}, kinds: render.PolicyKinds,
				recheck: time.Hour, source: func(schema.GroupVersionKind) source.Source { return nil }, retry: time.Millisecond}
			if w.WatchServed(context.Background()) {
				t.Fatal("WatchServed = true, want false")
			}
			failed := w.DiscoveryFailed()
			if tc.err == nil {
				if failed != nil {
					t.Fatalf("DiscoveryFailed = %v with the kinds not served, want nil", failed)
				}
				return
			}
			if !errors.Is(failed, tc.err) {
				t.Fatalf("DiscoveryFailed = %v, want %v", failed, tc.err)
			}
			if asked := l.asked.Load() + (tc.failures - f.failures.Load()); asked != tc.wantAsked {
				t.Errorf("discovery asked %d times, want %d", asked, tc.wantAsked)
			}
			// Within recheck the callers hear false without asking: each awaits KindsServed.
			before := tc.failures - f.failures.Load()
			if w.WatchServed(context.Background()) || tc.failures-f.failures.Load() != before {
				t.Error("a call within recheck of the failure asked discovery again")
			}
			f.failures.Store(0)
			w.Forget()
			if !w.WatchServed(context.Background()) {
				t.Fatal("WatchServed = false once discovery answers and KindsServed said so")
			}
			if err := w.DiscoveryFailed(); err != nil {
				t.Fatalf("DiscoveryFailed = %v once discovery answered, want nil", err)
			}
		})
	}
}
