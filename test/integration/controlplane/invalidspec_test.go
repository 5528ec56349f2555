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

package controlplane

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A spec whose namespace selector the API server accepts but no selector can be made of is the
// ServiceMesh's to report; the Ingress controller leaves every Ingress as it is, as the namespace and
// policy controllers do, instead of taking its annotations back as if the integration were off.
var _ = Describe("An Ingress under a spec that cannot be carried out", Ordered, func() {
	const namespace = "badsel-shop"
	meshAnnotations := map[string]string{serviceUpstream: "true", upstreamVhost: "web.badsel-shop.svc"}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(namespace, map[string]string{"badsel": "on"}, nil)
		createService(namespace, "web", nil)
		createMesh("  namespace: badsel-system\n  injection:\n    namespaceSelector:\n      matchExpressions:\n" +
			"      - {key: badsel, operator: In}\n  ingressNginx:\n    enabled: true\n    serviceCIDRs: [10.96.0.0/12]\n")
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInvalidSpec))
			g.Expect(c.ObservedGeneration).To(Equal(getMesh().Generation))
		}, installTimeout, poll).Should(Succeed())

		createIngress(namespace, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = new("nginx")
			i.Spec.DefaultBackend = new(ingressBackend("web"))
		})
		// meshkeeper's annotations, owned by its field manager as if it had configured the Ingress before.
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("Ingress"))
		u.SetNamespace(namespace)
		u.SetName("web")
		u.SetAnnotations(meshAnnotations)
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(meshv1alpha1.FieldManager))).To(Succeed())
	})
	AfterAll(deleteMesh)

	It("is left as it is while the ServiceMesh reports its spec", func() {
		By("changing the Ingress as its user would, so that the Ingress controller reconciles it")
		updateIngressIn(namespace, "web", func(i *networkingv1.Ingress) { i.Annotations["team"] = "shop" })
		written := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "web"}, written)).To(Succeed())
		Consistently(func(g Gomega) {
			ing := &networkingv1.Ingress{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(written), ing)).To(Succeed())
			g.Expect(ing.ResourceVersion).To(Equal(written.ResourceVersion), "meshkeeper wrote to the Ingress")
		}, 3*time.Second, 250*time.Millisecond).Should(Succeed())
		Expect(written.Annotations).To(Equal(union(map[string]string{"owner": "web", "team": "shop"}, meshAnnotations)))
	})

	// The annotations are meshkeeper's as the API server records them: without the ServiceMesh they go,
	// so the test above would have seen a write had the invalid spec counted as "no mesh".
	It("gives its annotations back once the ServiceMesh is deleted", func() {
		deleteMesh()
		Eventually(func() map[string]string { return ingressAnnotations(namespace, "web") }, installTimeout, poll).
			Should(Equal(map[string]string{"owner": "web", "team": "shop"}))
	})
})

// updateIngressIn changes an Ingress as its user would, retrying on conflicts with meshkeeper's writes.
func updateIngressIn(namespace, name string, mutate func(*networkingv1.Ingress)) {
	GinkgoHelper()
	Eventually(func() error {
		ing := &networkingv1.Ingress{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, ing); err != nil {
			return err
		}
		mutate(ing)
		return k8sClient.Update(ctx, ing)
	}, installTimeout, poll).Should(Succeed())
}
