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
	"errors"
	"sync/atomic"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// lister is discovery's group version endpoints: a group version it does not hold is NotFound, as the
// API server answers. Its watch caches are ready once coldCaches probes have been answered no.
type lister struct {
	served     map[string][]metav1.APIResource
	err        error
	asked      atomic.Int64
	coldCaches atomic.Int64
	probed     atomic.Int64
}

func (l *lister) WatchCacheReady(schema.GroupVersionResource) bool {
	l.probed.Add(1)
	return l.coldCaches.Add(-1) < 0
}

func (l *lister) ServerResourcesForGroupVersion(gv string) (*metav1.APIResourceList, error) {
	l.asked.Add(1)
	if l.err != nil {
		return nil, l.err
	}
	resources, ok := l.served[gv]
	if !ok {
		return nil, apierrors.NewNotFound(schema.GroupResource{}, "")
	}
	return &metav1.APIResourceList{GroupVersion: gv, APIResources: resources}, nil
}

func TestProbingMapperAsksTheMapperOnlyForListedKinds(t *testing.T) {
	d := newDiscovery()
	l := &lister{served: map[string][]metav1.APIResource{}}
	p := newProbingMapper(d, l)
	peer := render.PolicyKinds[0]
	mapping := func() error {
		_, err := p.RESTMapping(peer.GroupKind(), peer.Version)
		return err
	}

	// The group version is not served, then served without the kind: no match, and the mapper (which
	// rebuilds itself on every miss) is not asked.
	for range 3 {
		if err := mapping(); !meta.IsNoMatchError(err) {
			t.Fatalf("not served: got %v, want a no-match error", err)
		}
	}
	l.served[peer.GroupVersion().String()] = []metav1.APIResource{{Name: "others", Kind: "Other"}}
	if err := mapping(); !meta.IsNoMatchError(err) {
		t.Fatalf("kind not listed: got %v, want a no-match error", err)
	}
	if n := d.asked.Load(); n != 0 {
		t.Fatalf("the mapper was asked %d times for a kind discovery does not list", n)
	}

	// Listed: the mapper maps it, and from then on only the mapper is asked.
	l.served[peer.GroupVersion().String()] = []metav1.APIResource{{Name: "peerauthentications", Kind: peer.Kind}}
	d.serve(peer)
	for range 3 {
		if err := mapping(); err != nil {
			t.Fatalf("served: %v", err)
		}
	}
	if asked, mapped := l.asked.Load(), d.asked.Load(); asked != 5 || mapped != 3 {
		t.Fatalf("discovery asked %d times (want 5: once per call until mapped), the mapper %d (want 3)", asked, mapped)
	}
}

func TestProbingMapperPassesOnDiscoveryErrors(t *testing.T) {
	boom := errors.New("connection refused")
	p := newProbingMapper(newDiscovery(), &lister{err: boom})
	peer := render.PolicyKinds[0]
	if _, err := p.RESTMapping(peer.GroupKind(), peer.Version); !errors.Is(err, boom) || meta.IsNoMatchError(err) {
		t.Fatalf("got %v, want the discovery error, not a no-match", err)
	}
}

// The API server answers a watch of a kind whose watch cache is still loading with 429 and Retry-After:
// 1, so a kind counts as served only once its cache serves: the watch its callers start then is not
// held back a second.
func TestProbingMapperWaitsForTheWatchCache(t *testing.T) {
	d := newDiscovery()
	peer := render.PolicyKinds[0]
	l := &lister{served: map[string][]metav1.APIResource{
		peer.GroupVersion().String(): {{Name: "peerauthentications", Kind: peer.Kind}}}}
	l.coldCaches.Store(2)
	d.serve(peer)
	p := newProbingMapper(d, l)
	mapping := func() error {
		_, err := p.RESTMapping(peer.GroupKind(), peer.Version)
		return err
	}
	for i := range 2 {
		if err := mapping(); !meta.IsNoMatchError(err) {
			t.Fatalf("call %d, the watch cache loading: got %v, want a no-match error", i+1, err)
		}
	}
	for range 3 {
		if err := mapping(); err != nil {
			t.Fatalf("the watch cache serving: %v", err)
		}
	}
	if n := l.probed.Load(); n != 3 {
		t.Fatalf("the watch cache was probed %d times, want 3 (until it served, never after)", n)
	}
}
