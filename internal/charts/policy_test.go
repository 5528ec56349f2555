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
	"errors"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

func TestCheckRepository(t *testing.T) {
	defaults := charts.Policy{}
	cases := map[string]struct {
		policy     charts.Policy
		repository string
		allowed    bool
	}{
		"the built-in charts":                     {defaults, "", true},
		"Istio's Google Cloud Storage charts":     {defaults, "https://istio-release.storage.googleapis.com/charts", true},
		"a trailing slash":                        {defaults, "https://istio-release.storage.googleapis.com/charts/", true},
		"below an allowed path":                   {defaults, "https://blob.istio.io/istio-release/charts/stable", true},
		"Istio's OCI charts":                      {defaults, "oci://ghcr.io/istio/release/charts", true},
		"the host and scheme in upper case":       {defaults, "HTTPS://Blob.Istio.IO/istio-release/charts", true},
		"a sibling path sharing the prefix":       {defaults, "https://blob.istio.io/istio-release/charts-evil", false},
		"a path that climbs out":                  {defaults, "https://blob.istio.io/istio-release/charts/../../evil", false},
		"another host with the prefix as a label": {defaults, "https://blob.istio.io.evil.example.com/istio-release/charts", false},
		"another scheme":                          {defaults, "oci://blob.istio.io/istio-release/charts", false},
		"user information":                        {defaults, "https://user:pass@blob.istio.io/istio-release/charts", false},
		"a port":                                  {defaults, "https://blob.istio.io:8443/istio-release/charts", false},
		"a query":                                 {defaults, "https://blob.istio.io/istio-release/charts?x=1", false},
		"no scheme":                               {defaults, "istio-release.storage.googleapis.com/charts", false},
		"no scheme, host alone":                   {defaults, "//istio-release.storage.googleapis.com/charts", false},
		"a fragment":                              {defaults, "https://istio-release.storage.googleapis.com/charts#x", false},
		"a scheme without slashes":                {defaults, "https:istio-release.storage.googleapis.com/charts", false},
		"a private mirror, allowed":               {charts.Policy{Repositories: []string{"oci://registry.example.com/mirror"}}, "oci://registry.example.com/mirror/istio", true},
		"Istio's charts, not allowed by a list without them": {charts.Policy{Repositories: []string{"oci://registry.example.com/mirror"}}, "oci://ghcr.io/istio/release/charts", false},
		"anything, with an empty list":                       {charts.Policy{Repositories: []string{}}, "https://istio-release.storage.googleapis.com/charts", false},
		"the built-in charts, with an empty list":            {charts.Policy{Repositories: []string{}}, "", true},
		"a host allowed whole":                               {charts.Policy{Repositories: []string{"https://charts.example.com"}}, "https://charts.example.com/istio", true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.policy.CheckRepository(tc.repository)
			if tc.allowed && err != nil {
				t.Errorf("CheckRepository(%q) = %v, want allowed", tc.repository, err)
			}
			if !tc.allowed {
				if !errors.Is(err, charts.ErrRepositoryNotAllowed) {
					t.Fatalf("CheckRepository(%q) = %v, want ErrRepositoryNotAllowed", tc.repository, err)
				}
				if strings.Contains(err.Error(), "pass@") {
					t.Errorf("the error shows user information: %v", err)
				}
			}
		})
	}
}

func TestCheckImageHubs(t *testing.T) {
	defaults := charts.Policy{}
	cases := map[string]struct {
		policy  charts.Policy
		hubs    []string
		allowed bool
	}{
		"Istio's Docker Hub organisation": {defaults, []string{"docker.io/istio"}, true},
		"all three official hubs":         {defaults, []string{"docker.io/istio", "gcr.io/istio-release", "ghcr.io/istio"}, true},
		"Docker Hub without the registry": {defaults, []string{"istio"}, true},
		"Docker Hub's other name":         {defaults, []string{"index.docker.io/istio"}, true},
		"the registry in upper case":      {defaults, []string{"Docker.IO/istio"}, true},
		"below an allowed hub":            {defaults, []string{"ghcr.io/istio/release"}, true},
		"a sibling sharing the prefix":    {defaults, []string{"docker.io/istiofake"}, false},
		"a path that climbs out":          {defaults, []string{"docker.io/istio/../evil"}, false},
		"another registry":                {defaults, []string{"registry.example.com/istio"}, false},
		"one bad hub among good ones":     {defaults, []string{"docker.io/istio", "evil.example.com/istio"}, false},
		"a mirror, allowed":               {charts.Policy{ImageHubs: []string{"registry.example.com:5000/mirror"}}, []string{"registry.example.com:5000/mirror/istio"}, true},
		"a mirror on another port":        {charts.Policy{ImageHubs: []string{"registry.example.com:5000/mirror"}}, []string{"registry.example.com/mirror/istio"}, false},
		// spec.images.hub and the hubs of spec.values pass the same checks as an image's hub; an empty one
		// is none of the allowed hubs.
		"a host that ends like an allowed one":        {charts.Policy{}, []string{"evildocker.io/istio"}, false},
		"a registry on a port, Docker Hub allowed":    {charts.Policy{ImageHubs: []string{"docker.io"}}, []string{"evil:5000/istio"}, false},
		"localhost, Docker Hub allowed":               {charts.Policy{ImageHubs: []string{"docker.io"}}, []string{"localhost/istio"}, false},
		"a hub with a digest":                         {charts.Policy{}, []string{"docker.io/istio/pilot@sha256"}, false},
		"a hub with a space":                          {charts.Policy{}, []string{"docker.io/istio/a b"}, false},
		"a hub that climbs into an allowed one":       {charts.Policy{}, []string{"docker.io/evil/../istio"}, false},
		"a hub with an empty segment":                 {charts.Policy{}, []string{"docker.io//istio"}, false},
		"an empty hub":                                {charts.Policy{}, []string{""}, false},
		"nothing, when the installer allowed no hubs": {charts.Policy{ImageHubs: []string{}}, []string{"docker.io/istio"}, false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.policy.CheckImageHubs(tc.hubs)
			if tc.allowed && err != nil {
				t.Errorf("CheckImageHubs(%q) = %v, want allowed", tc.hubs, err)
			}
			if !tc.allowed && !errors.Is(err, charts.ErrImageHubNotAllowed) {
				t.Errorf("CheckImageHubs(%q) = %v, want ErrImageHubNotAllowed", tc.hubs, err)
			}
		})
	}
}

func TestCheckImage(t *testing.T) {
	defaults := charts.Policy{}
	mirror := charts.Policy{ImageHubs: []string{"registry.example.com:5000/mirror"}}
	cases := map[string]struct {
		policy  charts.Policy
		image   string
		allowed bool
	}{
		"an official image":                 {defaults, "docker.io/istio/pilot:1.31.1", true},
		"by digest":                         {defaults, "gcr.io/istio-release/pilot@sha256:0123abcd", true},
		"with a tag and a digest":           {defaults, "ghcr.io/istio/install-cni:1.31.1@sha256:0123abcd", true},
		"Docker Hub without the registry":   {defaults, "istio/proxyv2:1.31.1", true},
		"no tag":                            {defaults, "docker.io/istio/pilot", true},
		"another registry":                  {defaults, "evil.example/miner:1", false},
		"a sibling sharing the prefix":      {defaults, "docker.io/istiofake/pilot:1.31.1", false},
		"a Docker Hub library image":        {defaults, "busybox:1.36", false},
		"no image":                          {defaults, "", false},
		"a mirror on a port, allowed":       {mirror, "registry.example.com:5000/mirror/istio/pilot:1.31.1", true},
		"a mirror, another port":            {mirror, "registry.example.com/mirror/istio/pilot:1.31.1", false},
		"a port is not a tag (no tag here)": {mirror, "registry.example.com:5000/mirror/pilot", true},
		// An image's registry is what the container runtime pulls from: a host that only ends like an allowed
		// one, or a first segment with a port or named localhost (a host, not a Docker Hub organisation), is
		// another registry, even when the installer allowed the whole of Docker Hub.
		"a host that ends like an allowed one":        {defaults, "evildocker.io/istio/pilot:1.31.1", false},
		"a subdomain of an allowed host":              {defaults, "mirror.ghcr.io/istio/pilot:1.31.1", false},
		"a registry on a port, Docker Hub allowed":    {charts.Policy{ImageHubs: []string{"docker.io"}}, "evil:5000/istio/pilot:1.31.1", false},
		"localhost, Docker Hub allowed":               {charts.Policy{ImageHubs: []string{"docker.io"}}, "localhost/istio/pilot:1.31.1", false},
		"an organisation of Docker Hub, allowed":      {charts.Policy{ImageHubs: []string{"docker.io"}}, "istio/pilot:1.31.1", true},
		"Docker Hub's registry name":                  {defaults, "registry-1.docker.io/istio/pilot:1.31.1", true},
		"a hub with a space":                          {defaults, "docker.io/istio x/pilot:1.31.1", false},
		"nothing, when the installer allowed no hubs": {charts.Policy{ImageHubs: []string{}}, "docker.io/istio/pilot:1.31.1", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := tc.policy.CheckImage(tc.image)
			if tc.allowed && err != nil {
				t.Errorf("CheckImage(%q) = %v, want allowed", tc.image, err)
			}
			if !tc.allowed && !errors.Is(err, charts.ErrImageHubNotAllowed) {
				t.Errorf("CheckImage(%q) = %v, want ErrImageHubNotAllowed", tc.image, err)
			}
		})
	}
}

func TestParseList(t *testing.T) {
	got := charts.ParseList(" https://a.example.com/charts, ,oci://b.example.com/c ")
	if len(got) != 2 || got[0] != "https://a.example.com/charts" || got[1] != "oci://b.example.com/c" {
		t.Errorf("ParseList = %q", got)
	}
	if got := charts.ParseList(""); got == nil || len(got) != 0 {
		t.Errorf("ParseList(\"\") = %#v, want an empty list that allows nothing", got)
	}
}

func TestRedactURL(t *testing.T) {
	cases := map[string]string{
		"https://user:pass@charts.example.com/istio": "https://charts.example.com/istio",
		"oci://token@registry.example.com/charts":    "oci://registry.example.com/charts",
		"https://charts.example.com/istio":           "https://charts.example.com/istio",
		"https://u:p%zz@charts.example.com/x":        "https://charts.example.com/x",
		// A password may hold '@': all the user information goes, up to the last '@' of the host part,
		// in a URL that does not parse as in one that does.
		"https://u:p@ss%zz@charts.example.com/x": "https://charts.example.com/x",
		"oci://u:p@ss%zz@registry.example.com":   "oci://registry.example.com",
		"https://u:p%40ss@charts.example.com/x":  "https://charts.example.com/x",
	}
	for in, want := range cases {
		if got := charts.RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestResolveRefusesBeforeFetching: a source outside the allow-lists is refused without a request to
// the repository, even when the same charts are cached from an allowed source.
func TestResolveRefusesBeforeFetching(t *testing.T) {
	base, istiod := packageChart(t, charts.Base, testVersion), packageChart(t, charts.Istiod, testVersion)
	r := newHelmRepository(t, base, istiod)
	resolver := &charts.CachingResolver{Fetcher: charts.RemoteFetcher{HTTPClient: r.Client()},
		Policy: charts.Policy{Repositories: []string{r.URL() + "/absolute"}}}
	ctx := context.Background()
	if _, err := resolver.Resolve(ctx, charts.Source{Repository: r.URL() + "/absolute", Version: testVersion, ImageHubs: []string{"docker.io/istio"}}); err != nil {
		t.Fatal(err)
	}
	before := r.Requests()
	_, err := resolver.Resolve(ctx, charts.Source{Repository: r.URL(), Version: testVersion})
	if !errors.Is(err, charts.ErrRepositoryNotAllowed) {
		t.Errorf("Resolve from a repository not allowed = %v", err)
	}
	_, err = resolver.Resolve(ctx, charts.Source{Repository: r.URL() + "/absolute", Version: testVersion, ImageHubs: []string{"docker.io/istiofake"}})
	if !errors.Is(err, charts.ErrImageHubNotAllowed) || !strings.Contains(err.Error(), "docker.io/istiofake") {
		t.Errorf("Resolve with a hub not allowed = %v", err)
	}
	_, err = resolver.Resolve(ctx, charts.Source{Version: charts.BuiltinVersion, ImageHubs: []string{"evil.example.com/istio"}})
	if !errors.Is(err, charts.ErrImageHubNotAllowed) {
		t.Errorf("Resolve of the built-in charts with a hub not allowed = %v", err)
	}
	if n := r.Requests() - before; n != 0 {
		t.Errorf("the repository saw %d requests for refused sources", n)
	}
}

func TestCheckNamespace(t *testing.T) {
	cases := map[string]struct {
		allowed   []string
		namespace string
		want      bool
	}{
		"any namespace when the installer set none":    {nil, "team-a", true},
		"a listed namespace":                           {[]string{"istio-system", "kube-system"}, "kube-system", true},
		"an unlisted namespace":                        {[]string{"istio-system"}, "team-a", false},
		"a namespace that only shares a listed prefix": {[]string{"istio-system"}, "istio-system-2", false},
		"nothing when the installer allowed none":      {[]string{}, "istio-system", false},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			err := charts.Policy{Namespaces: tc.allowed}.CheckNamespace(tc.namespace, "spec.namespace")
			if (err == nil) != tc.want {
				t.Fatalf("CheckNamespace(%q) with %v = %v, want allowed %v", tc.namespace, tc.allowed, err, tc.want)
			}
			if err == nil {
				return
			}
			if !errors.Is(err, charts.ErrNamespaceNotAllowed) {
				t.Errorf("the error does not wrap ErrNamespaceNotAllowed: %v", err)
			}
			for _, want := range []string{"spec.namespace " + tc.namespace, "--control-plane-namespaces", "controlPlaneNamespaces"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error %q does not say %q", err, want)
				}
			}
		})
	}
}
