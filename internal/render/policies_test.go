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
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/utils/ptr"
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
		"what istiod refuses: a short name, an IP address, a label over 63 characters, a name over 255": {
			"payments/payments-api,*/10.0.0.1,./" + strings.Repeat("a", 64) + ".example.com,*/" + strings.Repeat("a.", 127) + "io,*/*.example",
			[]string{"*/*.example"},
			[]string{`"payments/payments-api"`, `"*/10.0.0.1"`, `"./` + strings.Repeat("a", 64) + `.example.com"`, `"*/` + strings.Repeat("a.", 127) + `io"`},
		},
		"a name of 255 characters, the longest istiod accepts": {
			"*/" + strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 63),
			[]string{"*/" + strings.Repeat(strings.Repeat("a", 63)+".", 3) + strings.Repeat("b", 63)}, nil,
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
	got, err := yaml.Marshal(render.Sidecar(spec, "shop", []string{"payments/*", "monitoring/*"}, nil).Object)
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
	defaulted := render.Sidecar(&meshv1alpha1.ServiceMeshSpec{Namespace: "mesh"}, "shop", nil, nil)
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
	// An override of the control-plane namespace (the CRD refuses one; a ServiceMesh stored before may
	// have it) would make the mesh-wide default follow it.
	for _, mode := range []meshv1alpha1.MTLSMode{meshv1alpha1.MTLSPermissive, meshv1alpha1.MTLSStrict} {
		other := meshv1alpha1.MTLSStrict
		if mode == meshv1alpha1.MTLSStrict {
			other = meshv1alpha1.MTLSPermissive
		}
		overridden := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", MTLS: meshv1alpha1.MTLSSpec{
			Mode: mode, Namespaces: map[string]meshv1alpha1.MTLSMode{"istio-system": other}}}
		if got := render.MTLSMode(overridden, "istio-system"); got != mode {
			t.Errorf("MTLSMode(istio-system) with mode %s and an override %s for it = %s, want the mesh-wide %s", mode, other, got, mode)
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

func TestPolicies(t *testing.T) {
	now := metav1.Now()
	mesh := func(scoping bool) *meshv1alpha1.ServiceMesh {
		return &meshv1alpha1.ServiceMesh{
			ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "mesh-uid"},
			Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
				MTLS:           meshv1alpha1.MTLSSpec{Mode: meshv1alpha1.MTLSStrict, Namespaces: map[string]meshv1alpha1.MTLSMode{"legacy": meshv1alpha1.MTLSPermissive}},
				SidecarScoping: meshv1alpha1.SidecarScopingSpec{Enabled: ptr.To(scoping)}},
		}
	}
	deleting := mesh(true)
	deleting.DeletionTimestamp = &now
	ns := func(name, egressHosts string, terminating bool) *corev1.Namespace {
		n := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if egressHosts != "" {
			n.Annotations = map[string]string{render.EgressHostsAnnotation: egressHosts}
		}
		if terminating {
			n.DeletionTimestamp = &now
		}
		return n
	}
	tests := map[string]struct {
		mesh      *meshv1alpha1.ServiceMesh
		namespace *corev1.Namespace
		enrolled  bool
		wantKinds []string
		malformed []string
	}{
		"the control-plane namespace gets the mesh-wide PeerAuthentication": {
			mesh(true), ns("istio-system", "", false), false, []string{"PeerAuthentication"}, nil,
		},
		"an mTLS override gets its PeerAuthentication, not enrolled": {
			mesh(true), ns("legacy", "", false), false, []string{"PeerAuthentication"}, nil,
		},
		"an enrolled namespace gets a Sidecar": {
			mesh(true), ns("shop", "payments/*,bad", false), true, []string{"Sidecar"}, []string{`"bad"`},
		},
		"an enrolled mTLS override gets both": {
			mesh(true), ns("legacy", "", false), true, []string{"PeerAuthentication", "Sidecar"}, nil,
		},
		"without Sidecar scoping an enrolled namespace gets nothing": {
			mesh(false), ns("shop", "payments/*", false), true, nil, nil,
		},
		"a namespace not enrolled gets nothing": {
			mesh(true), ns("other", "", false), false, nil, nil,
		},
		"a terminating namespace gets nothing": {
			mesh(true), ns("legacy", "", true), true, nil, nil,
		},
		"without a ServiceMesh nothing is wanted": {
			nil, ns("istio-system", "", false), true, nil, nil,
		},
		"a ServiceMesh being deleted wants nothing": {
			deleting, ns("istio-system", "", false), true, nil, nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			desired, malformed := render.Policies(tc.mesh, tc.namespace, tc.enrolled, nil)
			var kinds []string
			for gvk, obj := range desired {
				kinds = append(kinds, gvk.Kind)
				if obj.GetLabels()[meshv1alpha1.ManagedByLabel] != meshv1alpha1.ManagedByValue {
					t.Errorf("%s has labels %v, want meshkeeper's ownership label", gvk.Kind, obj.GetLabels())
				}
				refs := obj.GetOwnerReferences()
				if len(refs) != 1 || refs[0].UID != "mesh-uid" || refs[0].Controller == nil || !*refs[0].Controller {
					t.Errorf("%s has owner references %+v, want the ServiceMesh as controller", gvk.Kind, refs)
				}
				if obj.GetNamespace() != tc.namespace.Name || obj.GetName() != render.PolicyName {
					t.Errorf("%s is %s/%s", gvk.Kind, obj.GetNamespace(), obj.GetName())
				}
			}
			slices.Sort(kinds)
			if !slices.Equal(kinds, tc.wantKinds) || !slices.Equal(malformed, tc.malformed) {
				t.Errorf("Policies = %v, malformed %q; want %v, %q", kinds, malformed, tc.wantKinds, tc.malformed)
			}
		})
	}
}

// The ingress-nginx controller's sidecar must reach the Services of every namespace its mesh Ingresses
// route to: in its namespace, once enrolled with scoping on, the Sidecar reaches every namespace. Scoped
// to its own namespace and the control plane, the controller's requests would leave its sidecar as
// plain text (ALLOW_ANY), which STRICT backends refuse, or be blocked (REGISTRY_ONLY).
func TestPoliciesIngressNginxNamespace(t *testing.T) {
	mesh := func(ingressNginx bool, controllerNamespace string, mode meshv1alpha1.OutboundTrafficPolicyMode) *meshv1alpha1.ServiceMesh {
		return &meshv1alpha1.ServiceMesh{
			ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "mesh-uid"},
			Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
				SidecarScoping: meshv1alpha1.SidecarScopingSpec{Enabled: ptr.To(true), EgressHosts: []string{"monitoring/*"}, OutboundTrafficPolicy: mode},
				IngressNginx: meshv1alpha1.IngressNginxSpec{Enabled: ptr.To(ingressNginx),
					Controller: meshv1alpha1.WorkloadReference{Namespace: controllerNamespace, Name: "ingress-nginx-controller", Kind: "Deployment"}}},
		}
	}
	ns := func(name string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
			Annotations: map[string]string{render.EgressHostsAnnotation: "payments/*,bad"}}}
	}
	scoped := []any{"./*", "istio-system/*", "monitoring/*", "payments/*"}
	everywhere := []any{"*/*"}
	tests := map[string]struct {
		mesh      *meshv1alpha1.ServiceMesh
		namespace string
		enrolled  bool
		hosts     []any // nil: no Sidecar
		mode      string
	}{
		"the controller's enrolled namespace reaches every namespace": {
			mesh(true, "ingress-nginx", ""), "ingress-nginx", true, everywhere, "ALLOW_ANY"},
		"with REGISTRY_ONLY too, keeping the mesh's policy": {
			mesh(true, "ingress-nginx", meshv1alpha1.OutboundRegistryOnly), "ingress-nginx", true, everywhere, "REGISTRY_ONLY"},
		"other enrolled namespaces stay scoped": {
			mesh(true, "ingress-nginx", ""), "shop", true, scoped, "ALLOW_ANY"},
		"the controller's namespace, not enrolled, gets no Sidecar": {
			mesh(true, "ingress-nginx", ""), "ingress-nginx", false, nil, ""},
		"with the integration off the namespace is scoped again": {
			mesh(false, "ingress-nginx", ""), "ingress-nginx", true, scoped, "ALLOW_ANY"},
		"the controller moved: its old namespace is scoped again": {
			mesh(true, "edge", ""), "ingress-nginx", true, scoped, "ALLOW_ANY"},
		"the controller moved: its new namespace reaches every namespace": {
			mesh(true, "edge", ""), "edge", true, everywhere, "ALLOW_ANY"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			desired, malformed := render.Policies(tc.mesh, ns(tc.namespace), tc.enrolled, nil)
			sidecar := desired[render.SidecarKind]
			if tc.hosts == nil {
				if sidecar != nil {
					t.Fatalf("Policies wants a Sidecar %v, want none", sidecar.Object["spec"])
				}
				return
			}
			if sidecar == nil {
				t.Fatal("Policies wants no Sidecar, want one")
			}
			if sidecar.GetName() != render.PolicyName || sidecar.GetNamespace() != tc.namespace ||
				sidecar.GetLabels()[meshv1alpha1.ManagedByLabel] != meshv1alpha1.ManagedByValue || len(sidecar.GetOwnerReferences()) != 1 {
				t.Errorf("Sidecar is %s/%s, labels %v, owners %v", sidecar.GetNamespace(), sidecar.GetName(), sidecar.GetLabels(), sidecar.GetOwnerReferences())
			}
			want := map[string]any{
				"egress":                []any{map[string]any{"hosts": tc.hosts}},
				"outboundTrafficPolicy": map[string]any{"mode": tc.mode},
			}
			if !equality.Semantic.DeepEqual(sidecar.Object["spec"], want) {
				t.Errorf("Sidecar spec = %v, want %v", sidecar.Object["spec"], want)
			}
			if !slices.Equal(malformed, []string{`"bad"`}) {
				t.Errorf("malformed = %q, want the annotation's malformed entry reported", malformed)
			}
		})
	}
}

// A mesh locked down through its mesh config (spec.values.meshConfig.outboundTrafficPolicy.mode:
// REGISTRY_ONLY) stays locked down in the scoped namespaces: a Sidecar's own mode overrides the mesh
// config's, and spec.sidecarScoping.outboundTrafficPolicy is ALLOW_ANY by default, so turning scoping on
// would open egress in every enrolled namespace. The Sidecar takes the stricter of the two.
func TestSidecarKeepsTheMeshsRegistryOnly(t *testing.T) {
	for name, tc := range map[string]struct {
		values  string
		scoping meshv1alpha1.OutboundTrafficPolicyMode
		want    string
	}{
		"the mesh config's REGISTRY_ONLY, scoping's default":        {values: `{"meshConfig": {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}}`, scoping: meshv1alpha1.OutboundAllowAny, want: "REGISTRY_ONLY"},
		"the mesh config's REGISTRY_ONLY, scoping unset":            {values: `{"meshConfig": {"outboundTrafficPolicy": {"mode": "REGISTRY_ONLY"}}}`, want: "REGISTRY_ONLY"},
		"the mesh config's ALLOW_ANY, scoping's REGISTRY_ONLY":      {values: `{"meshConfig": {"outboundTrafficPolicy": {"mode": "ALLOW_ANY"}}}`, scoping: meshv1alpha1.OutboundRegistryOnly, want: "REGISTRY_ONLY"},
		"no mesh-wide mode, scoping's ALLOW_ANY":                    {values: `{"meshConfig": {"accessLogFile": "/dev/stdout"}}`, scoping: meshv1alpha1.OutboundAllowAny, want: "ALLOW_ANY"},
		"the word elsewhere in spec.values, not the mesh-wide mode": {values: `{"env": {"NOTE": "outboundTrafficPolicy"}}`, scoping: meshv1alpha1.OutboundAllowAny, want: "ALLOW_ANY"},
	} {
		t.Run(name, func(t *testing.T) {
			spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", Values: &meshv1alpha1.IstiodValues{},
				SidecarScoping: meshv1alpha1.SidecarScopingSpec{OutboundTrafficPolicy: tc.scoping}}
			if err := spec.Values.UnmarshalJSON([]byte(tc.values)); err != nil {
				t.Fatal(err)
			}
			for _, sidecar := range []*unstructured.Unstructured{render.Sidecar(spec, "shop", nil, nil), render.IngressNginxSidecar(spec, "ingress-nginx", nil)} {
				if mode, _, _ := unstructured.NestedString(sidecar.Object, "spec", "outboundTrafficPolicy", "mode"); mode != tc.want {
					t.Errorf("Sidecar %s/default: outbound traffic policy %q, want %q", sidecar.GetNamespace(), mode, tc.want)
				}
			}
		})
	}
}

// A mesh locked down by its mesh-wide default Sidecar (one without a workloadSelector in the root
// namespace) stays locked down in the scoped namespaces: istiod applies that Sidecar only to namespaces
// without a namespace-wide Sidecar of their own, so meshkeeper's takes its place in every enrolled
// namespace. Its REGISTRY_ONLY holds there, and the hosts it made reachable stay reachable.
func TestSidecarTakesTheMeshSidecarsPlace(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{
		ObjectMeta: metav1.ObjectMeta{Name: "default", UID: "mesh-uid"},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
			SidecarScoping: meshv1alpha1.SidecarScopingSpec{Enabled: ptr.To(true), EgressHosts: []string{"monitoring/*"}},
			IngressNginx: meshv1alpha1.IngressNginxSpec{Enabled: ptr.To(true),
				Controller: meshv1alpha1.WorkloadReference{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}},
	}
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: map[string]string{render.EgressHostsAnnotation: "payments/*"}}}
	for name, tc := range map[string]struct {
		root         *render.MeshSidecar
		mode         string
		hosts        []any
		ingressHosts []any
	}{
		"no mesh-wide Sidecar": {
			nil, "ALLOW_ANY", []any{"./*", "istio-system/*", "monitoring/*", "payments/*"}, []any{"*/*"}},
		"REGISTRY_ONLY without hosts": {
			&render.MeshSidecar{Name: "lockdown", RegistryOnly: true},
			"REGISTRY_ONLY", []any{"./*", "istio-system/*", "monitoring/*", "payments/*"}, []any{"*/*"}},
		"REGISTRY_ONLY with hosts, which stay reachable": {
			&render.MeshSidecar{Name: "lockdown", RegistryOnly: true, Hosts: []string{"./*", "egress/*", "*/api.example.com"}},
			"REGISTRY_ONLY", []any{"./*", "istio-system/*", "monitoring/*", "egress/*", "*/api.example.com", "payments/*"}, []any{"*/*"}},
		"ALLOW_ANY with hosts: the hosts, scoping's mode": {
			&render.MeshSidecar{Name: "default", Hosts: []string{"egress/*"}},
			"ALLOW_ANY", []any{"./*", "istio-system/*", "monitoring/*", "egress/*", "payments/*"}, []any{"*/*"}},
	} {
		t.Run(name, func(t *testing.T) {
			for namespace, hosts := range map[*corev1.Namespace][]any{shop: tc.hosts, {ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx"}}: tc.ingressHosts} {
				desired, _ := render.Policies(mesh, namespace, true, tc.root)
				want := map[string]any{
					"egress":                []any{map[string]any{"hosts": hosts}},
					"outboundTrafficPolicy": map[string]any{"mode": tc.mode},
				}
				if got := desired[render.SidecarKind].Object["spec"]; !equality.Semantic.DeepEqual(got, want) {
					t.Errorf("Sidecar %s/default spec = %v, want %v", namespace.Name, got, want)
				}
			}
		})
	}
}

func TestReadMeshSidecar(t *testing.T) {
	read := func(spec string) *render.MeshSidecar {
		t.Helper()
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte("metadata: {name: lockdown, namespace: istio-system}\nspec: "+spec), &obj.Object); err != nil {
			t.Fatal(err)
		}
		return render.ReadMeshSidecar(obj)
	}
	for name, tc := range map[string]struct {
		spec string
		want *render.MeshSidecar
	}{
		"REGISTRY_ONLY, hosts of every egress listener, once each, without those istiod refuses": {
			`{outboundTrafficPolicy: {mode: REGISTRY_ONLY}, egress: [{hosts: ["./*", "istio-system/*"]}, ` +
				`{port: {number: 443, protocol: TLS, name: tls}, hosts: ["*/api.example.com", "./*", "payments/payments-api"]}]}`,
			&render.MeshSidecar{Name: "lockdown", RegistryOnly: true, Hosts: []string{"./*", "istio-system/*", "*/api.example.com"}},
		},
		"ALLOW_ANY":                         {`{outboundTrafficPolicy: {mode: ALLOW_ANY}, egress: [{hosts: ["./*"]}]}`, &render.MeshSidecar{Name: "lockdown", Hosts: []string{"./*"}}},
		"no outbound traffic policy":        {`{egress: [{hosts: ["./*"]}]}`, &render.MeshSidecar{Name: "lockdown", Hosts: []string{"./*"}}},
		"a workloadSelector: not mesh-wide": {`{workloadSelector: {labels: {app: web}}, outboundTrafficPolicy: {mode: REGISTRY_ONLY}}`, nil},
		"an empty workloadSelector: not mesh-wide either, as istiod reads it": {`{workloadSelector: {}, outboundTrafficPolicy: {mode: REGISTRY_ONLY}}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			if got := read(tc.spec); !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("ReadMeshSidecar = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestRootNamespace(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "mesh-system"}
	if got := render.RootNamespace(spec); got != "mesh-system" {
		t.Errorf("RootNamespace without meshConfig.rootNamespace = %q, want spec.namespace", got)
	}
	spec.Values = &meshv1alpha1.IstiodValues{}
	if err := spec.Values.UnmarshalJSON([]byte(`{"meshConfig": {"rootNamespace": "istio-config"}}`)); err != nil {
		t.Fatal(err)
	}
	if got := render.RootNamespace(spec); got != "istio-config" {
		t.Errorf("RootNamespace = %q, want meshConfig.rootNamespace", got)
	}
}
