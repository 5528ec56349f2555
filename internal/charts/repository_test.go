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
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// testVersion is a version the built-in charts are not: only a repository can serve it.
const testVersion = "1.30.2"

// packageChart is a built-in chart re-versioned and packaged as a repository would serve it.
func packageChart(t *testing.T, name, version string) chartrepo.Chart {
	t.Helper()
	c, err := chartrepo.Package(name, version)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// refusedAddr is an address on 127.0.0.1 that refuses connections.
func refusedAddr(t *testing.T) string {
	t.Helper()
	addr, err := chartrepo.RefusedAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// bare is a digest without its "sha256:" prefix, as `helm repo index` writes it.
func bare(c chartrepo.Chart) string { return strings.TrimPrefix(c.Digest, "sha256:") }

// newHelmRepository starts an HTTPS Helm repository serving base, istiod and more, with sibling
// repositories under the same server that are broken in one way each.
func newHelmRepository(t *testing.T, base, istiod chartrepo.Chart, more ...chartrepo.Chart) *chartrepo.Repo {
	t.Helper()
	// The repository at the root points to its archives by relative URLs with bare digests, as
	// `helm repo index` writes them.
	r, err := chartrepo.ServeHTTPS(append([]chartrepo.Chart{base, istiod}, more...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)

	// A repository that accepts the request and never answers.
	r.Handle("/slow/", http.HandlerFunc(func(_ http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	// One that points to them by absolute URLs with prefixed digests, as other tools write them.
	serveIndex(t, r, "/absolute",
		chartrepo.Entry{Chart: base, URL: r.URL() + "/" + base.File, Digest: base.Digest},
		chartrepo.Entry{Chart: istiod, URL: r.URL() + "/" + istiod.File, Digest: istiod.Digest})
	// One whose index has a digest for istiod that is not the archive's.
	serveIndex(t, r, "/tampered", chartrepo.Entry{Chart: istiod, URL: r.URL() + "/" + istiod.File, Digest: bare(base)})
	// One that serves the base archive as istiod.
	serveIndex(t, r, "/mislabeled", chartrepo.Entry{Chart: istiod, URL: r.URL() + "/" + base.File, Digest: bare(base)})
	// One whose index is not an index.
	r.Handle("GET /malformed/index.yaml", chartrepo.Content([]byte("apiVersion: v1\nentries: [istiod\n")))
	// One whose index lists an archive that is not there.
	serveIndex(t, r, "/missing-archive", chartrepo.Entry{Chart: istiod, URL: "gone/" + istiod.File, Digest: bare(istiod)})
	// One whose index states no digest for its archive.
	serveIndex(t, r, "/no-digest", chartrepo.Entry{Chart: istiod, URL: r.URL() + "/" + istiod.File})
	// One whose index, served over https, lists its archive over plain http.
	serveIndex(t, r, "/plain-http-archive", chartrepo.Entry{Chart: istiod,
		URL: strings.Replace(r.URL(), "https://", "http://", 1) + "/" + istiod.File, Digest: bare(istiod)})
	// One whose index redirects to plain http.
	r.Handle("GET /redirect-to-http/index.yaml", http.RedirectHandler(strings.Replace(r.URL(), "https://", "http://", 1)+"/index.yaml", http.StatusFound))
	// One whose index redirects, over https, to the one with absolute URLs.
	r.Handle("GET /redirect-to-https/index.yaml", http.RedirectHandler(r.URL()+"/absolute/index.yaml", http.StatusFound))
	// One whose archive is small but decompresses to more than meshkeeper holds in memory.
	bomb := gzipBomb(t, 80<<20)
	r.Handle("GET /bomb/"+istiod.File, chartrepo.Content(bomb.Archive))
	serveIndex(t, r, "/bomb", chartrepo.Entry{Chart: chartrepo.Chart{Metadata: istiod.Metadata, File: istiod.File, Archive: bomb.Archive},
		URL: istiod.File, Digest: bare(bomb)})
	// And /not-a-repository, with no index at all: the repository answers 404 to every path it does
	// not serve.
	return r
}

// gzipBomb is a gzip archive of size zero bytes: a few dozen KiB packed.
func gzipBomb(t *testing.T, size int) chartrepo.Chart {
	t.Helper()
	var buf bytes.Buffer
	w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range size >> 20 {
		if _, err := w.Write(zeros); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(buf.Bytes())
	return chartrepo.Chart{Archive: buf.Bytes(), Digest: "sha256:" + hex.EncodeToString(sum[:])}
}

// serveIndex serves an index.yaml listing entries at dir of r.
func serveIndex(t *testing.T, r *chartrepo.Repo, dir string, entries ...chartrepo.Entry) {
	t.Helper()
	index, err := chartrepo.Index(entries...)
	if err != nil {
		t.Fatal(err)
	}
	r.Handle("GET "+dir+"/index.yaml", chartrepo.Content(index))
}

// checkFetched asserts a fetch returned the chart that was packaged.
func checkFetched(t *testing.T, chart *chartv2.Chart, digest string, want chartrepo.Chart) {
	t.Helper()
	if chart == nil {
		t.Fatal("no chart")
	}
	if chart.Metadata.Name != want.Metadata.Name || chart.Metadata.Version != want.Metadata.Version {
		t.Errorf("chart = %s %s, want %s %s", chart.Metadata.Name, chart.Metadata.Version, want.Metadata.Name, want.Metadata.Version)
	}
	if digest != want.Digest {
		t.Errorf("digest = %s, want %s", digest, want.Digest)
	}
	if len(chart.Templates) == 0 {
		t.Error("the chart has no templates")
	}
}

// checkError asserts err is of the class want (nil: no error) and mentions every string of mention.
func checkError(t *testing.T, err, want error, mention ...string) {
	t.Helper()
	if want == nil {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want one wrapping %q", err, want)
	}
	t.Logf("error: %v", err)
	// The two classes exclude each other: the controller retries one and not the other.
	for _, other := range []error{charts.ErrChartNotFound, charts.ErrRepositoryUnreachable} {
		if other != want && errors.Is(err, other) {
			t.Errorf("error %v wraps both %q and %q", err, want, other)
		}
	}
	for _, s := range mention {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

func TestRemoteFetcherHelmRepository(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newHelmRepository(t, base, istiod)
	trusting := charts.RemoteFetcher{HTTPClient: r.Client()}
	refused := "https://" + refusedAddr(t)

	cases := []struct {
		name       string
		fetcher    charts.RemoteFetcher
		repository string
		chart      string
		version    string
		timeout    time.Duration
		want       *chartrepo.Chart
		wantErr    error
		mention    []string
	}{
		{name: "base, relative URL", fetcher: trusting, repository: r.URL(),
			chart: charts.Base, version: testVersion, want: &base},
		{name: "istiod, relative URL", fetcher: trusting, repository: r.URL() + "/",
			chart: charts.Istiod, version: testVersion, want: &istiod},
		{name: "istiod, absolute URL and prefixed digest", fetcher: trusting, repository: r.URL() + "/absolute",
			chart: charts.Istiod, version: testVersion, want: &istiod},
		{name: "version not found", fetcher: trusting, repository: r.URL(),
			chart: charts.Istiod, version: "1.30.3", wantErr: charts.ErrChartNotFound,
			mention: []string{r.URL(), charts.Istiod, "1.30.3"}},
		{name: "only an exact version matches", fetcher: trusting, repository: r.URL(),
			chart: charts.Istiod, version: "1.30", wantErr: charts.ErrChartNotFound},
		{name: "chart not found", fetcher: trusting, repository: r.URL(),
			chart: "ztunnel", version: testVersion, wantErr: charts.ErrChartNotFound,
			mention: []string{r.URL(), "ztunnel", testVersion}},
		{name: "no index.yaml", fetcher: trusting, repository: r.URL() + "/not-a-repository",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable,
			mention: []string{"not a Helm repository", "404"}},
		{name: "malformed index", fetcher: trusting, repository: r.URL() + "/malformed",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"malformed"}},
		{name: "digest mismatch", fetcher: trusting, repository: r.URL() + "/tampered",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable,
			mention: []string{"digest mismatch", bare(base), istiod.Digest}},
		{name: "archive of another chart", fetcher: trusting, repository: r.URL() + "/mislabeled",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable,
			mention: []string{"serves chart base " + testVersion}},
		{name: "archive missing", fetcher: trusting, repository: r.URL() + "/missing-archive",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"404"}},
		{name: "no digest in the index", fetcher: trusting, repository: r.URL() + "/no-digest",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"without a digest"}},
		{name: "archive over plain http", fetcher: trusting, repository: r.URL() + "/plain-http-archive",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"not an https URL"}},
		{name: "redirect to plain http", fetcher: trusting, repository: r.URL() + "/redirect-to-http",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"refusing the redirect", "not https"}},
		{name: "redirect within https", fetcher: trusting, repository: r.URL() + "/redirect-to-https",
			chart: charts.Istiod, version: testVersion, want: &istiod},
		{name: "archive that decompresses beyond the bound", fetcher: trusting, repository: r.URL() + "/bomb",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"decompresses to more than"}},
		{name: "user information never printed", fetcher: trusting, repository: strings.Replace(r.URL(), "https://", "https://admin:s3cr3t@", 1) + "/not-a-repository",
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"not a Helm repository"}},
		{name: "untrusted certificate", fetcher: charts.RemoteFetcher{}, repository: r.URL(),
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"certificate"}},
		{name: "connection refused", fetcher: trusting, repository: refused,
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"refused"}},
		{name: "no answer before the deadline", fetcher: trusting, repository: r.URL() + "/slow",
			chart: charts.Istiod, version: testVersion, timeout: 200 * time.Millisecond, wantErr: charts.ErrRepositoryUnreachable},
		{name: "plain http", fetcher: trusting, repository: strings.Replace(r.URL(), "https://", "http://", 1),
			chart: charts.Istiod, version: testVersion, wantErr: charts.ErrRepositoryUnreachable, mention: []string{"neither"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			start := time.Now()
			chart, digest, err := tc.fetcher.Fetch(ctx, tc.repository, tc.chart, tc.version, charts.Credentials{})
			if tc.timeout > 0 {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not wrap the context's deadline", err)
				}
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("Fetch returned after %v, long after its context's deadline", elapsed)
				}
			}
			checkError(t, err, tc.wantErr, tc.mention...)
			if err != nil && strings.Contains(err.Error(), "s3cr3t") {
				t.Errorf("error %q shows the password of the repository URL", err)
			}
			if tc.want != nil {
				checkFetched(t, chart, digest, *tc.want)
			} else if chart != nil || digest != "" {
				t.Errorf("Fetch returned chart %v, digest %q with its error", chart, digest)
			}
		})
	}
}

// newRegistry starts an OCI registry with the given charts pushed to its repository "charts", as
// `helm push <chart>.tgz oci://<host>/charts` does.
func newRegistry(t *testing.T, pushed ...chartrepo.Chart) *chartrepo.Registry {
	t.Helper()
	r, err := chartrepo.ServeOCI(pushed...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func TestRemoteFetcherOCIRegistry(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newRegistry(t, base, istiod)
	trusting := charts.RemoteFetcher{HTTPClient: r.Client()}
	repository, host := r.URL(), r.Host()

	cases := []struct {
		name       string
		fetcher    charts.RemoteFetcher
		repository string
		chart      string
		version    string
		want       *chartrepo.Chart
		wantErr    error
		mention    []string
	}{
		{name: "base", fetcher: trusting, repository: repository, chart: charts.Base, version: testVersion, want: &base},
		{name: "istiod, trailing slash", fetcher: trusting, repository: repository + "/", chart: charts.Istiod, version: testVersion, want: &istiod},
		{name: "tag missing", fetcher: trusting, repository: repository, chart: charts.Istiod, version: "1.30.3",
			wantErr: charts.ErrChartNotFound, mention: []string{repository, charts.Istiod, "1.30.3"}},
		{name: "chart missing", fetcher: trusting, repository: repository, chart: "ztunnel", version: testVersion,
			wantErr: charts.ErrChartNotFound, mention: []string{repository, "ztunnel", testVersion}},
		{name: "path missing", fetcher: trusting, repository: "oci://" + host + "/elsewhere", chart: charts.Istiod, version: testVersion,
			wantErr: charts.ErrChartNotFound},
		{name: "invalid reference", fetcher: trusting, repository: "oci://" + host + "/Charts", chart: charts.Istiod, version: testVersion,
			wantErr: charts.ErrRepositoryUnreachable, mention: []string{"not a valid OCI reference"}},
		{name: "untrusted certificate", fetcher: charts.RemoteFetcher{}, repository: repository, chart: charts.Istiod, version: testVersion,
			wantErr: charts.ErrRepositoryUnreachable, mention: []string{"certificate"}},
		{name: "connection refused", fetcher: trusting, repository: "oci://" + refusedAddr(t) + "/charts", chart: charts.Istiod, version: testVersion,
			wantErr: charts.ErrRepositoryUnreachable, mention: []string{"refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chart, digest, err := tc.fetcher.Fetch(context.Background(), tc.repository, tc.chart, tc.version, charts.Credentials{})
			checkError(t, err, tc.wantErr, tc.mention...)
			if tc.want != nil {
				checkFetched(t, chart, digest, *tc.want)
			}
		})
	}

	t.Run("registry down", func(t *testing.T) {
		r.Close()
		_, _, err := trusting.Fetch(context.Background(), repository, charts.Istiod, testVersion, charts.Credentials{})
		checkError(t, err, charts.ErrRepositoryUnreachable, repository)
	})
}

// TestCachingResolverRemote resolves a Set from each kind of repository and checks that the second
// Resolve is served without asking the repository again.
func TestCachingResolverRemote(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	cni := packageChart(t, charts.CNI, testVersion)

	cases := []struct {
		name   string
		server chartrepo.Server
	}{
		{name: "Helm repository", server: newHelmRepository(t, base, istiod, cni)},
		{name: "OCI registry", server: newRegistry(t, base, istiod, cni)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resolver := &charts.CachingResolver{Fetcher: charts.RemoteFetcher{HTTPClient: tc.server.Client()},
				Policy: charts.Policy{Repositories: []string{tc.server.URL()}}}
			ctx := context.Background()
			before := tc.server.Requests()

			set, err := resolver.Resolve(ctx, charts.Source{Repository: tc.server.URL(), Version: testVersion})
			if err != nil {
				t.Fatal(err)
			}
			if set.Version != testVersion {
				t.Errorf("set version = %s, want %s", set.Version, testVersion)
			}
			checkFetched(t, set.Base, set.BaseDigest, base)
			checkFetched(t, set.Istiod, set.IstiodDigest, istiod)
			fetched := tc.server.Requests()
			if fetched == before {
				t.Fatal("the repository saw no request")
			}

			again, err := resolver.Resolve(ctx, charts.Source{Repository: tc.server.URL(), Version: testVersion})
			if err != nil {
				t.Fatal(err)
			}
			if n := tc.server.Requests(); n != fetched {
				t.Errorf("the second Resolve made %d requests, want none", n-fetched)
			}
			if again.Base != set.Base || again.Istiod != set.Istiod || again.BaseDigest != set.BaseDigest || again.IstiodDigest != set.IstiodDigest {
				t.Error("the second Resolve returned another set")
			}
			if set.CNI != nil {
				t.Error("a Source without CNI resolved the CNI chart")
			}

			// The CNI chart comes from the same repository at the same version.
			withCNI, err := resolver.Resolve(ctx, charts.Source{Repository: tc.server.URL(), Version: testVersion, CNI: true})
			if err != nil {
				t.Fatal(err)
			}
			checkFetched(t, withCNI.CNI, withCNI.CNIDigest, cni)
			checkFetched(t, withCNI.Istiod, withCNI.IstiodDigest, istiod)

			_, err = resolver.Resolve(ctx, charts.Source{Repository: tc.server.URL(), Version: "1.30.3"})
			checkError(t, err, charts.ErrChartNotFound, "1.30.3")
		})
	}
}

// failingFetcher fails the test when asked for anything: the built-in charts need no repository.
type failingFetcher struct{ t *testing.T }

func (f failingFetcher) Fetch(_ context.Context, repository, name, version string, _ charts.Credentials) (*chartv2.Chart, string, error) {
	f.t.Errorf("Fetch(%q, %q, %q) called for built-in charts", repository, name, version)
	return nil, "", errors.New("unexpected fetch")
}

func TestCachingResolverBuiltin(t *testing.T) {
	base, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	istiod, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &charts.CachingResolver{Fetcher: failingFetcher{t}}
	// A later patch release of the built-in charts' minor version.
	parts := strings.SplitN(charts.BuiltinVersion, ".", 3)
	laterPatch := parts[0] + "." + parts[1] + ".7"

	cases := []struct {
		version string
		wantErr error
	}{
		{version: charts.BuiltinVersion},
		{version: laterPatch},
		{version: testVersion, wantErr: charts.ErrChartNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			set, err := resolver.Resolve(context.Background(), charts.Source{Version: tc.version})
			checkError(t, err, tc.wantErr, tc.version)
			if tc.wantErr != nil {
				return
			}
			if set.Version != charts.BuiltinVersion {
				t.Errorf("set version = %s, want the built-in %s", set.Version, charts.BuiltinVersion)
			}
			if set.Base.Name() != charts.Base || set.Istiod.Name() != charts.Istiod {
				t.Errorf("set charts = %s, %s", set.Base.Name(), set.Istiod.Name())
			}
			if set.BaseDigest != charts.Digest(base) || set.IstiodDigest != charts.Digest(istiod) {
				t.Error("set digests are not the built-in charts' digests")
			}
			if set.CNI != nil {
				t.Error("a Source without CNI resolved the CNI chart")
			}
			withCNI, err := resolver.Resolve(context.Background(), charts.Source{Version: tc.version, CNI: true})
			if err != nil {
				t.Fatal(err)
			}
			if withCNI.CNI == nil || withCNI.CNI.Name() != charts.CNI || withCNI.CNI.Metadata.Version != charts.BuiltinVersion {
				t.Fatalf("CNI chart = %v, want the built-in %s chart versioned %s", withCNI.CNI, charts.CNI, charts.BuiltinVersion)
			}
			if withCNI.CNIDigest != charts.Digest(withCNI.CNI) {
				t.Error("the CNI digest is not the built-in chart's digest")
			}
		})
	}
}
