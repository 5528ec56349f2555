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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A namespace that leaves the mesh keeps its pods' sidecars until they are restarted, and under STRICT
// mTLS those refuse plaintext. Without service-upstream, nginx sends to the pods' IPs, which its own
// sidecar does not capture (it captures the Service ranges only): plaintext, and every Ingress of the
// namespace would answer 502 until its pods were restarted.
var _ = Describe("Ingresses of a namespace that leaves the mesh", Ordered, func() {
	const (
		shopNS       = "ingleave-shop"
		controllerNS = "ingleave-nginx"
	)
	asWritten := map[string]string{"owner": "web"}
	meshed := union(asWritten, map[string]string{serviceUpstream: "true", upstreamVhost: "web." + shopNS + ".svc"})
	annotations := func() map[string]string { return ingressAnnotations(shopNS, "web") }

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		// Cleanups run last registered first: the objects go before the ServiceMesh, whose deletion
		// takes meshkeeper's label off the namespace. Namespaces cannot be deleted here (no namespace
		// controller runs), so nothing of this spec stays in them.
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web-sidecar"}},
			&corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web-plain"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		createService(shopNS, "web", nil)
		createIngress(shopNS, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		// Injected while the namespace was in the mesh; and one restarted since, without its sidecar.
		createPod(shopNS, "web-sidecar", "default", "docker.io/istio/proxyv2:1.31.1", nil)
		createPod(shopNS, "web-plain", "", "", nil)
		createMesh("  namespace: ingleave-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  mtls:\n    mode: STRICT\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("keeps meshkeeper's annotations while a pod there still runs a sidecar, and removes them once none does", func() {
		Eventually(annotations, installTimeout, poll).Should(Equal(meshed))

		By("taking the namespace out of the mesh while a pod there still runs its sidecar")
		patchSpec(`{"injection": {"namespaces": []}}`)
		Eventually(func() map[string]string { return namespaceLabels(shopNS) }, installTimeout, poll).
			ShouldNot(HaveKey("istio-injection"), "the namespace did not leave the mesh")
		// Counted nowhere, as the Ingresses of a namespace being deleted: neither configured, nor
		// skipped, nor being configured.
		expectStatus := func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses.Configured).To(BeEquivalentTo(0))
			g.Expect(mesh.Status.Ingresses.Skipped).To(BeEquivalentTo(0))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Message).NotTo(ContainSubstring(shopNS+"/web"), "IngressesConfigured: %s: %s", c.Reason, c.Message)
		}
		Eventually(expectStatus, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(annotations()).To(Equal(meshed),
				"the Ingress lost its annotations while a pod of its namespace still runs a sidecar: nginx would send it plaintext")
			expectStatus(g)
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())

		By("deleting the last pod with a sidecar; the one without stays")
		Expect(k8sClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web-sidecar"}})).To(Succeed())
		Eventually(annotations, installTimeout, poll).Should(Equal(asWritten),
			"the Ingress kept its annotations after the last pod with a sidecar went")
		Eventually(expectStatus, installTimeout, poll).Should(Succeed())
	})
})
