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

// An ingress-nginx controller run with --watch-namespace or --watch-namespace-selector (the chart's
// controller.scope) serves the Ingresses of the namespaces it watches only; those of other namespaces
// it never serves (another controller of the same class may). meshkeeper configures, and counts, only
// the Ingresses the controller serves, and takes its annotations back from the others.
var _ = Describe("an ingress-nginx controller that watches some namespaces", Ordered, func() {
	const (
		shopNS       = "watchns-shop"
		otherNS      = "watchns-other"
		controllerNS = "watchns-nginx"
	)
	// The Ingresses' annotations as their users wrote them, by namespace.
	originals := map[string]map[string]string{}
	meshed := func(namespace string) map[string]string {
		return union(originals[namespace], map[string]string{serviceUpstream: "true", upstreamVhost: "web." + namespace + ".svc"})
	}
	expectIngresses := func(want map[string]map[string]string, configured int) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			for namespace, annotations := range want {
				g.Expect(ingressAnnotations(namespace, "web")).To(Equal(annotations), "Ingress %s/web", namespace)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses.Configured).To(BeEquivalentTo(configured))
			g.Expect(mesh.Status.Ingresses.Skipped).To(BeEquivalentTo(0))
		}, installTimeout, poll).Should(Succeed())
	}
	setArgs := func(args ...string) {
		GinkgoHelper()
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, d); err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Args = append([]string{"/nginx-ingress-controller"}, args...)
			return k8sClient.Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}
	labelNamespace := func(name, key, value string) {
		GinkgoHelper()
		Eventually(func() error {
			ns := &corev1.Namespace{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
				return err
			}
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[key] = value
			return k8sClient.Update(ctx, ns)
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(otherNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: otherNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: otherNS, Name: "web"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		for _, namespace := range []string{shopNS, otherNS} {
			createService(namespace, "web", nil)
			originals[namespace] = createIngress(namespace, "web", func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = ptr.To("nginx")
				i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
			}).Annotations
		}
		createMesh("  namespace: watchns-system\n  injection:\n    namespaces: [" + shopNS + ", " + otherNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("configures the Ingresses of every namespace while it watches them all", func() {
		expectIngresses(map[string]map[string]string{shopNS: meshed(shopNS), otherNS: meshed(otherNS)}, 2)
	})

	It("configures only those of the namespace it watches with --watch-namespace, and takes its annotations back from the others", func() {
		setArgs("--watch-namespace", shopNS)
		expectIngresses(map[string]map[string]string{shopNS: meshed(shopNS), otherNS: originals[otherNS]}, 1)
	})

	It("configures those of the namespaces whose labels, as they change, match its --watch-namespace-selector", func() {
		setArgs("--watch-namespace-selector=edge=nginx")
		expectIngresses(map[string]map[string]string{shopNS: originals[shopNS], otherNS: originals[otherNS]}, 0)

		By("labelling a namespace to match the selector")
		labelNamespace(otherNS, "edge", "nginx")
		expectIngresses(map[string]map[string]string{shopNS: originals[shopNS], otherNS: meshed(otherNS)}, 1)

		By("labelling it not to match any more")
		labelNamespace(otherNS, "edge", "traefik")
		expectIngresses(map[string]map[string]string{shopNS: originals[shopNS], otherNS: originals[otherNS]}, 0)
	})

	It("configures none while the controller refuses its namespace flags, as ingress-nginx exits then", func() {
		labelNamespace(shopNS, "edge", "nginx")
		expectIngresses(map[string]map[string]string{shopNS: meshed(shopNS), otherNS: originals[otherNS]}, 1)

		setArgs("--watch-namespace-selector=edge in (nginx")
		expectIngresses(map[string]map[string]string{shopNS: originals[shopNS], otherNS: originals[otherNS]}, 0)
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionIngressesConfigured).Message).To(ContainSubstring("serves no Ingress"))
		}, installTimeout, poll).Should(Succeed())
	})
})
