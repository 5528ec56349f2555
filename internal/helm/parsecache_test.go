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

package helm

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// parseCounter counts parseYAML's calls.
type parseCounter struct{ all, large atomic.Int64 }

// countParses makes parseYAML count its calls for the test: all of them, and those of documents of
// parseCacheMinSize or more.
func countParses(t *testing.T) *parseCounter {
	t.Helper()
	n := &parseCounter{}
	parseYAML = func(doc string) (map[string]any, bool) {
		n.all.Add(1)
		if len(doc) >= parseCacheMinSize {
			n.large.Add(1)
		}
		return parseYAMLMap(doc)
	}
	t.Cleanup(func() { parseYAML = parseYAMLMap })
	return n
}

// largeDoc is a YAML document of at least size bytes, distinct for each seed, with values of every
// kind decoding gives.
func largeDoc(seed string, size int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kind: Doc\nmetadata: {name: %q, labels: {a: \"1\"}}\nspec:\n  num: 1.5\n  big: 9007199254740993\n  neg: -0.0\n  flag: yes\n  none: null\n  text: \"tab\\t<&> \\u00e9\"\n  items:\n", seed)
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "  - {name: item-%d, value: %d, ok: %t, tags: [x, \"y\"]}\n", i, i*7, i%2 == 0)
	}
	return b.String()
}

func TestParseCacheParsesALargeDocumentOnce(t *testing.T) {
	parses := countParses(t)
	doc := largeDoc(t.Name(), 3*parseCacheMinSize)
	want := fromYAMLRoundTrip(doc)
	if _, failed := want["Error"]; failed {
		t.Fatalf("the test's document does not parse: %v", want["Error"])
	}

	first := fromYAML(doc)
	if !reflect.DeepEqual(first, want) {
		t.Fatalf("fromYaml of the document differs from Helm's")
	}
	first["kind"] = "Changed" // a template may change what it was given
	second := fromYAML(doc)
	if n := parses.all.Load(); n != 1 {
		t.Errorf("the same large document was parsed %d times, want once", n)
	}
	if !reflect.DeepEqual(second, want) {
		t.Errorf("fromYaml of the document from the cache differs from Helm's (kind %v)", second["kind"])
	}
}

func TestParseCacheParsesSmallDocumentsEachTime(t *testing.T) {
	parses := countParses(t)
	doc := "a: 1\nb: [x, y]\n"
	for range 2 {
		if got, want := fromYAML(doc), fromYAMLRoundTrip(doc); !reflect.DeepEqual(got, want) {
			t.Fatalf("fromYaml(%q) = %v, Helm's gives %v", doc, got, want)
		}
	}
	if n := parses.all.Load(); n != 2 {
		t.Errorf("a small document was parsed %d times in two calls, want each time: nothing is kept of it", n)
	}
}

func TestParseCacheKeepsWithinItsBudget(t *testing.T) {
	parses := countParses(t)
	c := &parseCache{budget: parseCacheBudget}
	docs := make([]string, 4)
	for i := range docs {
		docs[i] = largeDoc(fmt.Sprintf("%s-%d", t.Name(), i), 2*parseCacheMinSize)
	}
	// Room for about two documents, compressed.
	c.parse(docs[0])
	c.budget = 2*c.size + c.size/2
	c.parse(docs[1])
	c.parse(docs[0]) // used again: docs[1] is now the least recently used
	c.parse(docs[2]) // evicts docs[1]
	if n := parses.all.Load(); n != 3 {
		t.Fatalf("%d parses, want 3 (docs[0] once, from the cache the second time)", n)
	}
	if c.size > c.budget || len(c.entries) != 2 || c.order.Len() != 2 {
		t.Fatalf("the cache holds %d bytes in %d entries (%d in order), want at most %d in 2", c.size, len(c.entries), c.order.Len(), c.budget)
	}
	c.parse(docs[0])
	c.parse(docs[2])
	if n := parses.all.Load(); n != 3 {
		t.Errorf("docs[0] or docs[2] was evicted: %d parses, want 3", n)
	}
	if got, want := c.parse(docs[1]); !reflect.DeepEqual(got, fromYAMLRoundTrip(docs[1])) || !want {
		t.Errorf("docs[1], parsed again, differs from Helm's")
	}
	if n := parses.all.Load(); n != 4 {
		t.Errorf("docs[1] was kept beyond the budget: %d parses, want 4", n)
	}
	total := 0
	for e := c.order.Front(); e != nil; e = e.Next() {
		total += len(e.Value.(*parseEntry).compressed)
	}
	if total != c.size || c.size > c.budget {
		t.Errorf("the entries hold %d bytes, the cache counts %d, its budget is %d", total, c.size, c.budget)
	}
}

// TestRenderFromTheParseCache renders the base chart as an install does with an empty parse cache, then
// twice at once from the cache it filled: the objects and the manifest are the same each time, and the large CRDs were
// parsed only by the first render.
func TestRenderFromTheParseCache(t *testing.T) {
	kept := parsed
	parsed = &parseCache{budget: parseCacheBudget}
	t.Cleanup(func() { parsed = kept })
	parses := countParses(t)
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	wantManifest, wantObjects, err := renderBaseAsInstall(chart)
	if err != nil {
		t.Fatal(err)
	}
	first := parses.large.Load()
	large := 0
	for _, f := range chart.Files {
		if f.Name == "files/crd-all.gen.yaml" {
			for _, crd := range strings.Split(string(f.Data), "\n---\n") {
				if len(crd) >= parseCacheMinSize {
					large++
				}
			}
		}
	}
	if large == 0 || len(parsed.entries) != large {
		t.Fatalf("the parse cache holds %d documents after rendering the base chart, want its %d CRDs of %d bytes or more",
			len(parsed.entries), large, parseCacheMinSize)
	}
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			manifest, objects, err := renderBaseAsInstall(chart)
			if err != nil {
				t.Errorf("render %d from the cache: %v", i, err)
				return
			}
			if manifest != wantManifest {
				t.Errorf("render %d from the cache wrote another manifest (%d bytes, the first %d)", i, len(manifest), len(wantManifest))
			}
			if !reflect.DeepEqual(objects, wantObjects) {
				t.Errorf("render %d from the cache gave other objects", i)
			}
		})
	}
	wg.Wait()
	if n := parses.large.Load(); n != first || first != int64(large) {
		t.Errorf("the first render parsed %d large documents (want %d), the renders from the cache %d (want none)", first, large, n-first)
	}
}
