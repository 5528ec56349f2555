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

// Package metricsauth_test checks the metrics endpoint's guard against a real API server: its
// TokenReviews, its RBAC and its ServiceAccount tokens.
package metricsauth_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/meshkeeper/meshkeeper/internal/metricsauth"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// reviews counts the TokenReviews and SubjectAccessReviews the guard sends.
type reviews struct {
	next           http.RoundTripper
	tokens, access atomic.Int32
}

func (r *reviews) RoundTrip(req *http.Request) (*http.Response, error) {
	switch {
	case strings.HasSuffix(req.URL.Path, "/tokenreviews"):
		r.tokens.Add(1)
	case strings.HasSuffix(req.URL.Path, "/subjectaccessreviews"):
		r.access.Add(1)
	}
	return r.next.RoundTrip(req)
}

func TestMetricsNeedAnAuthorizedToken(t *testing.T) {
	ctx := context.Background()
	env := testenv.Start(t, testenv.WithoutCRDs())
	admin := kubernetes.NewForConfigOrDie(env.Config)

	// The metrics-reader ClusterRole of config/rbac, bound to one ServiceAccount and not the other.
	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "monitoring"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"prometheus", "someone"} {
		if _, err := admin.CoreV1().ServiceAccounts("monitoring").Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "metrics-reader"},
		Rules:      []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "prometheus-metrics"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "metrics-reader"},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "prometheus", Namespace: "monitoring"}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	token := func(name string) string {
		t.Helper()
		tr, err := admin.CoreV1().ServiceAccounts("monitoring").CreateToken(ctx, name, &authenticationv1.TokenRequest{}, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return tr.Status.Token
	}
	prometheus, someone := token("prometheus"), token("someone")

	counted := &reviews{}
	httpClient, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	counted.next = httpClient.Transport
	httpClient.Transport = counted
	filter, err := metricsauth.Filter(env.Config, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	handler, err := filter(zap.New(zap.WriteTo(io.Discard)), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "meshkeeper_build_info 1\n")
	}))
	if err != nil {
		t.Fatal(err)
	}
	server := httptest.NewServer(handler)
	t.Cleanup(server.Close)

	get := func(method, path, authorization string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, server.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusOK && string(body) != "meshkeeper_build_info 1\n" {
			t.Errorf("%s %s: body %q", method, path, body)
		}
		return resp.StatusCode
	}

	for _, tc := range []struct {
		name, method, path, authorization string
		want                              int
	}{
		{"no token", http.MethodGet, "/metrics", "", http.StatusUnauthorized},
		{"not a bearer token", http.MethodGet, "/metrics", "Basic " + prometheus, http.StatusUnauthorized},
		{"a token the API server did not issue", http.MethodGet, "/metrics", "Bearer not-a-token", http.StatusUnauthorized},
		{"a ServiceAccount without the role", http.MethodGet, "/metrics", "Bearer " + someone, http.StatusForbidden},
		{"the bound ServiceAccount", http.MethodGet, "/metrics", "Bearer " + prometheus, http.StatusOK},
		{"the bound ServiceAccount, lower-case scheme", http.MethodGet, "/metrics", "bearer " + prometheus, http.StatusOK},
		{"the bound ServiceAccount, another verb", http.MethodPost, "/metrics", "Bearer " + prometheus, http.StatusForbidden},
		{"the bound ServiceAccount, another path", http.MethodGet, "/debug", "Bearer " + prometheus, http.StatusForbidden},
	} {
		if got := get(tc.method, tc.path, tc.authorization); got != tc.want {
			t.Errorf("%s: %s %s answered %d, want %d", tc.name, tc.method, tc.path, got, tc.want)
		}
	}

	// A scraper that comes back is answered from the cache: no review per scrape.
	tokens, access := counted.tokens.Load(), counted.access.Load()
	if tokens == 0 || access == 0 {
		t.Fatalf("the guard sent %d TokenReviews and %d SubjectAccessReviews: the counter sees nothing", tokens, access)
	}
	for range 5 {
		if got := get(http.MethodGet, "/metrics", "Bearer "+prometheus); got != http.StatusOK {
			t.Fatalf("a repeated scrape answered %d", got)
		}
		if got := get(http.MethodGet, "/metrics", "Bearer "+someone); got != http.StatusForbidden {
			t.Fatalf("a repeated denied scrape answered %d", got)
		}
	}
	if t2, a2 := counted.tokens.Load(), counted.access.Load(); t2 != tokens || a2 != access {
		t.Errorf("repeated scrapes sent %d TokenReviews and %d SubjectAccessReviews, want none", t2-tokens, a2-access)
	}

	// A manager the API server does not allow to review tokens answers at once, without retrying a
	// refusal that will not change.
	unprivileged, err := env.Environment.AddUser(envtest.User{Name: "no-reviews"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	refused := &reviews{}
	httpClient, err = rest.HTTPClientFor(unprivileged.Config())
	if err != nil {
		t.Fatal(err)
	}
	refused.next = httpClient.Transport
	httpClient.Transport = refused
	filter, err = metricsauth.Filter(unprivileged.Config(), httpClient)
	if err != nil {
		t.Fatal(err)
	}
	handler, err = filter(zap.New(zap.WriteTo(io.Discard)), http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	refusing := httptest.NewServer(handler)
	t.Cleanup(refusing.Close)
	server = refusing
	if got := get(http.MethodGet, "/metrics", "Bearer "+prometheus); got != http.StatusInternalServerError {
		t.Errorf("a manager without the right to review tokens answered %d, want %d", got, http.StatusInternalServerError)
	}
	if n := refused.tokens.Load(); n != 1 {
		t.Errorf("a refused TokenReview was sent %d times, want once", n)
	}
}
