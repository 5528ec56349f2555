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
	"slices"
	"strings"
	"testing"
	"time"

	listenerv3 "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/istiod"
)

// patchMesh merge-patches the ServiceMesh's spec, and restores what the patch changed when the test ends.
func patchMesh(t testing.TB, spec, restore string) {
	t.Helper()
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	if err := k8sClient.Patch(context.Background(), mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":`+spec+`}`))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k8sClient.Patch(context.Background(), mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":`+restore+`}`))); err != nil {
			t.Error(err)
		}
	})
}

// ensureNamespace creates a namespace with services svc-0 … svc-(n-1) unless it exists.
func ensureNamespace(ctx context.Context, t testing.TB, name string, services int, annotations map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	if err := k8sClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	for i := range services {
		if err := k8sClient.Create(ctx, service(name, fmt.Sprintf("svc-%d", i), 80)); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
}

// meshPolicy waits for meshkeeper's policy object of a kind in a namespace and returns it.
func meshPolicy(ctx context.Context, t testing.TB, gvk string, namespace string, ready func(*unstructured.Unstructured) bool) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	kind := render.SidecarKind
	if gvk == "PeerAuthentication" {
		kind = render.PeerAuthenticationKind
	}
	u.SetGroupVersionKind(kind)
	if err := waitFor(ctx, time.Minute, func() error {
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "default"}, u); err != nil {
			return err
		}
		if !ready(u) {
			return fmt.Errorf("%s %s/default is not as wanted yet: %v", gvk, namespace, u.Object["spec"])
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return u
}

// cdsStreams opens an ADS stream per proxy, subscribed to clusters, and returns them with a mark after
// their first response: what they are pushed from now on. The streams close when the test ends.
func cdsStreams(ctx context.Context, t testing.TB, mode istiod.Mode, proxies map[string]istiod.Proxy) (map[string]*istiod.ADS, map[string]int) {
	t.Helper()
	streams, marks := map[string]*istiod.ADS{}, map[string]int{}
	for name, proxy := range proxies {
		ads, err := istiod.Dial(ctx, pilot.GRPCAddr, proxy, mode)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(ads.Close)
		if err := ads.Subscribe(istiod.ClusterType); err != nil {
			t.Fatal(err)
		}
		if _, err := ads.WaitForType(ctx, 0, istiod.ClusterType); err != nil {
			t.Fatal(err)
		}
		streams[name], marks[name] = ads, ads.Mark()
	}
	return streams, marks
}

// TestEgressHostsAsIstiodJudgesThem: meshkeeper writes an egress host into a Sidecar only when istiod
// accepts it, for the edge cases of Istio's validation: a Sidecar with one host istiod refuses is
// refused whole, so a scoped namespace would keep no Sidecar, or a stale one.
func TestEgressHostsAsIstiodJudgesThem(t *testing.T) {
	ctx := testContext(t)
	long := strings.Repeat("a", 63)
	// istiod takes a namespace part of capitals, which names no namespace; meshkeeper refuses it.
	stricter := map[string]bool{"Payments/*": true}
	for _, host := range []string{
		"payments/*", "*/*", "./*", "~/*", "*/api.example.com", "*/*.example.com", "*/*.example", "./web.shop.svc.cluster.local",
		"payments/payments-api", "*/localhost", "*/10.0.0.1", "*/api.example.123", "*/api.123.example",
		"*/" + long + ".example.com", "*/" + long + "a.example.com", "*/api-.example.com", "*/-api.example.com",
		"*/" + strings.Repeat("a.", 126) + "io", "*/" + strings.Repeat("a.", 127) + "io",
		"payments/api*.example.com", "*/*example.com", long + "/*", long + "a/*", "Payments/*",
	} {
		sidecar := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "Sidecar",
			"metadata": map[string]any{"name": "default", "namespace": "shop"},
			"spec":     map[string]any{"egress": []any{map[string]any{"hosts": []any{host}}}},
		}}
		verdict, err := istiod.Validate(ctx, pilot.ValidateURL(), sidecar)
		if err != nil {
			t.Fatal(err)
		}
		got := render.ValidEgressHost(host)
		switch {
		case got && !verdict.Allowed:
			t.Errorf("egress host %q: meshkeeper accepts it, istiod refuses it: %v", host, verdict.Result)
		case !got && verdict.Allowed && !stricter[host]:
			t.Errorf("egress host %q: meshkeeper refuses it, istiod accepts it", host)
		}
	}
}

func outbound(service, namespace string) string {
	return fmt.Sprintf("outbound|80||%s.%s.svc.cluster.local", service, namespace)
}

// TestSidecarScoping: istiod gives a proxy of a scoped namespace the clusters of its own namespace, the
// control plane and the declared egress hosts only, while a proxy of an unscoped namespace gets every
// cluster; a change outside the scope pushes the scoped proxy nothing.
func TestSidecarScoping(t *testing.T) {
	ctx := testContext(t)
	// Beside one good host: entries istiod would refuse, which must leave the Sidecar out of it.
	ensureNamespace(ctx, t, "shop", 3, map[string]string{render.EgressHostsAnnotation: "payments/svc-0.payments.svc.cluster.local, bad host, " +
		"payments/payments-api, */10.0.0.1"})
	ensureNamespace(ctx, t, "payments", 3, nil)
	ensureNamespace(ctx, t, "monitoring", 1, nil)
	ensureNamespace(ctx, t, "legacy", 3, nil)
	patchMesh(t, `{"injection": {"namespaces": ["app", "shop", "payments"]}, "sidecarScoping": {"enabled": true, "egressHosts": ["monitoring/*"]}}`,
		`{"injection": {"namespaces": ["app"]}, "sidecarScoping": {"enabled": false, "egressHosts": null}}`)
	sidecar := meshPolicy(ctx, t, "Sidecar", "shop", func(*unstructured.Unstructured) bool { return true })

	// istiod's own validation accepts what meshkeeper wrote.
	verdict, err := istiod.Validate(ctx, pilot.ValidateURL(), sidecar)
	if err != nil {
		t.Fatal(err)
	}
	if !verdict.Allowed {
		t.Errorf("istiod rejects meshkeeper's Sidecar: %v", verdict.Result)
	}

	shop := istiod.Proxy{IP: "10.244.1.10", Pod: "web-5f7d", Namespace: "shop"}
	legacy := istiod.Proxy{IP: "10.244.2.10", Pod: "web-8c2a", Namespace: "legacy"}
	var scoped, unscoped istiod.Resources
	// Wait until istiod has seen both the Sidecar and the Services the test just created: a scoped
	// proxy that lacks legacy's Services proves nothing while istiod knows none of them yet.
	if err := waitFor(ctx, 30*time.Second, func() error {
		if unscoped, err = istiod.FetchCDS(ctx, pilot.GRPCAddr, legacy, istiod.Delta); err != nil {
			return err
		}
		if !unscoped.Has(outbound("svc-0", "legacy")) || !unscoped.Has(outbound("svc-2", "shop")) {
			return fmt.Errorf("istiod has not seen the test's Services yet")
		}
		if scoped, err = istiod.FetchCDS(ctx, pilot.GRPCAddr, shop, istiod.Delta); err != nil {
			return err
		}
		if scoped.Has(outbound("svc-0", "legacy")) {
			return fmt.Errorf("istiod has not applied the Sidecar yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("scoped proxy in shop: %d clusters, %d bytes; unscoped proxy in legacy: %d clusters, %d bytes",
		scoped.Count(), scoped.Bytes, unscoped.Count(), unscoped.Bytes)

	for _, want := range []string{outbound("svc-0", "shop"), outbound("svc-2", "shop"), istiodCluster,
		outbound("svc-0", "monitoring"), outbound("svc-0", "payments")} {
		if !scoped.Has(want) {
			t.Errorf("the scoped proxy has no cluster %q", want)
		}
	}
	for _, unwanted := range []string{outbound("svc-1", "payments"), outbound("svc-0", "legacy"), webCluster} {
		if scoped.Has(unwanted) {
			t.Errorf("the scoped proxy has cluster %q, outside its Sidecar", unwanted)
		}
	}
	for _, want := range []string{outbound("svc-0", "shop"), outbound("svc-1", "payments"), outbound("svc-0", "legacy"), webCluster} {
		if !unscoped.Has(want) {
			t.Errorf("the unscoped proxy has no cluster %q", want)
		}
	}
	if scoped.Bytes >= unscoped.Bytes {
		t.Errorf("scoped CDS %d bytes, unscoped %d: scoping saved nothing", scoped.Bytes, unscoped.Bytes)
	}

	// A Service created in legacy, outside shop's scope: pushed to legacy's proxy, not to shop's.
	streams, marks := cdsStreams(ctx, t, istiod.Delta, map[string]istiod.Proxy{"shop": shop, "legacy": legacy})
	if err := k8sClient.Create(ctx, service("legacy", "new", 80)); err != nil {
		t.Fatal(err)
	}
	if _, err := streams["legacy"].WaitFor(ctx, marks["legacy"], func(r istiod.Response) bool {
		return r.TypeURL == istiod.ClusterType && slices.Contains(r.Names, outbound("new", "legacy"))
	}); err != nil {
		t.Fatalf("the unscoped proxy got no push for the new Service: %v", err)
	}
	pushed, err := streams["shop"].Quiet(ctx, marks["shop"], 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range pushed {
		if slices.Contains(r.Names, outbound("new", "legacy")) {
			t.Errorf("the scoped proxy was pushed the new Service outside its scope: %s", r.Summary())
		}
	}
	t.Logf("pushes to the scoped proxy after a change outside its scope: %d", len(pushed))
}

// inboundChains returns the transport protocols the filter chains of the proxy's virtualInbound
// listener accept ("tls", "raw_buffer").
func inboundChains(ctx context.Context, t *testing.T, proxy istiod.Proxy) map[string]int {
	t.Helper()
	listeners, err := istiod.FetchLDS(ctx, pilot.GRPCAddr, proxy, istiod.SotW)
	if err != nil {
		t.Fatal(err)
	}
	inbound, ok := listeners.Messages["virtualInbound"].(*listenerv3.Listener)
	if !ok {
		t.Fatalf("no virtualInbound listener among %v", listeners.Names)
	}
	protocols := map[string]int{}
	for _, chain := range inbound.GetFilterChains() {
		protocols[chain.GetFilterChainMatch().GetTransportProtocol()]++
	}
	return protocols
}

// TestStrictMTLS: meshkeeper's mesh-wide STRICT PeerAuthentication makes istiod drop the plaintext
// filter chains from every proxy's inbound listener, and istiod's validation accepts it.
func TestStrictMTLS(t *testing.T) {
	ctx := testContext(t)
	permissive := inboundChains(ctx, t, appProxy)
	if permissive["raw_buffer"] == 0 {
		t.Fatalf("under PERMISSIVE the inbound listener has no plaintext chain (%v): the check below would prove nothing", permissive)
	}
	patchMesh(t, `{"mtls": {"mode": "STRICT"}}`, `{"mtls": {"mode": "PERMISSIVE"}}`)
	pa := meshPolicy(ctx, t, "PeerAuthentication", meshNamespace, func(u *unstructured.Unstructured) bool {
		mode, _, _ := unstructured.NestedString(u.Object, "spec", "mtls", "mode")
		return mode == "STRICT"
	})
	verdict, err := istiod.Validate(ctx, pilot.ValidateURL(), pa)
	if err != nil {
		t.Fatal(err)
	}
	if !verdict.Allowed {
		t.Errorf("istiod rejects meshkeeper's PeerAuthentication: %v", verdict.Result)
	}
	var strict map[string]int
	if err := waitFor(ctx, 30*time.Second, func() error {
		strict = inboundChains(ctx, t, appProxy)
		if strict["raw_buffer"] > 0 {
			return fmt.Errorf("inbound chains by transport %v", strict)
		}
		return nil
	}); err != nil {
		t.Fatalf("under STRICT the inbound listener still accepts plaintext: %v", err)
	}
	if strict["tls"] == 0 {
		t.Errorf("under STRICT the inbound listener has no TLS chain: %v", strict)
	}
	t.Logf("inbound filter chains by transport: PERMISSIVE %v, STRICT %v", permissive, strict)

	// A malformed PeerAuthentication is rejected: the validation check above can fail.
	bad := pa.DeepCopy()
	_ = unstructured.SetNestedField(bad.Object, "SOMETIMES", "spec", "mtls", "mode")
	if verdict, err := istiod.Validate(ctx, pilot.ValidateURL(), bad); err != nil || verdict.Allowed {
		t.Errorf("istiod accepted mode SOMETIMES (err %v)", err)
	}
}

// TestIngressNginxInjection: the pod template meshkeeper gives the ingress-nginx controller gets a
// sidecar that leaves every inbound port alone and captures only the Service CIDRs.
func TestIngressNginxInjection(t *testing.T) {
	ctx := testContext(t)
	spec := meshv1alpha1.IngressNginxSpec{Enabled: new(true), ServiceCIDRs: []string{"10.96.0.0/12", "fd00:10:96::/112"},
		Controller: meshv1alpha1.WorkloadReference{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}
	template := &corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": "ingress-nginx"}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{
			Name: "controller", Image: "registry.k8s.io/ingress-nginx/controller:v1.13.0",
			Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 80}, {Name: "https", ContainerPort: 443}},
		}}},
	}
	decision := policy.IngressNginxPodTemplate(policy.PodTemplateInput{IngressNginx: spec, Template: template})
	if !decision.Configured {
		t.Fatalf("decision: %s", decision.Message)
	}
	ensureNamespace(ctx, t, "ingress-nginx", 0, nil) // not enrolled: the pod's own label asks for the sidecar
	pod := &corev1.Pod{ObjectMeta: *template.ObjectMeta.DeepCopy(), Spec: *template.Spec.DeepCopy()}
	pod.Namespace, pod.GenerateName = "ingress-nginx", "ingress-nginx-controller-"
	for k, v := range decision.Labels {
		pod.Labels[k] = v
	}
	pod.Annotations = decision.Annotations
	injection, err := istiod.Inject(ctx, pilot.InjectURL(), "ingress-nginx", pod)
	if err != nil {
		t.Fatal(err)
	}
	got := injection.Pod
	// With the CNI agent, istio-validation checks the redirection the agent set up from the pod's
	// traffic annotations, which carry the same ranges istio-init would have been given.
	initC := find(got.Spec.InitContainers, "istio-validation")
	if initC == nil {
		t.Fatalf("no istio-validation among %v", got.Spec.InitContainers)
	}
	args := strings.Join(initC.Args, " ")
	for _, want := range []string{"-i 10.96.0.0/12,fd00:10:96::/112", `-b `} {
		if !strings.Contains(args, want) {
			t.Errorf("istio-validation args %q lack %q", args, want)
		}
	}
	if i := slices.Index(initC.Args, "-b"); i < 0 || i+1 >= len(initC.Args) || initC.Args[i+1] != "" {
		t.Errorf("istio-validation args %q: want -b \"\" (no inbound port captured)", args)
	}
	for key, want := range map[string]string{
		"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12,fd00:10:96::/112",
		"traffic.sidecar.istio.io/includeInboundPorts":     "",
	} {
		if have, ok := got.Annotations[key]; !ok || have != want {
			t.Errorf("the injected pod's annotation %s = %q (present %t), want %q for the CNI agent", key, have, ok, want)
		}
	}
	proxy := find(append(got.Spec.InitContainers, got.Spec.Containers...), "istio-proxy")
	if proxy == nil {
		t.Fatal("no istio-proxy container")
	}
	if !strings.Contains(got.Annotations["proxy.istio.io/config"], "holdApplicationUntilProxyStarts") {
		t.Errorf("proxy config annotation %q", got.Annotations["proxy.istio.io/config"])
	}
	t.Logf("istio-validation: %s", args)
}
