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

package render_test

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

func TestEgressHosts(t *testing.T) {
	tests := map[string]struct {
		annotation       string
		hosts, malformed []string
	}{
		"empty":         {"", nil, nil},
		"one namespace": {"payments/*", []string{"payments/*"}, nil},
		"a service of another namespace": {
			"monitoring/prometheus.monitoring.svc.cluster.local",
			[]string{"monitoring/prometheus.monitoring.svc.cluster.local"}, nil,
		},
		"several, with blanks and an empty entry": {
			" payments/* ,, */api.example.com,./web.shop.svc.cluster.local,~/*",
			[]string{"payments/*", "*/api.example.com", "./web.shop.svc.cluster.local", "~/*"}, nil,
		},
		"wildcard subdomain": {"*/*.googleapis.com", []string{"*/*.googleapis.com"}, nil},
		"no namespace part is malformed, the rest applies": {
			"payments/*,api.example.com,Payments/*,payments/",
			[]string{"payments/*"}, []string{`"api.example.com"`, `"Payments/*"`, `"payments/"`},
		},
		"a port or a path is not a host": {
			"shop/web:8080,shop/web/path", nil, []string{`"shop/web:8080"`, `"shop/web/path"`},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			hosts, malformed := render.EgressHosts(tc.annotation)
			if !slices.Equal(hosts, tc.hosts) || !slices.Equal(malformed, tc.malformed) {
				t.Errorf("EgressHosts(%q) = %q, %q; want %q, %q", tc.annotation, hosts, malformed, tc.hosts, tc.malformed)
			}
		})
	}
}

func TestSidecar(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", SidecarScoping: meshv1alpha1.SidecarScopingSpec{
		EgressHosts:           []string{"monitoring/*", "istio-system/*"},
		OutboundTrafficPolicy: meshv1alpha1.OutboundRegistryOnly,
	}}
	got, err := yaml.Marshal(render.Sidecar(spec, "shop", []string{"payments/*", "monitoring/*"}).Object)
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: networking.istio.io/v1
kind: Sidecar
metadata:
  name: default
  namespace: shop
spec:
  egress:
  - hosts:
    - ./*
    - istio-system/*
    - monitoring/*
    - payments/*
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
`
	if string(got) != want {
		t.Errorf("Sidecar =\n%s\nwant\n%s", got, want)
	}
	defaulted := render.Sidecar(&meshv1alpha1.ServiceMeshSpec{Namespace: "mesh"}, "shop", nil)
	mode, _, _ := unstructured.NestedString(defaulted.Object, "spec", "outboundTrafficPolicy", "mode")
	if mode != "ALLOW_ANY" {
		t.Errorf("default outbound traffic policy = %q, want ALLOW_ANY", mode)
	}
}

func TestPeerAuthentication(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", MTLS: meshv1alpha1.MTLSSpec{
		Mode: meshv1alpha1.MTLSStrict, Namespaces: map[string]meshv1alpha1.MTLSMode{"legacy": meshv1alpha1.MTLSPermissive}}}
	for _, tc := range []struct {
		namespace string
		wants     bool
		mode      meshv1alpha1.MTLSMode
	}{
		{"istio-system", true, meshv1alpha1.MTLSStrict},
		{"legacy", true, meshv1alpha1.MTLSPermissive},
		{"shop", false, meshv1alpha1.MTLSStrict},
	} {
		if got := render.WantsPeerAuthentication(spec, tc.namespace); got != tc.wants {
			t.Errorf("WantsPeerAuthentication(%s) = %v, want %v", tc.namespace, got, tc.wants)
		}
		if got := render.MTLSMode(spec, tc.namespace); got != tc.mode {
			t.Errorf("MTLSMode(%s) = %s, want %s", tc.namespace, got, tc.mode)
		}
	}
	if got := render.MTLSMode(&meshv1alpha1.ServiceMeshSpec{}, "shop"); got != meshv1alpha1.MTLSPermissive {
		t.Errorf("MTLSMode without a mode = %s, want PERMISSIVE", got)
	}
	pa := render.PeerAuthentication("legacy", meshv1alpha1.MTLSPermissive)
	if mode, _, _ := unstructured.NestedString(pa.Object, "spec", "mtls", "mode"); mode != "PERMISSIVE" || pa.GetName() != "default" ||
		pa.GetKind() != "PeerAuthentication" || pa.GetAPIVersion() != "security.istio.io/v1" {
		t.Errorf("PeerAuthentication = %v", pa.Object)
	}
}
