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
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"unicode/utf16"
)

// realisticIndex is an index of entries as `helm repo index` writes them for Istio's charts, n of
// them: a few hundred bytes, a couple of dozen nodes each.
func realisticIndex(n int) []byte {
	var b bytes.Buffer
	b.WriteString("apiVersion: v1\nentries:\n  istiod:\n")
	for i := range n {
		version := fmt.Sprintf("1.%d.%d", i/20, i%20)
		fmt.Fprintf(&b, `  - apiVersion: v2
    appVersion: %[1]s
    created: "2026-11-01T00:00:00.123456789Z"
    description: Helm chart for istio control plane
    digest: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0
    icon: https://istio.io/latest/favicons/android-192x192.png
    keywords:
    - istio
    - istiod
    - istio-discovery
    name: istiod
    sources:
    - https://github.com/istio/istio
    type: application
    urls:
    - https://istio-release.storage.googleapis.com/charts/istiod-%[1]s.tgz
    version: %[1]s
`, version)
	}
	b.WriteString("generated: \"2026-11-01T00:00:00Z\"\n")
	return b.Bytes()
}

// utf16LE is s in UTF-16, little-endian, after a byte order mark: the YAML parser reads that too.
func utf16LE(s string) []byte {
	b := []byte{0xff, 0xfe}
	for _, r := range utf16.Encode([]rune(s)) {
		b = append(b, byte(r), byte(r>>8))
	}
	return b
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// An index's size in bytes does not bound what parsing it costs: the YAML parser spends hundreds of
// bytes on every node, and a node of flow YAML takes two bytes of text ("a,"), so an index well within
// maxIndexBytes that is made of short nodes takes gigabytes to parse, far beyond the manager's memory
// limit. parseIndex refuses an index with more nodes than a real one has, before parsing it, and
// still reads a real one of thousands of entries.
func TestParseIndexBoundsItsNodes(t *testing.T) {
	const limit = 64 << 20

	hostile := map[string][]byte{
		"flow sequence":  []byte("apiVersion: v1\nentries: {}\npadding: [" + strings.Repeat("a,", 1<<20) + "a]\n"),
		"flow mapping":   []byte("apiVersion: v1\nentries: {}\npadding: {" + strings.Repeat("a,", 1<<20) + "a}\n"),
		"block sequence": []byte("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("- a\n", 1<<20)),
		"JSON entries":   []byte(`{"apiVersion":"v1","entries":{"istiod":[` + strings.Repeat("{},", 1<<20) + `{}]}}`),
		// YAML's other line breaks, which the parser takes as line breaks and as the blank after "-".
		"block sequence broken by NEL": []byte("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("  -\u0085", 1<<20)),
		"block sequence broken by LS":  []byte("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("  -\u2028", 1<<20)),
		"block sequence broken by PS":  []byte("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("  -\u2029", 1<<20)),
		"UTF-16, broken by NEL":        utf16LE("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("  -\u0085", 1<<19)),
		"block sequence broken by CR":  []byte("apiVersion: v1\nentries: {}\npadding:\n" + strings.Repeat("  - a\r", 1<<20)),
	}
	for name, data := range hostile {
		t.Run(name, func(t *testing.T) {
			var err error
			used := allocated(func() { _, err = parseIndex(data) })
			if err == nil {
				t.Errorf("an index of %d KiB made of short nodes was accepted, parsing it allocated %d MiB", len(data)>>10, used>>20)
			} else if !strings.Contains(err.Error(), "nodes") {
				t.Errorf("error %q does not say the index has too many nodes", err)
			}
			if used > limit {
				t.Errorf("parseIndex allocated %d MiB for an index of %d KiB, want at most %d MiB", used>>20, len(data)>>10, limit>>20)
			}
		})
	}

	t.Run("real index", func(t *testing.T) {
		const entries = 6000
		data := realisticIndex(entries)
		index, err := parseIndex(data)
		if err != nil {
			t.Fatalf("an index of %d entries (%d KiB) was refused: %v", entries, len(data)>>10, err)
		}
		if n := len(index.Entries[Istiod]); n != entries {
			t.Errorf("the index has %d entries, want %d", n, entries)
		}
	})
}
