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
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// A private Helm repository's credentials do not follow a redirect to any other host: not to another
// port of the repository's host name (another server on the same machine), nor to a subdomain of it.
// Go's client keeps the Authorization header on both, since it compares host names only and counts a
// subdomain as the same site.
func TestRemoteFetcherKeepsCredentialsFromARedirectsOtherHost(t *testing.T) {
	istiod := packageChart(t, charts.Istiod, testVersion)

	// The repository, which requires its credentials, and another server that records what it is sent.
	repository, err := chartrepo.ServeHTTPS(istiod)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(repository.Close)
	repository.RequireBasicAuth("robot", "s3cret")
	other, err := chartrepo.ServeHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(other.Close)
	var mu sync.Mutex
	var sent []string
	record := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			mu.Lock()
			sent = append(sent, req.Host+" "+req.Header.Get("Authorization"))
			mu.Unlock()
			next.ServeHTTP(w, req)
		})
	}
	other.Handle("GET /"+istiod.File, record(chartrepo.Content(istiod.Archive)))

	// Both servers listen on 127.0.0.1 and hold a certificate for example.com and *.example.com: the
	// client dials 127.0.0.1 at the port of whatever host name it is asked for.
	client := chartrepo.TrustingClient(repository, other)
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	port := func(s *chartrepo.Repo) string {
		u, err := url.Parse(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		return u.Port()
	}

	cases := []struct {
		name       string
		repository string
		// redirectTo is where the repository redirects its archive.
		redirectTo string
	}{
		{name: "another port of the same host", repository: repository.URL() + "/another-port",
			redirectTo: other.URL() + "/" + istiod.File},
		{name: "a subdomain of the host", repository: "https://example.com:" + port(repository) + "/subdomain",
			redirectTo: "https://elsewhere.example.com:" + port(other) + "/" + istiod.File},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			path, err := url.Parse(tc.repository)
			if err != nil {
				t.Fatal(err)
			}
			serveIndex(t, repository, path.Path, chartrepo.Entry{Chart: istiod, URL: istiod.File, Digest: istiod.Digest})
			repository.Handle("GET "+path.Path+"/"+istiod.File, http.RedirectHandler(tc.redirectTo, http.StatusFound))
			mu.Lock()
			sent = nil
			mu.Unlock()

			fetcher := charts.RemoteFetcher{HTTPClient: client}
			chart, digest, err := fetcher.Fetch(context.Background(), tc.repository, charts.Istiod, testVersion,
				charts.Credentials{Username: "robot", Password: "s3cret"})
			if err != nil {
				t.Fatal(err)
			}
			checkFetched(t, chart, digest, istiod)
			mu.Lock()
			defer mu.Unlock()
			if len(sent) != 1 {
				t.Fatalf("the other host saw %d requests, want 1", len(sent))
			}
			if host, auth, _ := strings.Cut(sent[0], " "); auth != "" {
				t.Errorf("the repository's credentials followed a redirect to %s: Authorization %q", host, auth)
			}
		})
	}

	// Within the repository's own host and port, the credentials follow: the repository refuses the
	// archive without them.
	t.Run("the repository's own host", func(t *testing.T) {
		serveIndex(t, repository, "/same-host", chartrepo.Entry{Chart: istiod, URL: istiod.File, Digest: istiod.Digest})
		repository.Handle("GET /same-host/"+istiod.File, http.RedirectHandler(repository.URL()+"/"+istiod.File, http.StatusFound))
		fetcher := charts.RemoteFetcher{HTTPClient: client}
		chart, digest, err := fetcher.Fetch(context.Background(), repository.URL()+"/same-host", charts.Istiod, testVersion,
			charts.Credentials{Username: "robot", Password: "s3cret"})
		if err != nil {
			t.Fatal(err)
		}
		checkFetched(t, chart, digest, istiod)
	})
}
