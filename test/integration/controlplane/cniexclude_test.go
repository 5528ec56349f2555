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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// With the CNI agent, injected pods carry istio-validation, which fails where the plugin does not
// redirect their traffic: in spec.cni.excludeNamespaces. A selected namespace listed there is not
// enrolled, and the mesh says why.
var _ = Describe("A selected namespace the CNI plugin skips", Ordered, func() {
	const (
		ns      = "cx-system"
		shop    = "cx-shop"
		batch   = "cx-batch"
		enabled = "enabled"
	)

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createNamespace(batch, nil, nil)
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [" + shop + ", " + batch + "]\n" +
			"  cni:\n    excludeNamespaces: [" + batch + "]\n")
		DeferCleanup(deleteMesh)
		Eventually(func() bool { return deploymentExists(ns, "istiod") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod")
	})

	It("is not enrolled, and NamespacesEnrolled names it", func() {
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "NamespacesEnrolled: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonCNIExcludesNamespace))
			g.Expect(c.Message).To(ContainSubstring("spec.cni.excludeNamespaces"))
			g.Expect(c.Message).To(ContainSubstring(batch))
			g.Expect(namespaceLabels(shop)).To(HaveKeyWithValue("istio-injection", enabled))
		}, installTimeout, poll).Should(Succeed())
		Expect(namespaceLabels(batch)).NotTo(HaveKey("istio-injection"))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonCNIExcludesNamespace))
	})

	It("is enrolled once the plugin no longer skips it on any node", func() {
		Expect(getMesh().Status.CNI.ExcludeNamespaces).To(Equal([]string{batch}))
		generation := cniDaemonSetOf(ns).Generation
		patchSpec(`{"cni": {"excludeNamespaces": null}}`)

		// The agent reads its exclusions only as it starts: until its new pods run on every node, the
		// old ones still leave the namespace alone, and its pods injected for the agent would fail in
		// istio-validation there.
		Eventually(func() int64 { return cniDaemonSetOf(ns).Generation }, installTimeout, poll).Should(BeNumerically(">", generation))
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(namespaceLabels(batch)).NotTo(HaveKey("istio-injection"), "enrolled while the agent rolls out")
			g.Expect(getMesh().Status.CNI.ExcludeNamespaces).To(Equal([]string{batch}))
			g.Expect(conditionOf(meshv1alpha1.ConditionNamespacesEnrolled).Reason).To(Equal(meshv1alpha1.ReasonCNIExcludesNamespace))
		}, 4*time.Second, 300*time.Millisecond).Should(Succeed())

		By("the agent rolled out to every node")
		markCNIReady()
		Eventually(func() map[string]string { return namespaceLabels(batch) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", enabled))
		Expect(getMesh().Status.CNI.ExcludeNamespaces).To(BeEmpty())
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionNamespacesEnrolled).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonEnrolled))
	})
})
