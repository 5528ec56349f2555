//go:build istiod

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

package istiod_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshkeeper/meshkeeper/test/istiod"
)

// The mesh of BenchmarkSidecarScoping: 100 namespaces of 20 Services, 10 of them enrolled and scoped.
const (
	benchNamespaces = 100
	benchServices   = 20
	benchScoped     = 10
)

func benchNamespace(i int) string { return fmt.Sprintf("bench-%03d", i) }

// BenchmarkSidecarScoping measures, with the real istiod, what meshkeeper's Sidecar scoping saves a
// proxy: its CDS clusters and bytes before and after scoping, against a proxy of an unscoped namespace,
// and what one Service created in another namespace pushes to each (SotW and delta). Run with
// `make bench` (-benchtime 1x); results are in docs/performance.md.
func BenchmarkSidecarScoping(b *testing.B) {
	if b.N > 1 {
		b.Fatalf("one run is the measurement (it creates its objects once): run with -benchtime 1x, not %d", b.N)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for i := range benchNamespaces {
		wg.Go(func() { ensureNamespace(ctx, b, benchNamespace(i), benchServices, nil) })
		if i%8 == 7 {
			wg.Wait()
		}
	}
	wg.Wait()
	scopedProxy := istiod.Proxy{IP: "10.244.3.10", Pod: "web-1", Namespace: benchNamespace(0)}
	unscopedProxy := istiod.Proxy{IP: "10.244.3.11", Pod: "web-2", Namespace: benchNamespace(benchNamespaces - 1)}
	lastService := fmt.Sprintf("outbound|80||svc-%d.%s.svc.cluster.local", benchServices-1, benchNamespace(benchNamespaces-2))

	// Before scoping, once istiod knows every Service.
	var before istiod.Resources
	if err := waitFor(ctx, 2*time.Minute, func() (err error) {
		before, err = istiod.FetchCDS(ctx, pilot.GRPCAddr, scopedProxy, istiod.Delta)
		if err == nil && !before.Has(lastService) {
			err = fmt.Errorf("istiod has %d clusters so far", before.Count())
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}

	b.ResetTimer()
	enrolled := []string{`"app"`}
	for i := range benchScoped {
		enrolled = append(enrolled, `"`+benchNamespace(i)+`"`)
	}
	patchMesh(b, `{"injection": {"namespaces": [`+strings.Join(enrolled, ",")+`]}, "sidecarScoping": {"enabled": true}}`,
		`{"injection": {"namespaces": ["app"]}, "sidecarScoping": {"enabled": false}}`)
	for i := range benchScoped {
		meshPolicy(ctx, b, "Sidecar", benchNamespace(i), func(*unstructured.Unstructured) bool { return true })
	}
	var after istiod.Resources
	if err := waitFor(ctx, time.Minute, func() (err error) {
		after, err = istiod.FetchCDS(ctx, pilot.GRPCAddr, scopedProxy, istiod.Delta)
		if err == nil && after.Has(lastService) {
			err = fmt.Errorf("istiod has not applied the Sidecar yet")
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	unscoped, err := istiod.FetchCDS(ctx, pilot.GRPCAddr, unscopedProxy, istiod.Delta)
	if err != nil {
		b.Fatal(err)
	}
	saved := 100 * (1 - float64(after.Bytes)/float64(unscoped.Bytes))
	b.Logf("CDS of a proxy in %s: %d clusters, %d bytes before scoping; %d clusters, %d bytes after (%.1f%% fewer bytes than an unscoped proxy's %d clusters, %d bytes)",
		scopedProxy.Namespace, before.Count(), before.Bytes, after.Count(), after.Bytes, saved, unscoped.Count(), unscoped.Bytes)
	b.ReportMetric(float64(before.Bytes), "CDS-bytes-before")
	b.ReportMetric(float64(after.Bytes), "CDS-bytes-scoped")
	b.ReportMetric(float64(unscoped.Bytes), "CDS-bytes-unscoped")
	b.ReportMetric(float64(after.Count()), "clusters-scoped")
	b.ReportMetric(float64(unscoped.Count()), "clusters-unscoped")
	if saved < 90 {
		b.Errorf("scoped proxies receive %.1f%% fewer CDS bytes than unscoped ones; the target is at least 90%%", saved)
	}

	// One Service created in a namespace outside the scope: what each proxy is pushed.
	for _, mode := range []istiod.Mode{istiod.SotW, istiod.Delta} {
		streams, marks := cdsStreams(ctx, b, mode, map[string]istiod.Proxy{"scoped": scopedProxy, "unscoped": unscopedProxy})
		changed := benchNamespace(benchNamespaces - 2)
		if err := k8sClient.Create(ctx, service(changed, "new-"+string(mode), 80)); err != nil {
			b.Fatal(err)
		}
		for _, name := range []string{"unscoped", "scoped"} {
			pushed, err := streams[name].Quiet(ctx, marks[name], 2*time.Second)
			if err != nil {
				b.Fatal(err)
			}
			bytes, clusters := 0, 0
			for _, r := range pushed {
				if r.TypeURL == istiod.ClusterType {
					bytes += r.Bytes
					clusters += r.Resources
				}
			}
			b.Logf("%s: a new Service in %s pushed the %s proxy %d CDS response(s), %d clusters, %d bytes", mode, changed, name, len(pushed), clusters, bytes)
			b.ReportMetric(float64(bytes), fmt.Sprintf("push-bytes-%s-%s", strings.ToLower(string(mode)), name))
			if name == "scoped" && bytes > 0 {
				b.Errorf("%s: a change outside its scope pushed the scoped proxy %d bytes", mode, bytes)
			}
		}
	}
}
