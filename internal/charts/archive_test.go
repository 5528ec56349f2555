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
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// tarGz packs files (path to content) as a gzip-compressed tar, as `helm package` does.
func tarGz(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	tw := tar.NewWriter(gz)
	for name, data := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// chartYAML is the Chart.yaml of a chart name at version.
func chartYAML(name, version string) []byte {
	return fmt.Appendf(nil, "apiVersion: v2\nname: %s\nversion: %s\n", name, version)
}

// The bound on a chart's decompressed size counts the subcharts it packs as archives of their own
// (charts/<name>.tgz), which Helm's loader decompresses too, each up to its own limit of 100 MiB: a
// chart of a few hundred KiB that packs a few such gzip bombs would otherwise take gigabytes once
// loaded, while its own decompressed size stays small.
func TestRemoteFetcherBoundsSubchartArchives(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newHelmRepository(t, base, istiod)

	// Two subcharts of 40 MiB each, 80 MiB in all; a few KiB packed.
	zeros := make([]byte, 40<<20)
	files := map[string][]byte{
		"istiod/Chart.yaml":        chartYAML(charts.Istiod, testVersion),
		"istiod/templates/cm.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n"),
	}
	for _, name := range []string{"one", "two"} {
		files["istiod/charts/"+name+".tgz"] = tarGz(t, map[string][]byte{
			name + "/Chart.yaml":          chartYAML(name, "1.0.0"),
			name + "/templates/zeros.txt": zeros,
		})
	}
	archive := tarGz(t, files)
	sum := sha256.Sum256(archive)
	nested := chartrepo.Chart{Metadata: &chartv2.Metadata{APIVersion: "v2", Name: charts.Istiod, Version: testVersion},
		File: istiod.File, Archive: archive, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	r.Handle("GET /nested/"+nested.File, chartrepo.Content(nested.Archive))
	serveIndex(t, r, "/nested", chartrepo.Entry{Chart: nested, URL: nested.File, Digest: nested.Digest})

	fetcher := charts.RemoteFetcher{HTTPClient: r.Client()}
	chart, _, err := fetcher.Fetch(context.Background(), r.URL()+"/nested", charts.Istiod, testVersion, charts.Credentials{})
	if err == nil {
		held := 0
		for _, dep := range chart.Dependencies() {
			for _, f := range dep.Raw {
				held += len(f.Data)
			}
		}
		t.Fatalf("a chart archive of %d KiB was loaded with %d subcharts holding %d MiB", len(archive)>>10, len(chart.Dependencies()), held>>20)
	}
	checkError(t, err, charts.ErrRepositoryUnreachable, "decompresses to more than")
}

// Archives nested deeper than subcharts of subcharts are refused: each level holds a decompressor, and
// one that went uncounted could be a gzip bomb.
func TestRemoteFetcherRefusesDeeplyNestedArchives(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newHelmRepository(t, base, istiod)

	// A chain of subcharts, each packed in the one before.
	inner := tarGz(t, map[string][]byte{"leaf/Chart.yaml": chartYAML("leaf", "1.0.0")})
	for i := range 12 {
		name := fmt.Sprintf("level%d", i)
		inner = tarGz(t, map[string][]byte{
			name + "/Chart.yaml":     chartYAML(name, "1.0.0"),
			name + "/charts/sub.tgz": inner,
		})
	}
	archive := tarGz(t, map[string][]byte{
		"istiod/Chart.yaml":     chartYAML(charts.Istiod, testVersion),
		"istiod/charts/sub.tgz": inner,
	})
	sum := sha256.Sum256(archive)
	nested := chartrepo.Chart{Metadata: &chartv2.Metadata{APIVersion: "v2", Name: charts.Istiod, Version: testVersion},
		File: istiod.File, Archive: archive, Digest: "sha256:" + hex.EncodeToString(sum[:])}
	r.Handle("GET /deep/"+nested.File, chartrepo.Content(nested.Archive))
	serveIndex(t, r, "/deep", chartrepo.Entry{Chart: nested, URL: nested.File, Digest: nested.Digest})

	fetcher := charts.RemoteFetcher{HTTPClient: r.Client()}
	_, _, err := fetcher.Fetch(context.Background(), r.URL()+"/deep", charts.Istiod, testVersion, charts.Credentials{})
	checkError(t, err, charts.ErrRepositoryUnreachable, "nests archives more than")
}
