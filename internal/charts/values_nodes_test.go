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

package charts_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"
	"testing"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// bytesAllocated is how many bytes f allocates.
func bytesAllocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// subcharts is a chart packing n subcharts as directories, each with values.
func subcharts(n int, values []byte) map[string][]byte {
	files := map[string][]byte{
		"istiod/Chart.yaml":        chartYAML(charts.Istiod, testVersion),
		"istiod/templates/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"),
	}
	for i := range n {
		name := fmt.Sprintf("sub%d", i)
		files["istiod/charts/"+name+"/Chart.yaml"] = chartYAML(name, "1.0.0")
		files["istiod/charts/"+name+"/values.yaml"] = values
	}
	return files
}

// The bound on a chart's decompressed size does not bound what loading it costs: Helm's loader parses
// the chart's values.yaml and Chart.yaml (and its subcharts') when it loads the chart, spending
// hundreds of bytes on every YAML node, and a node of flow YAML takes two bytes of text ("a,"). A
// chart of a few MiB of such values, served with a digest that checks out, would take more memory to
// load than the manager has. Such a chart is refused before it is loaded, naming the file; the real
// charts, whose values hold a few thousand nodes, load (every other test of Fetch loads them).
func TestRemoteFetcherBoundsTheNodesOfChartValues(t *testing.T) {
	const limit = 64 << 20

	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newHelmRepository(t, base, istiod)

	// 4 MiB of flow sequence, 2 Mi nodes.
	tiny := []byte("padding: [" + strings.Repeat("a,", 2<<20) + "a]\n")
	templates := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
	hostile := map[string]struct {
		files map[string][]byte
		file  string
	}{
		"values.yaml": {
			files: map[string][]byte{
				"istiod/Chart.yaml":        chartYAML(charts.Istiod, testVersion),
				"istiod/values.yaml":       tiny,
				"istiod/templates/cm.yaml": templates,
			},
			file: "istiod/values.yaml",
		},
		"Chart.yaml": {
			files: map[string][]byte{
				"istiod/Chart.yaml":        append(chartYAML(charts.Istiod, testVersion), tiny...),
				"istiod/templates/cm.yaml": templates,
			},
			file: "istiod/Chart.yaml",
		},
		"values.yaml of a subchart packed as an archive": {
			files: map[string][]byte{
				"istiod/Chart.yaml":        chartYAML(charts.Istiod, testVersion),
				"istiod/templates/cm.yaml": templates,
				"istiod/charts/sub.tgz": tarGz(t, map[string][]byte{
					"sub/Chart.yaml":  chartYAML("sub", "1.0.0"),
					"sub/values.yaml": tiny,
				}),
			},
			file: "sub/values.yaml",
		},
		"values.yaml of subcharts, each under the bound": {
			files: subcharts(6, []byte("padding: ["+strings.Repeat("a,", 40<<10)+"a]\n")),
			file:  "values.yaml",
		},
	}
	for name, tc := range hostile {
		t.Run(name, func(t *testing.T) {
			archive := tarGz(t, tc.files)
			sum := sha256.Sum256(archive)
			c := chartrepo.Chart{Metadata: &chartv2.Metadata{APIVersion: "v2", Name: charts.Istiod, Version: testVersion},
				File: istiod.File, Archive: archive, Digest: "sha256:" + hex.EncodeToString(sum[:])}
			r.Handle("GET /nodes/"+strings.ReplaceAll(name, " ", "-")+"/"+c.File, chartrepo.Content(c.Archive))
			serveIndex(t, r, "/nodes/"+strings.ReplaceAll(name, " ", "-"), chartrepo.Entry{Chart: c, URL: c.File, Digest: c.Digest})

			fetcher := charts.RemoteFetcher{HTTPClient: r.Client()}
			var err error
			used := bytesAllocated(func() {
				_, _, err = fetcher.Fetch(context.Background(), r.URL()+"/nodes/"+strings.ReplaceAll(name, " ", "-"), charts.Istiod, testVersion, charts.Credentials{})
			})
			t.Logf("fetching a chart archive of %d KiB allocated %d KiB", len(archive)>>10, used>>10)
			if err == nil {
				t.Errorf("a chart archive of %d KiB whose YAML is made of short nodes was loaded, which allocated %d MiB", len(archive)>>10, used>>20)
			} else {
				checkError(t, err, charts.ErrRepositoryUnreachable, "nodes")
				if !strings.Contains(err.Error(), tc.file) {
					t.Errorf("error %q does not name the file %s", err, tc.file)
				}
			}
			if used > limit {
				t.Errorf("Fetch allocated %d MiB for a chart archive of %d KiB, want at most %d MiB", used>>20, len(archive)>>10, limit>>20)
			}
		})
	}
}
