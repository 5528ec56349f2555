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

// Package policy_test runs the policy controller alone against a real API server, to see when it
// writes and what it reads: the Istio CRDs are created after the mesh, as istio-base creates them.
package policy_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"istio.io/istio/manifests"

	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

var (
	peerAuthenticationKind = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}
	sidecarKind            = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Sidecar"}
	// policyGet is a read of one policy object, as opposed to the lists and watches of the cache.
	policyGet = regexp.MustCompile(`/namespaces/[^/]+/(peerauthentications|sidecars)/[^/]+$`)
	// policyCollection is a list or watch of the policy objects of every namespace.
	policyCollection = regexp.MustCompile(`^/apis/[^/]+/[^/]+/(peerauthentications|sidecars)$`)
)

// reconciles returns the policy controller's reconciles by result, from controller-runtime's metrics.
func reconciles(g Gomega) map[string]float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	byResult := map[string]float64{}
	for _, family := range families {
		if family.GetName() != "controller_runtime_reconcile_total" {
			continue
		}
		for _, m := range family.GetMetric() {
			if label(m, "controller") == "policy" {
				byResult[label(m, "result")] += m.GetCounter().GetValue()
			}
		}
	}
	return byResult
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// startWithIstioCRDs returns the package's API server as a new one would be (start), once it serves the
// CRDs of the policy kinds, with a context cancelled when the test ends.
func startWithIstioCRDs(t *testing.T, g Gomega) (*testenv.Env, context.Context) {
	t.Helper()
	env, ctx := start(t, g)
	for _, crd := range istioCRDs(t) {
		g.Expect(env.Client.Create(ctx, crd)).To(Succeed())
	}
	// Served: discovery lists the kinds, so that the test's client maps them at its first write.
	disco, err := discovery.NewDiscoveryClientForConfig(env.Config)
	g.Expect(err).NotTo(HaveOccurred())
	g.Eventually(func(g Gomega) {
		for _, resource := range policyResources {
			list, err := disco.ServerResourcesForGroupVersion(resource.GroupVersion().String())
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(list.APIResources).To(ContainElement(HaveField("Name", resource.Resource)))
		}
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed(), "the policy CRDs are not served")
	return env, ctx
}

// istioCRDs returns the CRDs of the policy kinds from the embedded istio-base chart.
func istioCRDs(t *testing.T) []*apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	data, err := manifests.FS.ReadFile("charts/base/files/crd-all.gen.yaml")
	if err != nil {
		t.Fatal(err)
	}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var crds []*apiextensionsv1.CustomResourceDefinition
	for {
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := decoder.Decode(crd); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if crd.Name == "peerauthentications.security.istio.io" || crd.Name == "sidecars.networking.istio.io" {
			crds = append(crds, crd)
		}
	}
	if len(crds) != 2 {
		t.Fatalf("found %d of the 2 policy CRDs in istio-base", len(crds))
	}
	return crds
}

func TestPoliciesFollowTheirCRDsAndReadFromTheCache(t *testing.T) {
	g := NewWithT(t)
	env, ctx := start(t, g)
	c := env.Client

	// The manager's single-object reads of policy objects.
	gets := &testenv.RequestCounter{Match: func(req *http.Request) bool {
		return req.Method == http.MethodGet && policyGet.MatchString(req.URL.Path)
	}}
	// The manager's watches of policy objects the API server refused with 429 (a kind's watch cache
	// still loading, which it answers with Retry-After: 1).
	var watchesRefused atomic.Int64
	var watching sync.Map
	config := rest.CopyConfig(env.Config)
	config.Wrap(gets.Wrap)
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err == nil && req.URL.Query().Has("watch") && policyCollection.MatchString(req.URL.Path) {
				if resp.StatusCode == http.StatusTooManyRequests {
					watchesRefused.Add(1)
				} else {
					watching.Store(req.URL.Path, true)
				}
			}
			return resp, err
		})
	})
	mgr := newManager(g, env, config)
	runPolicy(ctx, g, mgr, &policy.Reconciler{})

	createNamespaces(ctx, g, c, "pol-system", "shop", "payments")
	mesh := createMesh(ctx, g, c, `
  namespace: pol-system
  injection: {namespaces: [shop, payments]}
  mtls: {mode: STRICT}
  sidecarScoping: {enabled: true}
`)

	// Before the Istio CRDs exist, every namespace is reconciled once, and then left to the CRDs' watch:
	// no namespace is put back on a timer.
	g.Eventually(func(g Gomega) {
		total := 0.0
		for _, n := range reconciles(g) {
			total += n
		}
		g.Expect(total).To(BeNumerically(">=", 3))
	}, 30*time.Second, 50*time.Millisecond).Should(Succeed())
	g.Expect(reconciles(g)["requeue_after"]).To(BeZero(), "a namespace was requeued on a timer while the Istio CRDs were missing")

	// The kinds' wait asks discovery first: this API server answers a group version it does not serve
	// with NotFound, which is no match and no error.
	probe, err := meshctx.NewProbingMapper(mgr)
	g.Expect(err).NotTo(HaveOccurred())
	_, err = probe.RESTMapping(peerAuthenticationKind.GroupKind(), peerAuthenticationKind.Version)
	g.Expect(meta.IsNoMatchError(err)).To(BeTrue(), "before the CRDs: %v", err)

	// istio-base creates the CRDs; the policies follow as soon as discovery serves the kinds. The old
	// retry waited 10 s; this timeout is well below it.
	for _, crd := range istioCRDs(t) {
		g.Expect(c.Create(ctx, crd)).To(Succeed())
	}
	// The manager's watches come first: the API server sets a kind's storage up on the first request
	// for it, and the test's own reads would set it up ahead of the manager.
	g.Eventually(func() int {
		n := 0
		watching.Range(func(any, any) bool { n++; return true })
		return n
	}, 4*time.Second, 10*time.Millisecond).Should(Equal(2))
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "pol-system")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
		g.Expect(spec(g, c, sidecarKind, "shop")).NotTo(BeNil())
		g.Expect(spec(g, c, sidecarKind, "payments")).NotTo(BeNil())
	}, 4*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Expect(reconciles(g)["requeue_after"]).To(BeZero())
	// The kinds counted as served only once their watch caches served: the watches started then were
	// not sent back to wait a second.
	g.Expect(watchesRefused.Load()).To(BeZero(), "watches of policy objects refused while their watch caches loaded")
	mapping, err := probe.RESTMapping(peerAuthenticationKind.GroupKind(), peerAuthenticationKind.Version)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(mapping.Resource.Resource).To(Equal("peerauthentications"))

	// A spec change rewrites the policies from the cache and what was applied: no read of a policy
	// object around the cache.
	before := gets.Total()
	g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"spec":{"mtls":{"mode":"PERMISSIVE"},"sidecarScoping":{"egressHosts":["monitoring/*"]}}}`)))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, peerAuthenticationKind, "pol-system")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}))
		for _, ns := range []string{"shop", "payments"} {
			egress, _, _ := unstructured.NestedSlice(spec(g, c, sidecarKind, ns), "egress")
			g.Expect(egress).To(HaveLen(1))
			g.Expect(egress[0]).To(HaveKeyWithValue("hosts", ContainElement("monitoring/*")))
		}
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Expect(gets.Total()-before).To(BeZero(), "policy objects read around the cache after a spec change")

	// Someone else edits meshkeeper's Sidecar: its generation moves, so meshkeeper reads it once and
	// puts its spec back.
	shop := &unstructured.Unstructured{}
	shop.SetGroupVersionKind(sidecarKind)
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "default"}, shop)).To(Succeed())
	want := runtime.DeepCopyJSONValue(shop.Object["spec"]) // the edit below changes shop's spec in place
	g.Expect(unstructured.SetNestedField(shop.Object, "REGISTRY_ONLY", "spec", "outboundTrafficPolicy", "mode")).To(Succeed())
	g.Expect(c.Update(ctx, shop, client.FieldOwner("someone"))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(spec(g, c, sidecarKind, "shop")).To(Equal(want))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
}

func spec(g Gomega, c client.Client, gvk schema.GroupVersionKind, namespace string) map[string]any {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := c.Get(context.Background(), client.ObjectKey{Namespace: namespace, Name: "default"}, u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	g.Expect(err).NotTo(HaveOccurred())
	s, _ := u.Object["spec"].(map[string]any)
	return s
}

// newManager is a manager on config with meshkeeper's cache and client limits, and no controller yet.
// Each test of the package starts one, so controller names are not checked for uniqueness.
func newManager(g Gomega, env *testenv.Env, cfg *rest.Config) ctrl.Manager {
	mgr, err := ctrl.NewManager(controllers.ClientLimits(cfg), ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  controllers.CacheOptions(nil),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 zap.New(zap.WriteTo(io.Discard)),
		Controller:             config.Controller{SkipNameValidation: ptr.To(true)},
	})
	g.Expect(err).NotTo(HaveOccurred())
	return mgr
}

func yamlInto(doc string, obj any) error {
	return utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(doc)), 4096).Decode(obj)
}
