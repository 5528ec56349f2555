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
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
)

// testVersion is a version the built-in charts are not: only a repository can serve it.
const testVersion = "1.30.2"

// packagedChart is a built-in chart re-versioned and packaged as a repository would serve it.
type packagedChart struct {
	metadata *chartv2.Metadata
	file     string // name of the archive, <name>-<version>.tgz
	archive  []byte
	digest   string // "sha256:<hex>" of archive
}

func packageChart(t *testing.T, name, version string) packagedChart {
	t.Helper()
	chart, err := Builtin(name)
	if err != nil {
		t.Fatal(err)
	}
	chart.Metadata.Version = version
	chart.Metadata.AppVersion = version
	path, err := chartutil.Save(chart, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	archive, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(archive)
	return packagedChart{metadata: chart.Metadata, file: filepath.Base(path), archive: archive,
		digest: "sha256:" + hex.EncodeToString(sum[:])}
}

// countRequests counts the requests a test server answers, to tell a cached result from a fetch.
func countRequests(h http.Handler, n *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		h.ServeHTTP(w, r)
	})
}

// refusedURL is a URL on 127.0.0.1 that refuses connections: a port that was just free.
func refusedURL(t *testing.T, scheme string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return scheme + "://" + addr
}

// newTLSServer starts an HTTPS server on 127.0.0.1 that does not log the handshakes the
// untrusted-certificate cases fail on purpose.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	server := httptest.NewUnstartedServer(h)
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	return server
}

// helmRepository is an HTTPS Helm repository serving base and istiod at testVersion, with sibling
// repositories under the same server that are broken in one way each.
type helmRepository struct {
	server   *httptest.Server
	requests atomic.Int64
	base     packagedChart
	istiod   packagedChart
}

func newHelmRepository(t *testing.T) *helmRepository {
	t.Helper()
	r := &helmRepository{base: packageChart(t, Base, testVersion), istiod: packageChart(t, Istiod, testVersion)}
	docroot := t.TempDir()
	for _, c := range []packagedChart{r.base, r.istiod} {
		if err := os.WriteFile(filepath.Join(docroot, c.file), c.archive, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bare := func(c packagedChart) string { return strings.TrimPrefix(c.digest, "sha256:") }

	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(docroot)))
	// A repository that accepts the request and never answers.
	mux.HandleFunc("/slow/", func(w http.ResponseWriter, req *http.Request) {
		select {
		case <-req.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	r.server = newTLSServer(t, countRequests(mux, &r.requests))

	// The repository at the root points to its archives by relative URLs with bare digests, as
	// `helm repo index` writes them.
	writeIndex(t, docroot, func(index *repo.IndexFile) {
		addEntry(t, index, r.base.metadata, r.base.file, bare(r.base))
		addEntry(t, index, r.istiod.metadata, r.istiod.file, bare(r.istiod))
	})
	// One that points to them by absolute URLs with prefixed digests, as other tools write them.
	writeIndex(t, filepath.Join(docroot, "absolute"), func(index *repo.IndexFile) {
		addEntry(t, index, r.base.metadata, r.server.URL+"/"+r.base.file, r.base.digest)
		addEntry(t, index, r.istiod.metadata, r.server.URL+"/"+r.istiod.file, r.istiod.digest)
	})
	// One whose index has a digest for istiod that is not the archive's.
	writeIndex(t, filepath.Join(docroot, "tampered"), func(index *repo.IndexFile) {
		addEntry(t, index, r.istiod.metadata, r.server.URL+"/"+r.istiod.file, bare(r.base))
	})
	// One that serves the base archive as istiod.
	writeIndex(t, filepath.Join(docroot, "mislabeled"), func(index *repo.IndexFile) {
		addEntry(t, index, r.istiod.metadata, r.server.URL+"/"+r.base.file, bare(r.base))
	})
	// One whose index is not an index.
	writeFile(t, filepath.Join(docroot, "malformed", "index.yaml"), "apiVersion: v1\nentries: [istiod\n")
	// One whose index lists an archive that is not there.
	writeIndex(t, filepath.Join(docroot, "missing-archive"), func(index *repo.IndexFile) {
		addEntry(t, index, r.istiod.metadata, "gone/"+r.istiod.file, "")
	})
	// And a directory with no index at all.
	writeFile(t, filepath.Join(docroot, "not-a-repository", "README"), "nothing here\n")
	return r
}

func addEntry(t *testing.T, index *repo.IndexFile, md *chartv2.Metadata, url, digest string) {
	t.Helper()
	// MustAdd keeps a relative URL as it is; an absolute one is given whole with no base URL.
	if err := index.MustAdd(md, url, "", digest); err != nil {
		t.Fatal(err)
	}
}

func writeIndex(t *testing.T, dir string, add func(*repo.IndexFile)) {
	t.Helper()
	index := repo.NewIndexFile()
	add(index)
	index.SortEntries()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := index.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// checkFetched asserts a fetch returned the chart that was packaged.
func checkFetched(t *testing.T, chart *chartv2.Chart, digest string, want packagedChart) {
	t.Helper()
	if chart == nil {
		t.Fatal("no chart")
	}
	if chart.Metadata.Name != want.metadata.Name || chart.Metadata.Version != want.metadata.Version {
		t.Errorf("chart = %s %s, want %s %s", chart.Metadata.Name, chart.Metadata.Version, want.metadata.Name, want.metadata.Version)
	}
	if digest != want.digest {
		t.Errorf("digest = %s, want %s", digest, want.digest)
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
	for _, other := range []error{ErrChartNotFound, ErrRepositoryUnreachable} {
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
	r := newHelmRepository(t)
	trusting := RemoteFetcher{HTTPClient: r.server.Client()}
	refused := refusedURL(t, "https")

	cases := []struct {
		name       string
		fetcher    RemoteFetcher
		repository string
		chart      string
		version    string
		timeout    time.Duration
		want       *packagedChart
		wantErr    error
		mention    []string
	}{
		{name: "base, relative URL", fetcher: trusting, repository: r.server.URL,
			chart: Base, version: testVersion, want: &r.base},
		{name: "istiod, relative URL", fetcher: trusting, repository: r.server.URL + "/",
			chart: Istiod, version: testVersion, want: &r.istiod},
		{name: "istiod, absolute URL and prefixed digest", fetcher: trusting, repository: r.server.URL + "/absolute",
			chart: Istiod, version: testVersion, want: &r.istiod},
		{name: "version not found", fetcher: trusting, repository: r.server.URL,
			chart: Istiod, version: "1.30.3", wantErr: ErrChartNotFound,
			mention: []string{r.server.URL, Istiod, "1.30.3"}},
		{name: "only an exact version matches", fetcher: trusting, repository: r.server.URL,
			chart: Istiod, version: "1.30", wantErr: ErrChartNotFound},
		{name: "chart not found", fetcher: trusting, repository: r.server.URL,
			chart: "ztunnel", version: testVersion, wantErr: ErrChartNotFound,
			mention: []string{r.server.URL, "ztunnel", testVersion}},
		{name: "no index.yaml", fetcher: trusting, repository: r.server.URL + "/not-a-repository",
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable,
			mention: []string{"not a Helm repository", "404"}},
		{name: "malformed index", fetcher: trusting, repository: r.server.URL + "/malformed",
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable, mention: []string{"malformed"}},
		{name: "digest mismatch", fetcher: trusting, repository: r.server.URL + "/tampered",
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable,
			mention: []string{"digest mismatch", strings.TrimPrefix(r.base.digest, "sha256:"), r.istiod.digest}},
		{name: "archive of another chart", fetcher: trusting, repository: r.server.URL + "/mislabeled",
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable,
			mention: []string{"serves chart base " + testVersion}},
		{name: "archive missing", fetcher: trusting, repository: r.server.URL + "/missing-archive",
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable, mention: []string{"404"}},
		{name: "untrusted certificate", fetcher: RemoteFetcher{}, repository: r.server.URL,
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable, mention: []string{"certificate"}},
		{name: "connection refused", fetcher: trusting, repository: refused,
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable, mention: []string{"refused"}},
		{name: "no answer before the deadline", fetcher: trusting, repository: r.server.URL + "/slow",
			chart: Istiod, version: testVersion, timeout: 200 * time.Millisecond, wantErr: ErrRepositoryUnreachable},
		{name: "plain http", fetcher: trusting, repository: strings.Replace(r.server.URL, "https://", "http://", 1),
			chart: Istiod, version: testVersion, wantErr: ErrRepositoryUnreachable, mention: []string{"neither"}},
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
			chart, digest, err := tc.fetcher.Fetch(ctx, tc.repository, tc.chart, tc.version)
			if tc.timeout > 0 {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("error %v does not wrap the context's deadline", err)
				}
				if elapsed := time.Since(start); elapsed > 5*time.Second {
					t.Errorf("Fetch returned after %v, long after its context's deadline", elapsed)
				}
			}
			checkError(t, err, tc.wantErr, tc.mention...)
			if tc.want != nil {
				checkFetched(t, chart, digest, *tc.want)
			} else if chart != nil || digest != "" {
				t.Errorf("Fetch returned chart %v, digest %q with its error", chart, digest)
			}
		})
	}
}

// newRegistry starts an OCI registry (the CNCF distribution registry, with in-memory storage) over
// TLS, and pushes the given charts to its repository "charts" with Helm's registry client, as
// `helm push <chart>.tgz oci://<host>/charts` does. It returns the server, the oci:// URL of the
// repository, and a count of the requests made after the push.
func newRegistry(t *testing.T, charts ...packagedChart) (*httptest.Server, string, *atomic.Int64) {
	t.Helper()
	// The registry logs every request through logrus's global logger.
	out := logrus.StandardLogger().Out
	logrus.SetOutput(io.Discard)
	t.Cleanup(func() { logrus.SetOutput(out) })

	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		// No background purging of upload directories outliving the test.
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	config.HTTP.Secret = "test-secret"
	var requests atomic.Int64
	server := newTLSServer(t, countRequests(handlers.NewApp(context.Background(), config), &requests))
	host := strings.TrimPrefix(server.URL, "https://")

	// Helm's client falls back to Docker's credential store: point both at empty places.
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	client, err := registry.NewClient(
		registry.ClientOptHTTPClient(server.Client()),
		registry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")),
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range charts {
		result, err := client.Push(c.archive, host+"/charts/"+c.metadata.Name+":"+c.metadata.Version)
		if err != nil {
			t.Fatalf("pushing %s: %v", c.file, err)
		}
		if result.Chart.Digest != c.digest {
			t.Fatalf("pushed chart layer %s, want %s", result.Chart.Digest, c.digest)
		}
	}
	requests.Store(0)
	return server, "oci://" + host + "/charts", &requests
}

func TestRemoteFetcherOCIRegistry(t *testing.T) {
	base, istiod := packageChart(t, Base, testVersion), packageChart(t, Istiod, testVersion)
	server, repository, _ := newRegistry(t, base, istiod)
	trusting := RemoteFetcher{HTTPClient: server.Client()}
	host := strings.TrimPrefix(server.URL, "https://")

	cases := []struct {
		name       string
		fetcher    RemoteFetcher
		repository string
		chart      string
		version    string
		want       *packagedChart
		wantErr    error
		mention    []string
	}{
		{name: "base", fetcher: trusting, repository: repository, chart: Base, version: testVersion, want: &base},
		{name: "istiod, trailing slash", fetcher: trusting, repository: repository + "/", chart: Istiod, version: testVersion, want: &istiod},
		{name: "tag missing", fetcher: trusting, repository: repository, chart: Istiod, version: "1.30.3",
			wantErr: ErrChartNotFound, mention: []string{repository, Istiod, "1.30.3"}},
		{name: "chart missing", fetcher: trusting, repository: repository, chart: "ztunnel", version: testVersion,
			wantErr: ErrChartNotFound, mention: []string{repository, "ztunnel", testVersion}},
		{name: "path missing", fetcher: trusting, repository: "oci://" + host + "/elsewhere", chart: Istiod, version: testVersion,
			wantErr: ErrChartNotFound},
		{name: "invalid reference", fetcher: trusting, repository: "oci://" + host + "/Charts", chart: Istiod, version: testVersion,
			wantErr: ErrRepositoryUnreachable, mention: []string{"not a valid OCI reference"}},
		{name: "untrusted certificate", fetcher: RemoteFetcher{}, repository: repository, chart: Istiod, version: testVersion,
			wantErr: ErrRepositoryUnreachable, mention: []string{"certificate"}},
		{name: "connection refused", fetcher: trusting, repository: refusedURL(t, "oci") + "/charts", chart: Istiod, version: testVersion,
			wantErr: ErrRepositoryUnreachable, mention: []string{"refused"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chart, digest, err := tc.fetcher.Fetch(context.Background(), tc.repository, tc.chart, tc.version)
			checkError(t, err, tc.wantErr, tc.mention...)
			if tc.want != nil {
				checkFetched(t, chart, digest, *tc.want)
			}
		})
	}

	t.Run("registry down", func(t *testing.T) {
		server.Close()
		_, _, err := trusting.Fetch(context.Background(), repository, Istiod, testVersion)
		checkError(t, err, ErrRepositoryUnreachable, repository)
	})
}

// TestCachingResolverRemote resolves a Set from each kind of repository and checks that the second
// Resolve is served without asking the repository again.
func TestCachingResolverRemote(t *testing.T) {
	helmRepo := newHelmRepository(t)
	registryServer, registryURL, registryRequests := newRegistry(t, helmRepo.base, helmRepo.istiod)

	cases := []struct {
		name       string
		client     *http.Client
		repository string
		requests   *atomic.Int64
	}{
		{name: "Helm repository", client: helmRepo.server.Client(), repository: helmRepo.server.URL, requests: &helmRepo.requests},
		{name: "OCI registry", client: registryServer.Client(), repository: registryURL, requests: registryRequests},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			resolver := &CachingResolver{Fetcher: RemoteFetcher{HTTPClient: tc.client}}
			ctx := context.Background()
			tc.requests.Store(0)

			set, err := resolver.Resolve(ctx, tc.repository, testVersion)
			if err != nil {
				t.Fatal(err)
			}
			if set.Version != testVersion {
				t.Errorf("set version = %s, want %s", set.Version, testVersion)
			}
			checkFetched(t, set.Base, set.BaseDigest, helmRepo.base)
			checkFetched(t, set.Istiod, set.IstiodDigest, helmRepo.istiod)
			fetched := tc.requests.Load()
			if fetched == 0 {
				t.Fatal("the repository saw no request")
			}

			again, err := resolver.Resolve(ctx, tc.repository, testVersion)
			if err != nil {
				t.Fatal(err)
			}
			if n := tc.requests.Load(); n != fetched {
				t.Errorf("the second Resolve made %d requests, want none", n-fetched)
			}
			if again.Base != set.Base || again.Istiod != set.Istiod || again.BaseDigest != set.BaseDigest || again.IstiodDigest != set.IstiodDigest {
				t.Error("the second Resolve returned another set")
			}

			_, err = resolver.Resolve(ctx, tc.repository, "1.30.3")
			checkError(t, err, ErrChartNotFound, "1.30.3")
		})
	}
}

// failingFetcher fails the test when asked for anything: the built-in charts need no repository.
type failingFetcher struct{ t *testing.T }

func (f failingFetcher) Fetch(_ context.Context, repository, name, version string) (*chartv2.Chart, string, error) {
	f.t.Errorf("Fetch(%q, %q, %q) called for built-in charts", repository, name, version)
	return nil, "", errors.New("unexpected fetch")
}

func TestCachingResolverBuiltin(t *testing.T) {
	base, err := Builtin(Base)
	if err != nil {
		t.Fatal(err)
	}
	istiod, err := Builtin(Istiod)
	if err != nil {
		t.Fatal(err)
	}
	resolver := &CachingResolver{Fetcher: failingFetcher{t}}

	cases := []struct {
		version string
		wantErr error
	}{
		{version: BuiltinVersion},
		{version: minor(BuiltinVersion) + ".7"}, // a later patch release of the same minor
		{version: testVersion, wantErr: ErrChartNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.version, func(t *testing.T) {
			set, err := resolver.Resolve(context.Background(), "", tc.version)
			checkError(t, err, tc.wantErr, tc.version)
			if tc.wantErr != nil {
				return
			}
			if set.Version != BuiltinVersion {
				t.Errorf("set version = %s, want the built-in %s", set.Version, BuiltinVersion)
			}
			if set.Base.Name() != Base || set.Istiod.Name() != Istiod {
				t.Errorf("set charts = %s, %s", set.Base.Name(), set.Istiod.Name())
			}
			if set.BaseDigest != Digest(base) || set.IstiodDigest != Digest(istiod) {
				t.Error("set digests are not the built-in charts' digests")
			}
		})
	}
}
