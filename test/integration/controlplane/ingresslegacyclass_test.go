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
)

// ingress-nginx serves an Ingress by the legacy kubernetes.io/ingress.class annotation only when the
// annotation is its --ingress-class, whatever the classes spec.ingressNginx.ingressClassNames lists:
// meshkeeper configures, and counts, only the annotated Ingresses the controller serves, and follows
// its --ingress-class as it changes.
var _ = Describe("Ingresses of the legacy class annotation", Ordered, func() {
	const (
		shopNS       = "legacyclass-shop"
		controllerNS = "legacyclass-nginx"
	)
	// The Ingresses' annotations as their users wrote them, by name.
	originals := map[string]map[string]string{}
	meshed := func(name string) map[string]string {
		return union(originals[name], map[string]string{serviceUpstream: "true", upstreamVhost: name + "." + shopNS + ".svc"})
	}
	expectIngresses := func(want map[string]map[string]string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			for name, annotations := range want {
				g.Expect(ingressAnnotations(shopNS, name)).To(Equal(annotations), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses.Configured).To(BeEquivalentTo(1))
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

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "nginx"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "internal"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "nginx"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "internal"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		for _, class := range []string{"nginx", "internal"} {
			createService(shopNS, class, nil)
			originals[class] = createIngress(shopNS, class, func(i *networkingv1.Ingress) {
				i.Annotations["kubernetes.io/ingress.class"] = class
				i.Spec.DefaultBackend = ptr.To(ingressBackend(class))
			}).Annotations
		}
		createMesh("  namespace: legacyclass-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    ingressClassNames: [nginx, internal]\n    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("configures only the Ingress annotated with the controller's --ingress-class, both classes listed", func() {
		expectIngresses(map[string]map[string]string{"nginx": meshed("nginx"), "internal": originals["internal"]})
	})

	It("follows --ingress-class as it changes", func() {
		setArgs("--ingress-class=internal")
		expectIngresses(map[string]map[string]string{"nginx": originals["nginx"], "internal": meshed("internal")})
	})
})
