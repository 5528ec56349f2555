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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ingress-nginx builds one upstream per Service port of a namespace, and the oldest Ingress that names
// it decides for all of them whether nginx sends to the Service's ClusterIP (service-upstream). An
// Ingress configured beside an older one meshkeeper leaves unchanged would have nginx send it to the
// pods' IPs, past the controller's sidecar, in plaintext; beside a newer one, the newer one's requests
// would reach the ClusterIP without their upstream-vhost. So Ingresses sharing an upstream are
// configured all or none, whichever is the older.
var _ = Describe("Ingresses that share an upstream of ingress-nginx", Ordered, func() {
	const (
		shopNS       = "ingshare-shop"
		controllerNS = "ingshare-nginx"
	)
	asWritten := func(name string) map[string]string { return map[string]string{"owner": name} }
	meshed := func(name string) map[string]string {
		return union(asWritten(name), map[string]string{serviceUpstream: "true", upstreamVhost: "web." + shopNS + ".svc"})
	}
	annotations := func(name string) func() map[string]string {
		return func() map[string]string { return ingressAnnotations(shopNS, name) }
	}
	fanOut := func(services ...string) func(*networkingv1.Ingress) {
		return func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			paths := map[string]string{}
			for _, service := range services {
				paths["/"+service] = service
			}
			i.Spec.Rules = []networkingv1.IngressRule{rule("shop.example.com", paths)}
		}
	}
	// sharedUpstreamWarnings are the notes of the SharedUpstream Warnings about the Ingress, joined.
	sharedUpstreamWarnings := func(name string) string {
		GinkgoHelper()
		var notes []string
		for _, e := range listEvents() {
			if e.Type == corev1.EventTypeWarning && e.Reason == meshv1alpha1.ReasonSharedUpstream &&
				e.Regarding.Kind == "Ingress" && e.Regarding.Namespace == shopNS && e.Regarding.Name == name {
				notes = append(notes, e.Note)
			}
		}
		return strings.Join(notes, "\n")
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "split"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "storefront"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "fanout"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "api"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		createService(shopNS, "web", nil)
		createService(shopNS, "api", nil)
		// The older Ingress sends to two Services, web:80 among them; the newer one to web:80 alone.
		split := createIngress(shopNS, "split", fanOut("web", "api"))
		Eventually(func() time.Duration { return time.Since(split.CreationTimestamp.Time) }, 5*time.Second, 100*time.Millisecond).
			Should(BeNumerically(">", 1100*time.Millisecond))
		storefront := createIngress(shopNS, "storefront", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.Rules = []networkingv1.IngressRule{rule("shop.example.com", map[string]string{"/": "web"})}
		})
		Expect(storefront.CreationTimestamp.After(split.CreationTimestamp.Time)).To(BeTrue())
		createMesh("  namespace: ingshare-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("holds back an Ingress that shares web:80 with an older one it cannot configure, and names it", func() {
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Ingresses).NotTo(BeNil())
			g.Expect(getMesh().Status.Ingresses.SkippedByReason).To(Equal(map[string]int32{
				"MultipleBackendServices": 1, meshv1alpha1.ReasonSharedUpstream: 1}))
			g.Expect(sharedUpstreamWarnings("storefront")).To(ContainSubstring("Ingress " + shopNS + "/split (MultipleBackendServices)"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(annotations("storefront"), 2*time.Second, 300*time.Millisecond).Should(Equal(asWritten("storefront")),
			"the newer Ingress was configured: nginx would send it to the pods' IPs, as the older one decides for web:80")
	})

	It("configures it once the older Ingress no longer sends to web:80", func() {
		updateSharedIngress := func(name string, mutate func(*networkingv1.Ingress)) {
			GinkgoHelper()
			Eventually(func() error {
				ing := &networkingv1.Ingress{}
				if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: name}, ing); err != nil {
					return err
				}
				mutate(ing)
				return k8sClient.Update(ctx, ing)
			}, installTimeout, poll).Should(Succeed())
		}
		updateSharedIngress("split", fanOut("api"))
		Eventually(annotations("storefront"), installTimeout, poll).Should(Equal(meshed("storefront")))
		Eventually(func() int32 { return getMesh().Status.Ingresses.Configured }, installTimeout, poll).Should(BeEquivalentTo(2))
	})

	It("takes back the older Ingress's annotations when a newer one it cannot configure comes to share web:80, and puts them back when it goes", func() {
		fanout := createIngress(shopNS, "fanout", fanOut("web", "cart"))
		Eventually(annotations("storefront"), installTimeout, poll).Should(Equal(asWritten("storefront")),
			"the older Ingress kept service-upstream for web:80: nginx would send the newer one's requests to the ClusterIP without their upstream-vhost")
		Eventually(func(g Gomega) {
			status := getMesh().Status.Ingresses
			g.Expect(status.SkippedByReason).To(Equal(map[string]int32{"MultipleBackendServices": 1, meshv1alpha1.ReasonSharedUpstream: 1}))
			g.Expect(status.Configured).To(BeEquivalentTo(1), "split, which sends to api:80 alone, stays configured")
			g.Expect(sharedUpstreamWarnings("storefront")).To(ContainSubstring("Ingress " + shopNS + "/fanout (MultipleBackendServices)"))
		}, installTimeout, poll).Should(Succeed())
		Expect(ingressAnnotations(shopNS, "split")).To(HaveKeyWithValue(serviceUpstream, "true"))

		Expect(k8sClient.Delete(ctx, fanout)).To(Succeed())
		Eventually(annotations("storefront"), installTimeout, poll).Should(Equal(meshed("storefront")))
	})
})
