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
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
)

// These tests hold the edges of the allow-lists and of what meshkeeper says of credentials, each where
// a check that looked a little less closely would let a ServiceMesh pull from elsewhere or show a
// secret.

// Credentials print as whose they are, never with the password, so one that reaches a log or a
// condition by mistake shows nothing secret.
func TestCredentialsNeverPrintThePassword(t *testing.T) {
	c := charts.Credentials{Username: "robot", Password: "s3cret"}
	for _, printed := range []string{c.String(), fmt.Sprint(c), fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c)} {
		if strings.Contains(printed, "s3cret") {
			t.Errorf("credentials print as %q", printed)
		}
	}
	if got := (charts.Credentials{}).String(); got != "anonymous" {
		t.Errorf("no credentials print as %q", got)
	}
}

func credentialsSecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "creds"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

// A registry's credentials are the entry of its own host in the Secret's .dockerconfigjson: not the
// entry of a host that only starts like it or has it in a path, so what the Secret holds for one
// registry is not sent to another.
func TestCredentialsFromSecretTakeOnlyTheRegistrysOwnEntry(t *testing.T) {
	auth := base64.StdEncoding.EncodeToString([]byte("robot:s3cret"))
	cases := map[string]struct {
		repository string
		config     string
		want       charts.Credentials
		wantErr    string
	}{
		"the registry's entry": {"oci://registry.example.com/charts",
			`{"auths": {"registry.example.com": {"auth": "` + auth + `"}}}`, charts.Credentials{Username: "robot", Password: "s3cret"}, ""},
		"the registry's entry as a URL, in another case": {"oci://Registry.Example.com/charts",
			`{"auths": {"https://REGISTRY.example.com/v1/": {"username": "robot", "password": "s3cret"}}}`, charts.Credentials{Username: "robot", Password: "s3cret"}, ""},
		"a host that starts like the registry's": {"oci://registry.example.com/charts",
			`{"auths": {"registry.example.com.evil.example": {"auth": "` + auth + `"}}}`, charts.Credentials{}, "no entry for registry.example.com"},
		"the registry's host in another's path": {"oci://registry.example.com/charts",
			`{"auths": {"evil.example/registry.example.com": {"auth": "` + auth + `"}}}`, charts.Credentials{}, "no entry for registry.example.com"},
		"the registry on another port": {"oci://registry.example.com:5000/charts",
			`{"auths": {"registry.example.com": {"auth": "` + auth + `"}}}`, charts.Credentials{}, "no entry for registry.example.com:5000"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := charts.CredentialsFromSecret(tc.repository, credentialsSecret(map[string]string{corev1.DockerConfigJsonKey: tc.config}))
			if tc.wantErr == "" {
				if err != nil || got != tc.want {
					t.Errorf("CredentialsFromSecret = %v, %v; want %v", got, err, tc.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, charts.ErrRepositoryUnreachable) {
				t.Errorf("CredentialsFromSecret = %v, %v; want an error saying %q", got, err, tc.wantErr)
			}
		})
	}
}

// What the credentials Secret holds is never in an error: not a .dockerconfigjson that is not JSON,
// not a half of the username and password a Helm repository needs.
func TestCredentialsFromSecretSayNothingOfTheSecretsContent(t *testing.T) {
	cases := map[string]struct {
		repository string
		data       map[string]string
		wantErr    string
	}{
		"a Docker config that is not JSON": {"oci://registry.example.com/charts",
			map[string]string{corev1.DockerConfigJsonKey: `{"auths": s3cret}`}, "not a valid Docker config"},
		"a username without a password": {"https://charts.example.com/istio",
			map[string]string{"username": "s3cret"}, "needs the keys username and password"},
		"a password without a username": {"https://charts.example.com/istio",
			map[string]string{"password": "s3cret"}, "needs the keys username and password"},
		"an auth that is not username:password": {"oci://registry.example.com/charts",
			map[string]string{corev1.DockerConfigJsonKey: `{"auths": {"registry.example.com": {"auth": "` +
				base64.StdEncoding.EncodeToString([]byte("s3cret")) + `"}}}`}, "is not username:password"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := charts.CredentialsFromSecret(tc.repository, credentialsSecret(tc.data))
			if err == nil || !errors.Is(err, charts.ErrRepositoryUnreachable) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("CredentialsFromSecret = %v, %v; want an error saying %q", got, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("the error shows the Secret's content: %v", err)
			}
		})
	}
}

// A Helm repository's credentials go to its own host only: not to another host its index points an
// archive to.
func TestRemoteFetcherSendsCredentialsOnlyToTheRepositorysHost(t *testing.T) {
	istiod := packageChart(t, charts.Istiod, testVersion)
	elsewhere, err := chartrepo.ServeHTTPS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(elsewhere.Close)
	var mu sync.Mutex
	var sent []string
	elsewhere.Handle("GET /"+istiod.File, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		sent = append(sent, req.Header.Get("Authorization"))
		mu.Unlock()
		_, _ = w.Write(istiod.Archive)
	}))
	r := newHelmRepository(t, packageChart(t, charts.Base, testVersion), istiod)
	serveIndex(t, r, "/archives-elsewhere", chartrepo.Entry{Chart: istiod, URL: elsewhere.URL() + "/" + istiod.File, Digest: istiod.Digest})

	fetcher := charts.RemoteFetcher{HTTPClient: chartrepo.TrustingClient(r, elsewhere)}
	_, _, err = fetcher.Fetch(context.Background(), r.URL()+"/archives-elsewhere", charts.Istiod, testVersion,
		charts.Credentials{Username: "robot", Password: "s3cret"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) != 1 {
		t.Fatalf("the other host saw %d requests, want 1", len(sent))
	}
	if sent[0] != "" {
		t.Errorf("the repository's credentials went to another host: Authorization %q", sent[0])
	}
}

// The archive says which version it is: a repository whose index lists another version's archive
// under the version asked for (its digest included) does not pass the one off as the other.
func TestRemoteFetcherRefusesAnArchiveOfAnotherVersion(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	older := packageChart(t, charts.Istiod, "1.29.0")
	r := newHelmRepository(t, base, istiod)
	listed := *older.Metadata
	listed.Version = testVersion
	r.Handle("GET /relabeled/"+older.File, chartrepo.Content(older.Archive))
	serveIndex(t, r, "/relabeled", chartrepo.Entry{Chart: chartrepo.Chart{Metadata: &listed, File: older.File}, URL: older.File, Digest: older.Digest})

	fetcher := charts.RemoteFetcher{HTTPClient: r.Client()}
	chart, _, err := fetcher.Fetch(context.Background(), r.URL()+"/relabeled", charts.Istiod, testVersion, charts.Credentials{})
	if err == nil {
		t.Fatalf("fetched chart %s %s for %s %s", chart.Metadata.Name, chart.Metadata.Version, charts.Istiod, testVersion)
	}
	checkError(t, err, charts.ErrRepositoryUnreachable, "serves chart istiod 1.29.0 where istiod "+testVersion+" was asked for")
}
