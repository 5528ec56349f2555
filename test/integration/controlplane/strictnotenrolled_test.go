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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A namespace spec.mtls.namespaces sets STRICT gets its STRICT PeerAuthentication enrolled or not, but
// only a sidecar enforces it: outside the mesh its pods accept plaintext from anyone. The mesh is not
// Ready (and Stalled) until the namespace is enrolled, and then it is.
var _ = Describe("A STRICT override of a namespace that is not enrolled", Ordered, func() {
	const system, shop, payments = "sne-system", "sne-shop", "sne-payments"
	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createNamespace(payments, nil, nil)
		createMesh("  namespace: " + system + "\n  cni:\n    enabled: false\n  injection:\n    namespaces: [" + shop + "]\n" +
			"  mtls:\n    namespaces: {" + shop + ": STRICT, " + payments + ": STRICT}\n")
		markAvailable(system, "istiod")
	})
	AfterAll(deleteMesh)

	It("holds Ready back until the namespace is enrolled", func() {
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(specOf(peerAuthenticationKind, payments)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			c := conditionOf(meshv1alpha1.ConditionMTLSReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "MTLSReady: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonStrictNamespacesNotEnrolled))
			g.Expect(c.Message).To(ContainSubstring(payments + " (not selected by spec.injection)"))
			g.Expect(c.Message).NotTo(ContainSubstring(shop))
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonStrictNamespacesNotEnrolled))
			g.Expect(conditionOf(meshv1alpha1.ConditionStalled).Reason).To(Equal(meshv1alpha1.ReasonStrictNamespacesNotEnrolled))
		}, installTimeout, poll).Should(Succeed())
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonStrictNamespacesNotEnrolled))

		patchSpec(`{"injection": {"namespaces": ["` + shop + `", "` + payments + `"]}}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			c := conditionOf(meshv1alpha1.ConditionMTLSReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MTLSReady: %s: %s", c.Reason, c.Message)
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "Ready: %s: %s", ready.Reason, ready.Message)
		}, installTimeout, poll).Should(Succeed())
	})
})
