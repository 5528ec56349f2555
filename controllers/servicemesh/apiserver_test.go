//go:build envtest

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

package servicemesh

import (
	"net/http"
	"os"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv/server"
)

// The package's tests that need an API server share one kube-apiserver and etcd (server.Shared), each
// test in namespaces of its own. (The test tiers' testenv cannot be used here: it imports the
// controllers, which import this package; its server package can.)
var apiServer = server.NewShared(clientgoscheme.AddToScheme, meshv1alpha1.AddToScheme)

func TestMain(m *testing.M) { os.Exit(apiServer.Main(m)) }

// onAPIServer returns an admin's client of the package's API server.
func onAPIServer(t *testing.T) client.Client {
	t.Helper()
	return apiServer.Get(t).Client
}

// testNamespace creates a namespace for the test alone, and returns its name.
func testNamespace(t *testing.T, c client.Client, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := c.Create(t.Context(), ns); err != nil {
		t.Fatalf("creating the test's namespace: %v", err)
	}
	return ns.Name
}

// listCounter counts the GET requests a client sends, by path: those to a collection's path are its
// LIST requests.
type listCounter struct {
	mu     sync.Mutex
	counts map[string]int
}

// countingClient is a client of the package's API server whose LIST requests lists counts.
func countingClient(t *testing.T, lists *listCounter) client.Client {
	t.Helper()
	shared := apiServer.Get(t)
	config := rest.CopyConfig(shared.Config)
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
			// A watch is a GET too: it is not counted.
			if req.Method == http.MethodGet && req.URL.Query().Get("watch") == "" {
				lists.mu.Lock()
				if lists.counts == nil {
					lists.counts = map[string]int{}
				}
				lists.counts[req.URL.Path]++
				lists.mu.Unlock()
			}
			return next.RoundTrip(req)
		})
	})
	c, err := client.New(config, client.Options{Scheme: shared.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// of is how many GETs went to paths, together.
func (l *listCounter) of(paths ...string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, path := range paths {
		n += l.counts[path]
	}
	return n
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(req *http.Request) (*http.Response, error) { return f(req) }
