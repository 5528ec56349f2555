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
)

// A Service that Istio does not export to the ingress-nginx controller's namespace is unknown to the
// controller's sidecar, which passes nginx's requests to its ClusterIP on in plaintext: under STRICT
// mTLS, a 502. The manager's cache must keep the Service's exportTo annotation for the decision to see
// it, and a change of it must wake the Ingress.
var _ = Describe("an Ingress to a Service not exported to the ingress-nginx controller", Ordered, func() {
	const (
		shopNS       = "ingexport-shop"
		controllerNS = "ingexport-nginx"
		exportTo     = "networking.istio.io/exportTo"
	)
	asWritten := map[string]string{"owner": "web"}
	meshed := union(asWritten, map[string]string{serviceUpstream: "true", upstreamVhost: "web." + shopNS + ".svc"})
	annotations := func() map[string]string { return ingressAnnotations(shopNS, "web") }
	setExportTo := func(value string) {
		GinkgoHelper()
		svc := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: "web"}, svc)).To(Succeed())
		patch := client.MergeFrom(svc.DeepCopy())
		svc.Annotations = map[string]string{exportTo: value}
		Expect(k8sClient.Patch(ctx, svc, patch)).To(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		createService(shopNS, "web", func(s *corev1.Service) { s.Annotations = map[string]string{exportTo: "."} })
		createIngress(shopNS, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		createMesh("  namespace: ingexport-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("leaves the Ingress as written and says why, and configures it once the Service is exported there", func() {
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Ingresses).NotTo(BeNil())
			g.Expect(getMesh().Status.Ingresses.SkippedByReason).To(Equal(map[string]int32{"ServiceNotExported": 1}))
			g.Expect(warningsAbout("Ingress", shopNS+"/web")).To(ContainElement("ServiceNotExported"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(annotations, 2*time.Second, 300*time.Millisecond).Should(Equal(asWritten))

		By("exporting the Service to the controller's namespace")
		setExportTo(".," + controllerNS)
		Eventually(annotations, installTimeout, poll).Should(Equal(meshed))
		Eventually(func() int32 { return getMesh().Status.Ingresses.Configured }, installTimeout, poll).Should(BeEquivalentTo(1))

		By("keeping it in its own namespace again: meshkeeper takes its annotations back")
		setExportTo(".")
		Eventually(annotations, installTimeout, poll).Should(Equal(asWritten))
	})
})
