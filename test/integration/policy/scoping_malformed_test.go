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

package policy_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestMalformedEgressHostsSayWhy: an application team annotates its namespace with entries that look
// like "namespace/dnsName" but that istiod refuses (a short name, an IP address), and with two entries
// separated by a blank instead of a comma. The Sidecar leaves them out, and the Warning on the
// Namespace says of each entry why it was left out: a note that calls "payments/payments-api" not
// "namespace/dnsName" gives the team nothing to correct. In the ingress-nginx controller's namespace,
// whose Sidecar reaches every namespace, the annotation adds nothing, and the Warning says so instead
// of promising that the other entries are taken.
func TestMalformedEgressHostsSayWhy(t *testing.T) {
	g := NewWithT(t)
	env, ctx := startWithIstioCRDs(t, g)
	c := env.Client
	annotations := map[string]map[string]string{
		"sm-system": nil,
		"sm-shop":   {render.EgressHostsAnnotation: "payments/*, payments/payments-api, */10.0.0.1, monitoring/* search/*"},
		"sm-edge":   {render.EgressHostsAnnotation: "payments/*, payments/payments-api"},
	}
	for name, annotation := range annotations {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotation}})).To(Succeed())
	}

	runPolicy(ctx, g, newManager(g, env, env.Config), &policy.Reconciler{})

	createMesh(ctx, g, c, `
  namespace: sm-system
  injection: {namespaces: [sm-shop, sm-edge]}
  sidecarScoping: {enabled: true}
  ingressNginx:
    enabled: true
    controller: {namespace: sm-edge, name: controller, kind: Deployment}
    serviceCIDRs: [10.96.0.0/12]
`)

	hosts := func(g Gomega, namespace string) []any {
		egress, _, _ := unstructured.NestedSlice(spec(g, c, sidecarKind, namespace), "egress")
		g.Expect(egress).To(HaveLen(1))
		h, _ := egress[0].(map[string]any)["hosts"].([]any)
		return h
	}
	g.Eventually(func(g Gomega) {
		g.Expect(hosts(g, "sm-shop")).To(Equal([]any{"./*", "sm-system/*", "payments/*"}))
		g.Expect(hosts(g, "sm-edge")).To(Equal([]any{"*/*"}))
	}, 20*time.Second, 50*time.Millisecond).Should(Succeed())

	warning := func(g Gomega, namespace string) string {
		list := &eventsv1.EventList{}
		g.Expect(c.List(ctx, list)).To(Succeed())
		for _, e := range list.Items {
			if e.Regarding.Kind == "Namespace" && e.Regarding.Name == namespace && e.Reason == meshv1alpha1.ReasonMalformedEgressHosts {
				return e.Note
			}
		}
		return ""
	}
	var shop, edge string
	g.Eventually(func(g Gomega) {
		shop, edge = warning(g, "sm-shop"), warning(g, "sm-edge")
		g.Expect(shop).NotTo(BeEmpty())
		g.Expect(edge).NotTo(BeEmpty())
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed(), "no MalformedEgressHosts Warning on the Namespaces")

	g.Expect(shop).To(ContainSubstring(`"payments/payments-api" (its dnsName is a short name`), "the Warning does not say that a short name is what istiod refuses")
	g.Expect(shop).To(ContainSubstring(`"*/10.0.0.1" (its dnsName ends in an all-digit label`), "the Warning does not say that an IP address is what istiod refuses")
	g.Expect(shop).To(ContainSubstring(`"monitoring/* search/*" (it holds a blank`), "the Warning does not say that entries are separated by commas")
	g.Expect(shop).To(ContainSubstring("takes the others"))

	g.Expect(edge).To(ContainSubstring(`"payments/payments-api" (its dnsName is a short name`))
	g.Expect(edge).NotTo(ContainSubstring("takes the others"), "the Warning in the ingress-nginx controller's namespace promises the Sidecar takes the other entries")
	g.Expect(edge).To(ContainSubstring("adds nothing"), "the Warning in the ingress-nginx controller's namespace does not say the annotation adds nothing there")
}
