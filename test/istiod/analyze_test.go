//go:build istiod

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

package istiod_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/istiod"
)

// waitMeshSettled waits until meshkeeper has handled the ServiceMesh's current generation: status of
// that generation, namespaces enrolled and policies applied.
func waitMeshSettled(ctx context.Context, t *testing.T) {
	t.Helper()
	if err := waitFor(ctx, 2*time.Minute, func() error {
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
			return err
		}
		if mesh.Status.ObservedGeneration != mesh.Generation {
			return fmt.Errorf("status is of generation %d, the spec %d", mesh.Status.ObservedGeneration, mesh.Generation)
		}
		for _, want := range []string{meshv1alpha1.ConditionNamespacesEnrolled, meshv1alpha1.ConditionPoliciesApplied} {
			i := slices.IndexFunc(mesh.Status.Conditions, func(c metav1.Condition) bool { return c.Type == want })
			if i < 0 {
				return fmt.Errorf("no condition %s", want)
			}
			if c := mesh.Status.Conditions[i]; c.Status != metav1.ConditionTrue || c.ObservedGeneration != mesh.Generation {
				return fmt.Errorf("%s is %s (%s) for generation %d", want, c.Status, c.Message, c.ObservedGeneration)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// TestIstioAnalyze: Istio's own analyzers (istioctl analyze over every namespace) find no error and no
// warning in the mesh meshkeeper installed, enrolled and wrote policies for: the mesh config, the
// injection and validation webhooks, the enrolled namespaces, the mesh-wide and per-namespace
// PeerAuthentications and the Sidecars. Neither istioctl nor istiod warns about the mesh config when
// it loads it. Then the judge is shown to catch a fault of each kind. Its namespaces are its own, so
// what it leaves behind changes no other test's.
func TestIstioAnalyze(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	ensureNamespace(ctx, t, "orders", 2, nil)
	ensureNamespace(ctx, t, "billing", 1, nil)
	patchMesh(t, `{"injection": {"namespaces": ["app", "orders"]}, "mtls": {"namespaces": {"orders": "STRICT", "billing": "PERMISSIVE"}},
		"sidecarScoping": {"enabled": true, "egressHosts": ["billing/*"]}}`,
		`{"injection": {"namespaces": ["app"]}, "mtls": {"namespaces": null}, "sidecarScoping": {"enabled": false, "egressHosts": null}}`)
	waitMeshSettled(ctx, t)
	for _, want := range []struct{ kind, namespace string }{
		{"PeerAuthentication", meshNamespace}, {"PeerAuthentication", "orders"}, {"PeerAuthentication", "billing"},
		{"Sidecar", "orders"}, {"Sidecar", appNamespace},
	} {
		meshPolicy(ctx, t, want.kind, want.namespace, func(*unstructured.Unstructured) bool { return true })
	}

	analysis, err := istiod.Analyze(ctx, istiod.AnalyzeOptions{Kubeconfig: kubeconfig, Namespace: meshNamespace})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("istioctl analyze: %d message(s)", len(analysis.Messages))
	for _, m := range analysis.Messages {
		t.Logf("  %s", m)
	}
	for _, m := range analysis.AtLeast("Warning") {
		t.Errorf("istioctl analyze: %s (%s)", m, m.DocumentationURL)
	}
	for _, w := range analysis.MeshConfigWarnings {
		t.Errorf("istioctl's validation of the mesh config: %s", w)
	}
	for _, w := range istiod.MeshConfigWarnings(pilot.Log()) {
		t.Errorf("istiod's validation of the mesh config: %s", w)
	}

	// The judge can fail. A Sidecar of someone else's beside meshkeeper's in orders: two Sidecars without
	// a workload selector in one namespace are an error Istio's analyzers report on both.
	extra := render.Sidecar(&meshv1alpha1.ServiceMeshSpec{Namespace: meshNamespace}, "orders", nil, nil)
	extra.SetName("extra")
	if err := k8sClient.Create(ctx, extra); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), extra) })
	faulty, err := istiod.Analyze(ctx, istiod.AnalyzeOptions{Kubeconfig: kubeconfig, Namespace: meshNamespace})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(faulty.AtLeast("Error"), func(m istiod.AnalysisMessage) bool {
		return strings.Contains(m.Origin, "orders/default")
	}) {
		t.Errorf("with a second Sidecar in orders, istioctl analyze reports no error on meshkeeper's: %v", faulty.Messages)
	}

	// And a mesh config with the proxy flag Istio deprecated in favour of istiod's address allocation.
	deprecated := filepath.Join(t.TempDir(), "mesh.yaml")
	if err := os.WriteFile(deprecated, []byte("defaultConfig:\n  proxyMetadata:\n    ISTIO_META_DNS_AUTO_ALLOCATE: \"true\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	flagged, err := istiod.Analyze(ctx, istiod.AnalyzeOptions{Kubeconfig: kubeconfig, Namespace: meshNamespace, MeshConfigFile: deprecated})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(flagged.MeshConfigWarnings, func(w string) bool { return strings.Contains(w, "ISTIO_META_DNS_AUTO_ALLOCATE") }) {
		t.Errorf("a mesh config with ISTIO_META_DNS_AUTO_ALLOCATE raised no mesh-config warning; istioctl's log:\n%s", flagged.Log)
	}
}

var serviceEntryKind = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "ServiceEntry"}

// TestServiceEntryAddressAllocation: spec.proxy.dnsAutoAllocate (on by default) reaches istiod, whose
// controller gives a ServiceEntry without addresses a virtual IP in its status, and a sidecar that
// captures DNS gets a TCP listener on that IP, so TCP to the external host can be told apart from other
// hosts on the same port.
func TestServiceEntryAddressAllocation(t *testing.T) {
	ctx := testContext(t)
	se := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: orders-db, namespace: `+appNamespace+`}
spec:
  hosts: [orders-db.example.internal]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 5432, name: postgres, protocol: TCP}]
`), &se.Object); err != nil {
		t.Fatal(err)
	}
	if err := k8sClient.Create(ctx, se); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8sClient.Delete(context.Background(), se) })

	var address netip.Addr
	if err := waitFor(ctx, time.Minute, func() error {
		got := &unstructured.Unstructured{}
		got.SetGroupVersionKind(serviceEntryKind)
		if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(se), got); err != nil {
			return err
		}
		addresses, _, _ := unstructured.NestedSlice(got.Object, "status", "addresses")
		for _, a := range addresses {
			value, _, _ := unstructured.NestedString(a.(map[string]any), "value")
			if parsed, err := netip.ParseAddr(value); err == nil && parsed.Is4() {
				address = parsed
				return nil
			}
		}
		return fmt.Errorf("ServiceEntry %s has no IPv4 address in its status: %v", se.GetName(), got.Object["status"])
	}); err != nil {
		t.Fatalf("istiod allocated no address: %v", err)
	}
	if !netip.MustParsePrefix("240.240.0.0/16").Contains(address) {
		t.Errorf("allocated address %s is outside istiod's range 240.240.0.0/16", address)
	}

	listener := fmt.Sprintf("%s_5432", address)
	capturing := appProxy
	capturing.Metadata = map[string]any{"DNS_CAPTURE": "true"}
	if err := waitFor(ctx, 30*time.Second, func() error {
		listeners, err := istiod.FetchLDS(ctx, pilot.GRPCAddr, capturing, istiod.SotW)
		if err != nil {
			return err
		}
		if !listeners.Has(listener) {
			return fmt.Errorf("no listener %s among %v", listener, listeners.Names)
		}
		return nil
	}); err != nil {
		t.Error(err)
	}
	t.Logf("ServiceEntry %s got %s; a DNS-capturing sidecar listens on %s", se.GetName(), address, listener)
}
