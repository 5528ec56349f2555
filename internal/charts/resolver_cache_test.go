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

// TestRepositorySetsBounded: the sets fetched from a repository are kept for the versions asked for
// lately, not for every version ever asked for; the most recent ones are served without a fetch.
func TestRepositorySetsBounded(t *testing.T) {
	const repository = "https://charts.example.com/istio"
	fetcher := &countingFetcher{}
	r := &CachingResolver{Fetcher: fetcher, Policy: Policy{Repositories: []string{repository}}}
	ctx := context.Background()
	version := func(i int) string { return fmt.Sprintf("1.%d.0", 40+i) }

	sets := map[string]Set{}
	const versions = 20
	for i := range versions {
		set, err := r.Resolve(ctx, Source{Repository: repository, Version: version(i)})
		if err != nil {
			t.Fatal(err)
		}
		sets[version(i)] = set
		if n := len(r.cache); n > maxRepositorySets {
			t.Fatalf("after %d versions the resolver keeps %d sets, want at most %d", i+1, n, maxRepositorySets)
		}
	}
	if n := fetcher.total(); n != 2*versions {
		t.Fatalf("%d fetches for %d versions, want 2 each", n, versions)
	}

	// The most recent versions are kept: asked for again, they are served as they were.
	for i := versions - maxRepositorySets; i < versions; i++ {
		v := version(i)
		set, err := r.Resolve(ctx, Source{Repository: repository, Version: v})
		if err != nil {
			t.Fatal(err)
		}
		if set != sets[v] {
			t.Errorf("%s was served another set the second time", v)
		}
		if n := fetcher.count(v); n != 2 {
			t.Errorf("%s fetched %d charts, want 2: the second Resolve fetched again", v, n)
		}
	}

	// A version in use is asked for on every reconcile, so it stays while others come and go.
	inUse := version(versions - 1)
	for i := versions; i < versions+3*maxRepositorySets; i++ {
		for _, v := range []string{inUse, version(i)} {
			if _, err := r.Resolve(ctx, Source{Repository: repository, Version: v}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if set, err := r.Resolve(ctx, Source{Repository: repository, Version: inUse}); err != nil || set != sets[inUse] {
		t.Errorf("the version in use was served another set (error %v)", err)
	}
	if n := fetcher.count(inUse); n != 2 {
		t.Errorf("the version in use fetched %d charts, want 2", n)
	}

	// The oldest was dropped: it is fetched again.
	if _, err := r.Resolve(ctx, Source{Repository: repository, Version: version(0)}); err != nil {
		t.Fatal(err)
	}
	if n := fetcher.count(version(0)); n != 4 {
		t.Errorf("%s fetched %d charts in all, want 4: dropped, then fetched again", version(0), n)
	}
	if n := len(r.cache); n > maxRepositorySets {
		t.Errorf("the resolver keeps %d sets, want at most %d", n, maxRepositorySets)
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

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				source := Source{Repository: repository, Version: fmt.Sprintf("1.%d.0", 40+(g+i)%(2*maxRepositorySets))}
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
	if n := len(r.cache); n > maxRepositorySets {
		t.Errorf("the resolver keeps %d sets, want at most %d", n, maxRepositorySets)
	}
}
