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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// Owners write boolean annotations as the programs that read them accept them: ingress-nginx reads
// service-upstream with strconv.ParseBool ("True", "1", ...), and Istio's injector reads
// sidecar.istio.io/inject as "y", "yes", "true" or "on" in any case. Such a value agrees with
// meshkeeper's: it stays the owner's, as written, and meshkeeper adds the rest.
var _ = Describe("Owners' boolean annotations as ingress-nginx and Istio read them", Ordered, func() {
	const (
		shopNS       = "ingreview-shop"
		controllerNS = "ingreview-nginx"
	)
	asWritten := map[string]string{"owner": "storefront", serviceUpstream: "True"}
	annotations := func() map[string]string { return ingressAnnotations(shopNS, "storefront") }
	getIngress := func() *networkingv1.Ingress {
		GinkgoHelper()
		ing := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: "storefront"}, ing)).To(Succeed())
		return ing
	}
	controller := func() *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, d)).To(Succeed())
		return d
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		// Cleanups run last registered first: the objects go before the ServiceMesh. Namespaces cannot
		// be deleted here (no namespace controller runs), so nothing of this spec stays in them.
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "storefront"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "storefront"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "api"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
		Expect(k8sClient.Create(ctx, &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"sidecar.istio.io/inject": "yes"}},
					Spec:       controllerPodSpec(),
				},
			},
		})).To(Succeed())
		createService(shopNS, "storefront", nil)
		createService(shopNS, "api", nil)
		createIngress(shopNS, "storefront", func(i *networkingv1.Ingress) {
			i.Annotations[serviceUpstream] = "True"
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("storefront"))
		})
		createMesh("  namespace: ingreview-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("puts a controller whose owner asked for a sidecar with sidecar.istio.io/inject=yes into the mesh, keeping the owner's annotation", func() {
		Eventually(func(g Gomega) {
			d := controller()
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
			g.Expect(d.Spec.Template.Annotations).To(Equal(union(map[string]string{"sidecar.istio.io/inject": "yes"}, union(sidecarAnnotations,
				map[string]string{"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12"}))))
		}, installTimeout, poll).Should(Succeed(), "IngressesConfigured: %+v", conditionOf(meshv1alpha1.ConditionIngressesConfigured))
		Expect(warningsAbout("Deployment", controllerNS+"/controller")).NotTo(ContainElement("AnnotationConflict"))
	})

	It("adds only upstream-vhost to an Ingress whose owner set service-upstream to \"True\", and counts it configured", func() {
		Eventually(annotations, installTimeout, poll).Should(Equal(union(asWritten, map[string]string{upstreamVhost: "storefront." + shopNS + ".svc"})),
			"IngressesConfigured: %+v", conditionOf(meshv1alpha1.ConditionIngressesConfigured))
		ing := getIngress()
		Expect(apply.OwnedKeys(ing, "annotations").UnsortedList()).To(ConsistOf(upstreamVhost),
			"meshkeeper took over the owner's service-upstream")
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses).NotTo(BeNil())
			g.Expect(mesh.Status.Ingresses.Skipped).To(BeEquivalentTo(0))
			g.Expect(mesh.Status.Ingresses.Configured).To(BeNumerically(">=", 1))
		}, installTimeout, poll).Should(Succeed())
		Expect(warningsAbout("Ingress", shopNS+"/storefront")).NotTo(ContainElement("AnnotationConflict"))

		By("writing nothing more once it is configured")
		version := ing.ResourceVersion
		Consistently(func() string { return getIngress().ResourceVersion }, 3*time.Second, 300*time.Millisecond).Should(Equal(version))
	})

	It("takes back only its upstream-vhost when the Ingress no longer qualifies, and leaves the owner's service-upstream", func() {
		Eventually(func() error {
			ing := getIngress()
			ing.Spec.Rules = []networkingv1.IngressRule{rule("api.example.com", map[string]string{"/": "api"})}
			return k8sClient.Update(ctx, ing)
		}, installTimeout, poll).Should(Succeed())
		Eventually(annotations, installTimeout, poll).Should(Equal(asWritten))
	})
})
