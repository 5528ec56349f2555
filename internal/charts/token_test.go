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
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// tokenService answers a registry's token requests, as the distribution spec's token authentication
// does: a token for the right basic credentials, 401 for any other. It records the Authorization
// header of every request.
type tokenService struct {
	user, password, token string

	mu   sync.Mutex
	seen []string
}

func (s *tokenService) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	s.mu.Lock()
	s.seen = append(s.seen, req.Header.Get("Authorization"))
	s.mu.Unlock()
	if user, pass, ok := req.BasicAuth(); !ok || user != s.user || pass != s.password {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"token":"` + s.token + `"}`))
}

// reset forgets the requests recorded.
func (s *tokenService) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.seen = nil
}

// requests is the Authorization headers the service was sent, one a request.
func (s *tokenService) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.seen...)
}

// A registry with token authentication names, in its challenge, the token service that meshkeeper
// sends the registry's credentials to. Over plain http the credentials would cross the network in
// clear, whatever host the service is on, so such a challenge is refused and the service is sent
// nothing; over https the service may be another host (Docker Hub's registry-1.docker.io names
// auth.docker.io), chosen by the allowed registry, which could as well have asked for the
// credentials itself with a Basic challenge. The registry receives only the token.
func TestRemoteFetcherSendsCredentialsToTokenServicesOverHTTPSOnly(t *testing.T) {
	const user, password, token = "robot", "s3cret", "chartrepo-token"
	credentials := charts.Credentials{Username: user, Password: password}
	istiod := packageChart(t, charts.Istiod, testVersion)
	registry := newRegistry(t, istiod)

	plain := &tokenService{user: user, password: password, token: token}
	plainServer := httptest.NewServer(plain)
	t.Cleanup(plainServer.Close)
	secure := &tokenService{user: user, password: password, token: token}
	secureServer, err := chartrepo.ServeHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(secureServer.Close)
	secureServer.Handle("GET /token", secure)

	// Every server listens on 127.0.0.1; the https ones hold a certificate for example.com and
	// *.example.com: the client dials 127.0.0.1 at the port of whatever host name it is asked for.
	client := chartrepo.TrustingClient(registry, secureServer)
	client.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		return (&net.Dialer{}).DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
	}
	port := func(hostport string) string {
		_, p, err := net.SplitHostPort(hostport)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	registryPort := port(registry.Host())
	plainPort := port(strings.TrimPrefix(plainServer.URL, "http://"))
	securePort := port(strings.TrimPrefix(secureServer.URL(), "https://"))
	fetcher := charts.RemoteFetcher{HTTPClient: client}

	for _, tc := range []struct {
		name, repository, realm string
	}{
		{name: "plain http on the registry's host", repository: registry.URL(),
			realm: "http://127.0.0.1:" + plainPort + "/token"},
		{name: "plain http on another host", repository: "oci://registry.example.com:" + registryPort + "/charts",
			realm: "http://auth.example.com:" + plainPort + "/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plain.reset()
			registry.RequireBearerToken(tc.realm, token)
			_, _, err := fetcher.Fetch(context.Background(), tc.repository, charts.Istiod, testVersion, credentials)
			for _, auth := range plain.requests() {
				if auth != "" {
					t.Errorf("the credentials went over plain http to %s: Authorization %q", tc.realm, auth)
				}
			}
			checkError(t, err, charts.ErrRepositoryUnreachable, tc.realm)
			if strings.Contains(err.Error(), password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}

	t.Run("https on another host", func(t *testing.T) {
		registry.RequireBearerToken("https://auth.example.com:"+securePort+"/token", token)
		chart, digest, err := fetcher.Fetch(context.Background(), "oci://registry.example.com:"+registryPort+"/charts",
			charts.Istiod, testVersion, credentials)
		if err != nil {
			t.Fatal(err)
		}
		checkFetched(t, chart, digest, istiod)
		if len(secure.requests()) == 0 {
			t.Error("the token service was not asked for a token")
		}
	})
}
