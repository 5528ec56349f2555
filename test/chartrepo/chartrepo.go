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

// Package chartrepo serves Istio charts to tests the two ways meshkeeper meets them in a cluster: from
// an HTTPS Helm repository and from an OCI registry. Both run in process on 127.0.0.1 over TLS, with
// httptest's self-signed certificate, which no system trusts, so a test takes the same TLS path as
// with a real repository and must say which certificate to trust. The charts are meshkeeper's built-in ones relabelled to whatever version a test pins, which
// lets a test ask for a version only a repository can serve.
package chartrepo

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	// The in-memory storage driver the test registry keeps its blobs in.
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
	"github.com/sirupsen/logrus"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/registry"
	repo "helm.sh/helm/v4/pkg/repo/v1"
	"oras.land/oras-go/v2/registry/remote/auth"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// Chart is a chart packaged as a repository serves it.
type Chart struct {
	Metadata *chartv2.Metadata
	// File is the archive's name, <name>-<version>.tgz.
	File    string
	Archive []byte
	// Digest is the archive's, "sha256:<hex>": the digest a fetcher reports for it from either kind of
	// repository.
	Digest string
}

// Package packages the built-in chart name (charts.Base or charts.Istiod) as version, as `helm
// package` would after a release tool set the version.
func Package(name, version string) (Chart, error) {
	chart, err := charts.Builtin(name)
	if err != nil {
		return Chart{}, err
	}
	chart.Metadata.Version = version
	chart.Metadata.AppVersion = version
	// Helm writes an archive only into a directory.
	dir, err := os.MkdirTemp("", "chartrepo-")
	if err != nil {
		return Chart{}, fmt.Errorf("packaging %s %s: %w", name, version, err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path, err := chartutil.Save(chart, dir)
	if err != nil {
		return Chart{}, fmt.Errorf("packaging %s %s: %w", name, version, err)
	}
	archive, err := os.ReadFile(path)
	if err != nil {
		return Chart{}, fmt.Errorf("packaging %s %s: %w", name, version, err)
	}
	sum := sha256.Sum256(archive)
	return Chart{Metadata: chart.Metadata, File: filepath.Base(path), Archive: archive,
		Digest: "sha256:" + hex.EncodeToString(sum[:])}, nil
}

// Entry is one chart version listed in an index.yaml.
type Entry struct {
	Chart Chart
	// URL is where the index says the archive is: relative to the repository, or absolute.
	URL string
	// Digest is the digest the index states: bare hex as `helm repo index` writes it, "sha256:<hex>"
	// as other tools do, or "" for none.
	Digest string
}

// Index renders the index.yaml of a Helm repository that lists entries.
func Index(entries ...Entry) ([]byte, error) {
	index := repo.NewIndexFile()
	for _, e := range entries {
		// MustAdd keeps a relative URL as it is; an absolute one is given whole, with no base URL.
		if err := index.MustAdd(e.Chart.Metadata, e.URL, "", e.Digest); err != nil {
			return nil, fmt.Errorf("listing %s in an index: %w", e.Chart.File, err)
		}
	}
	index.SortEntries()
	data, err := yaml.Marshal(index)
	if err != nil {
		return nil, fmt.Errorf("writing an index: %w", err)
	}
	return data, nil
}

// Server is what the Helm repository and the OCI registry have in common.
type Server interface {
	// URL is the repository's URL, as spec.charts.repository takes it.
	URL() string
	// Client is an HTTP client that trusts the server's certificate.
	Client() *http.Client
	// Certificate is the server's TLS certificate.
	Certificate() *x509.Certificate
	// Requests counts the requests the server answered, to tell a cached result from a fetch.
	Requests() int
	// Close stops the server; a client that fetches afterwards finds nothing listening.
	Close()
}

// TrustingClient is an HTTP client that trusts the certificates of servers, for a fetcher that talks
// to more than one of them.
func TrustingClient(servers ...Server) *http.Client {
	pool := x509.NewCertPool()
	for _, s := range servers {
		pool.AddCert(s.Certificate())
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// RefusedAddr is an address on 127.0.0.1 that refuses connections: a port that was free a moment ago.
func RefusedAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return "", fmt.Errorf("freeing port %s: %w", addr, err)
	}
	return addr, nil
}

// tlsServer is an HTTPS server on 127.0.0.1 that counts the requests it answers.
type tlsServer struct {
	server    *httptest.Server
	requests  atomic.Int64
	closeOnce sync.Once
	onClose   func()
	// basicAuth, once set, is the username and password every request must carry.
	basicAuth atomic.Pointer[[2]string]
	// bearer, once set, is the token every request must carry and the challenge that asks for it.
	bearer atomic.Pointer[bearerChallenge]
}

// bearerChallenge is a token a server requires and the token service its challenge names.
type bearerChallenge struct {
	token, realm string
}

// RequireBearerToken makes the server answer 401, with a Bearer challenge naming realm as its token
// service as registries with token authentication send, to every later request without the header
// "Authorization: Bearer <token>". A request with it is answered as if it carried no credentials.
func (s *tlsServer) RequireBearerToken(realm, token string) {
	s.bearer.Store(&bearerChallenge{token: token, realm: realm})
}

// RequireBasicAuth makes the server answer 401, with a Basic challenge as private repositories and
// registries send, to every later request without this username and password.
func (s *tlsServer) RequireBasicAuth(username, password string) {
	s.basicAuth.Store(&[2]string{username, password})
}

// start serves h with httptest's certificate.
func (s *tlsServer) start(h http.Handler) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	s.server = &httptest.Server{Listener: l, Config: &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.requests.Add(1)
			if want := s.basicAuth.Load(); want != nil {
				if user, pass, ok := r.BasicAuth(); !ok || user != want[0] || pass != want[1] {
					w.Header().Set("WWW-Authenticate", `Basic realm="chartrepo"`)
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
			}
			if want := s.bearer.Load(); want != nil {
				if r.Header.Get("Authorization") != "Bearer "+want.token {
					w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="chartrepo"`, want.realm))
					http.Error(w, "unauthorized", http.StatusUnauthorized)
					return
				}
				r = r.Clone(r.Context())
				r.Header.Del("Authorization")
			}
			h.ServeHTTP(w, r)
		}),
		// Clients that do not trust the certificate fail their handshakes on purpose; that is not
		// worth a log line.
		ErrorLog: log.New(io.Discard, "", 0),
	}}
	s.server.StartTLS()
	return nil
}

// Client is an HTTP client that trusts the server's certificate.
func (s *tlsServer) Client() *http.Client { return s.server.Client() }

// Certificate is the server's TLS certificate.
func (s *tlsServer) Certificate() *x509.Certificate { return s.server.Certificate() }

// Requests counts the requests the server answered.
func (s *tlsServer) Requests() int { return int(s.requests.Load()) }

// Close stops the server and waits for the requests it is answering; it may be called again.
func (s *tlsServer) Close() {
	s.closeOnce.Do(func() {
		s.server.Close()
		if s.onClose != nil {
			s.onClose()
		}
	})
}

// Repo is an HTTPS Helm repository: an index.yaml at its root that lists its charts by relative URL
// with bare digests, as `helm repo index` writes it, and their archives next to it.
type Repo struct {
	tlsServer
	mux *http.ServeMux
}

var _ Server = &Repo{}

// ServeHTTPS starts a Helm repository that serves the given charts.
func ServeHTTPS(served ...Chart) (*Repo, error) {
	r := &Repo{mux: http.NewServeMux()}
	entries := make([]Entry, 0, len(served))
	files := map[string]bool{}
	for _, c := range served {
		if files[c.File] {
			return nil, fmt.Errorf("serving a Helm repository: %s given twice", c.File)
		}
		files[c.File] = true
		entries = append(entries, Entry{Chart: c, URL: c.File, Digest: strings.TrimPrefix(c.Digest, "sha256:")})
		r.mux.Handle("GET /"+c.File, Content(c.Archive))
	}
	index, err := Index(entries...)
	if err != nil {
		return nil, fmt.Errorf("serving a Helm repository: %w", err)
	}
	r.mux.Handle("GET /index.yaml", Content(index))
	if err := r.start(r.mux); err != nil {
		return nil, fmt.Errorf("serving a Helm repository: %w", err)
	}
	return r, nil
}

// URL is "https://127.0.0.1:<port>".
func (r *Repo) URL() string { return r.server.URL }

// Handle serves more paths from the repository's server (http.ServeMux patterns), such as sibling
// repositories that are broken on purpose. Every path not handled answers 404. Like ServeMux.Handle,
// it panics on a pattern that conflicts with one already served.
func (r *Repo) Handle(pattern string, handler http.Handler) { r.mux.Handle(pattern, handler) }

// Content is a handler that answers every request with data.
func Content(data []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(data)
	})
}

// registryPath is the repository of the OCI registry that the charts are pushed to.
const registryPath = "charts"

// Registry is an OCI registry (the CNCF distribution registry, with in-memory storage) with charts
// pushed to its repository "charts", as `helm push <chart>.tgz oci://<host>/charts` pushes them.
type Registry struct {
	tlsServer
}

var _ Server = &Registry{}

// ServeOCI starts a registry and pushes the given charts to it with Helm's registry client. Requests
// counts only the requests made after the push.
func ServeOCI(served ...Chart) (*Registry, error) {
	config := &configuration.Configuration{}
	config.Storage = configuration.Storage{
		"inmemory": configuration.Parameters{},
		// No background purging of upload directories that would outlive the registry.
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	// Without one, the registry makes up a secret and warns about it.
	config.HTTP.Secret = "chartrepo"
	r := &Registry{tlsServer{onClose: silenceLogrus()}}
	if err := r.start(handlers.NewApp(context.Background(), config)); err != nil {
		r.onClose()
		return nil, fmt.Errorf("serving an OCI registry: %w", err)
	}
	if err := r.push(served); err != nil {
		r.Close()
		return nil, fmt.Errorf("serving an OCI registry: %w", err)
	}
	r.requests.Store(0)
	return r, nil
}

// URL is "oci://127.0.0.1:<port>/charts".
func (r *Registry) URL() string { return "oci://" + r.Host() + "/" + registryPath }

// Host is "127.0.0.1:<port>", for references to other repositories of the registry.
func (r *Registry) Host() string { return r.server.Listener.Addr().String() }

func (r *Registry) push(served []Chart) error {
	// Helm's client reads its own and Docker's credential stores when it is created; a file in an
	// empty directory keeps Helm's empty. Its default authorizer would then ask them for credentials:
	// an anonymous one asks nothing.
	dir, err := os.MkdirTemp("", "chartrepo-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	client, err := registry.NewClient(
		registry.ClientOptCredentialsFile(filepath.Join(dir, "config.json")),
		registry.ClientOptAuthorizer(auth.Client{Client: r.Client()}),
	)
	if err != nil {
		return fmt.Errorf("creating Helm's registry client: %w", err)
	}
	for _, c := range served {
		result, err := client.Push(c.Archive, r.Host()+"/"+registryPath+"/"+c.Metadata.Name+":"+c.Metadata.Version)
		if err != nil {
			return fmt.Errorf("pushing %s: %w", c.File, err)
		}
		if result.Chart.Digest != c.Digest {
			return fmt.Errorf("pushing %s: the registry stored chart layer %s, want %s", c.File, result.Chart.Digest, c.Digest)
		}
	}
	return nil
}

// The registry logs every request through logrus's standard logger, which nothing else under test
// writes to. Its output is discarded while any registry runs.
var (
	logrusMu    sync.Mutex
	logrusUsers int
	logrusOut   io.Writer
)

// silenceLogrus discards logrus's output until the function it returns is called.
func silenceLogrus() (restore func()) {
	logrusMu.Lock()
	defer logrusMu.Unlock()
	if logrusUsers == 0 {
		logrusOut = logrus.StandardLogger().Out
		logrus.SetOutput(io.Discard)
	}
	logrusUsers++
	return func() {
		logrusMu.Lock()
		defer logrusMu.Unlock()
		logrusUsers--
		if logrusUsers == 0 {
			logrus.SetOutput(logrusOut)
		}
	}
}
