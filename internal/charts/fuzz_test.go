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
	"net/url"
	"strings"
	"testing"
)

// FuzzParseIndex feeds parseIndex what a repository may answer: it must never panic, and an index it
// accepts has an apiVersion and only entries it can read.
func FuzzParseIndex(f *testing.F) {
	// What `helm repo index` writes, the JSON form Helm also reads, and near misses.
	f.Add([]byte("apiVersion: v1\nentries:\n  istiod:\n  - apiVersion: v2\n    appVersion: 1.30.2\n    created: \"2026-11-01T00:00:00Z\"\n    description: Helm chart for istio control plane\n    digest: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0\n    name: istiod\n    urls:\n    - istiod-1.30.2.tgz\n    version: 1.30.2\ngenerated: \"2026-11-01T00:00:00Z\"\n"))
	f.Add([]byte(`{"apiVersion":"v1","entries":{"base":[{"name":"base","version":"1.30.2","urls":["https://charts.example.com/base-1.30.2.tgz"],"digest":"sha256:00"}]}}`))
	f.Add([]byte("apiVersion: v1\nentries: [istiod\n"))
	f.Add([]byte("entries: {}\n"))
	f.Add([]byte("apiVersion: v1\nentries:\n  istiod:\n  - null\n"))
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, data []byte) {
		index, err := parseIndex(data)
		if err != nil {
			return
		}
		if index.APIVersion == "" {
			t.Fatal("an index without apiVersion was accepted")
		}
		for name, versions := range index.Entries {
			for _, cv := range versions {
				if cv != nil {
					_ = cv.Version + name
				}
			}
		}
	})
}

// FuzzRedactURL: whatever a URL holds, what is printed of it has no user information.
func FuzzRedactURL(f *testing.F) {
	f.Add("https://user:pass@charts.example.com/istio")
	f.Add("oci://token@registry.example.com/charts")
	f.Add("https://u:p%zz@charts.example.com/x")
	f.Add("https://charts.example.com/istio")
	f.Fuzz(func(t *testing.T, raw string) {
		shown := RedactURL(raw)
		if u, err := url.Parse(shown); err == nil && u.User != nil {
			t.Fatalf("RedactURL(%q) = %q keeps user information", raw, shown)
		}
		// The user information may also be written elsewhere in the URL (its path or fragment), which
		// is shown: what is printed holds it fewer times than the URL did.
		if u, err := url.Parse(raw); err == nil && u.User != nil {
			userinfo := u.User.String()
			if p, ok := u.User.Password(); ok && len(p) > 3 && strings.Count(raw, userinfo) > 0 &&
				strings.Count(shown, userinfo) >= strings.Count(raw, userinfo) {
				t.Fatalf("RedactURL(%q) = %q shows the password", raw, shown)
			}
		}
	})
}

// FuzzCheckRepository: a repository the default policy allows is on one of Istio's hosts, with its
// scheme, and under its path.
func FuzzCheckRepository(f *testing.F) {
	for _, r := range DefaultRepositories {
		f.Add(r)
		f.Add(r + "-evil")
		f.Add(r + "/../x")
	}
	f.Add("https://blob.istio.io.evil.example.com/istio-release/charts")
	f.Fuzz(func(t *testing.T, repository string) {
		if (Policy{}).CheckRepository(repository) != nil || repository == "" {
			return
		}
		u, err := url.Parse(repository)
		if err != nil {
			t.Fatalf("%q allowed but does not parse", repository)
		}
		for _, allowed := range DefaultRepositories {
			a, _ := url.Parse(allowed)
			if strings.EqualFold(u.Scheme, a.Scheme) && strings.EqualFold(u.Host, a.Host) && pathUnder(u.Path, a.Path) {
				return
			}
		}
		t.Fatalf("%q allowed, but it is under no default repository", repository)
	})
}
