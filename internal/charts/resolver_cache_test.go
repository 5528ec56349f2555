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

package charts

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
)

// countingFetcher serves a made-up chart for any name and version and counts what it was asked for.
type countingFetcher struct {
	mu      sync.Mutex
	fetches map[string]int // by version
}

func (f *countingFetcher) Fetch(_ context.Context, _, name, version string, _ Credentials) (*chartv2.Chart, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fetches == nil {
		f.fetches = map[string]int{}
	}
	f.fetches[version]++
	chart := &chartv2.Chart{Metadata: &chartv2.Metadata{Name: name, Version: version}}
	return chart, name + "@" + version, nil
}

func (f *countingFetcher) count(version string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.fetches[version]
}

func (f *countingFetcher) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.fetches {
		n += c
	}
	return n
}

// TestBuiltinChartsLoadedOnce: the built-in charts are the same whatever patch release of their minor
// version asks for them, so every such version gets the same charts, loaded once, and nothing is kept
// per version. A manager upgraded through a patch release a month would otherwise keep another copy
// of the charts (over a megabyte) for each.
func TestBuiltinChartsLoadedOnce(t *testing.T) {
	r := &CachingResolver{}
	ctx := context.Background()
	first, err := r.Resolve(ctx, Source{Version: BuiltinVersion})
	if err != nil {
		t.Fatal(err)
	}
	firstCNI, err := r.Resolve(ctx, Source{Version: BuiltinVersion, CNI: true})
	if err != nil {
		t.Fatal(err)
	}
	if firstCNI.CNI == nil || first.CNI != nil {
		t.Fatalf("CNI chart: %v with CNI, %v without; want it only with CNI", firstCNI.CNI, first.CNI)
	}
	if firstCNI.Base != first.Base || firstCNI.Istiod != first.Istiod {
		t.Error("the sets with and without the CNI chart have different base or istiod charts")
	}
	for patch := 0; patch <= 9; patch++ {
		version := fmt.Sprintf("%s.%d", minor(BuiltinVersion), patch)
		for _, cni := range []bool{false, true} {
			set, err := r.Resolve(ctx, Source{Version: version, CNI: cni})
			if err != nil {
				t.Fatalf("%s (CNI %t): %v", version, cni, err)
			}
			want := first
			if cni {
				want = firstCNI
			}
			if set.Base != want.Base || set.Istiod != want.Istiod || set.CNI != want.CNI {
				t.Errorf("%s (CNI %t) got charts other than %s's", version, cni, BuiltinVersion)
			}
			if set.Version != BuiltinVersion {
				t.Errorf("%s (CNI %t): set version %s, want the built-in charts' %s", version, cni, set.Version, BuiltinVersion)
			}
		}
	}
	if n := len(r.cache); n > 2 {
		t.Errorf("the resolver keeps %d sets for the built-in charts, want at most 2", n)
	}
}

// TestRepositorySetsIdleDropped: the sets fetched from a repository are kept while they are asked for,
// not for every version ever asked for. A version asked for on every reconcile (one in use) is served
// from the cache however many others come and go; one not asked for within repositorySetIdle is
// dropped when another set is fetched, and fetched again if it is asked for later.
func TestRepositorySetsIdleDropped(t *testing.T) {
	const repository = "https://charts.example.com/istio"
	fetcher := &countingFetcher{}
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &CachingResolver{Fetcher: fetcher, Policy: Policy{Repositories: []string{repository}},
		now: func() time.Time { return clock }}
	ctx := context.Background()
	version := func(i int) string { return fmt.Sprintf("1.%d.0", 40+i) }
	resolve := func(v string) Set {
		t.Helper()
		set, err := r.Resolve(ctx, Source{Repository: repository, Version: v})
		if err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		return set
	}

	const inUse = "1.39.0"
	first := resolve(inUse)
	const versions = 20
	for i := range versions {
		clock = clock.Add(2 * repositorySetIdle)
		if set := resolve(inUse); set != first {
			t.Fatalf("step %d: the version in use was served another set", i)
		}
		resolve(version(i))
		if n := len(r.cache); n > 2 {
			t.Fatalf("after %d versions the resolver keeps %d sets, want at most 2: the one in use and the newest", i+1, n)
		}
	}
	if n := fetcher.count(inUse); n != 2 {
		t.Errorf("the version in use fetched %d charts, want 2: once", n)
	}
	for i := range versions {
		if n := fetcher.count(version(i)); n != 2 {
			t.Errorf("%s fetched %d charts, want 2", version(i), n)
		}
	}

	// Within the idle period a set is kept when others are fetched.
	newest := resolve(version(versions - 1))
	clock = clock.Add(repositorySetIdle)
	resolve(version(versions))
	if set := resolve(version(versions - 1)); set != newest {
		t.Errorf("%s was dropped after %s without being asked for, want it kept", version(versions-1), repositorySetIdle)
	}

	// An old version was dropped: asked for again, it is fetched again.
	resolve(version(0))
	if n := fetcher.count(version(0)); n != 4 {
		t.Errorf("%s fetched %d charts in all, want 4: dropped, then fetched again", version(0), n)
	}
}

// TestRepositorySetsInUseKept: every reconcile resolves the mesh's version and those of all its
// installed revisions in the same order, and a mesh may keep many revisions installed while pods
// still use them. However many sets are in use, each is fetched once and then served from the cache,
// so a reconcile neither downloads them again nor depends on the repository being reachable.
func TestRepositorySetsInUseKept(t *testing.T) {
	const repository = "https://charts.example.com/istio"
	fetcher := &countingFetcher{}
	r := &CachingResolver{Fetcher: fetcher, Policy: Policy{Repositories: []string{repository}}}
	ctx := context.Background()
	const inUse = 7
	for reconcile := range 3 {
		for i := range inUse {
			v := fmt.Sprintf("1.%d.0", 40+i)
			if _, err := r.Resolve(ctx, Source{Repository: repository, Version: v}); err != nil {
				t.Fatalf("reconcile %d, %s: %v", reconcile, v, err)
			}
		}
	}
	if n := fetcher.total(); n != 2*inUse {
		t.Errorf("%d charts fetched over 3 reconciles of a mesh with %d versions in use, want %d: each set once", n, inUse, 2*inUse)
	}
}

// TestResolveConcurrently resolves built-in and repository sets from many goroutines at once (run
// with -race): each caller gets the one set kept for its source.
func TestResolveConcurrently(t *testing.T) {
	const repository = "oci://registry.example.com/istio"
	fetcher := &countingFetcher{}
	r := &CachingResolver{Fetcher: fetcher, Policy: Policy{Repositories: []string{repository}}}
	ctx := context.Background()
	builtin, err := r.Resolve(ctx, Source{Version: BuiltinVersion, CNI: true})
	if err != nil {
		t.Fatal(err)
	}

	const versions = 12
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				source := Source{Repository: repository, Version: fmt.Sprintf("1.%d.0", 40+(g+i)%versions)}
				if i%3 == 0 {
					source = Source{Version: fmt.Sprintf("%s.%d", minor(BuiltinVersion), i%10), CNI: true}
				}
				set, err := r.Resolve(ctx, source)
				if err != nil {
					t.Error(err)
					return
				}
				if source.Repository == "" && set != builtin {
					t.Errorf("%s got other built-in charts", source.Version)
				}
				if source.Repository != "" && (set.Version != source.Version || set.Istiod.Metadata.Version != source.Version) {
					t.Errorf("%s got the set of %s", source.Version, set.Version)
				}
			}
		})
	}
	wg.Wait()
	if n := len(r.cache); n != versions {
		t.Errorf("the resolver keeps %d sets, want the %d asked for", n, versions)
	}
	if n := fetcher.total(); n != 2*versions {
		t.Errorf("%d charts fetched for %d versions, want 2 each", n, versions)
	}
}

// After a quiet spell without reconciles, a new version fetched does not drop the sets the last
// reconcile asked for: idle is measured from that reconcile, not from now.
func TestRepositorySetsKeptAcrossAQuietSpell(t *testing.T) {
	const repository = "https://charts.example.com/istio"
	fetcher := &countingFetcher{}
	now := time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)
	r := &CachingResolver{Fetcher: fetcher, Policy: Policy{Repositories: []string{repository}}, now: func() time.Time { return now }}
	ctx := context.Background()
	resolve := func(versions ...string) {
		t.Helper()
		for _, v := range versions {
			if _, err := r.Resolve(ctx, Source{Repository: repository, Version: v}); err != nil {
				t.Fatalf("%s: %v", v, err)
			}
		}
	}
	resolve("1.40.0", "1.41.0")
	now = now.Add(5 * time.Hour)
	resolve("1.42.0", "1.40.0", "1.41.0")
	if n := fetcher.total(); n != 6 {
		t.Errorf("%d charts fetched, want 6: the sets in use were dropped when a new one came after a quiet spell", n)
	}
}
