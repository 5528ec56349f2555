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

// Istio's CNI agent may lag the control plane, never lead it. Going back to an older version (a
// rollback of spec.version) reverses the order of an upgrade: the agent moves down at once, so that it
// runs no newer version than either the old istiod pods still rolling out or the new ones, instead of
// leading the control plane until istiod has rolled the older version out.
var _ = Describe("The istio-cni agent when spec.version goes back to an older version", Ordered, func() {
	const ns = "cnrd-system"

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  version: 1.31.4\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod") // and the agent on every node
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(cniDaemonSetOf(ns).Spec.Template.Spec.Containers[0].Image).To(Equal("docker.io/istio/install-cni:1.31.4"))
		}, installTimeout, poll).Should(Succeed())
	})
	AfterAll(deleteMesh)

	It("moves the agent down without waiting for istiod's rollout", func() {
		patchSpec(`{"version": "1.31.1"}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istiod", 2)).To(BeEquivalentTo("deployed"))
			g.Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.31.1"))
		}, installTimeout, poll).Should(Succeed())
		// istiod's rollout of 1.31.1 has not started: its old pods, of 1.31.4, are all that run.
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).NotTo(Equal(meshv1alpha1.ReasonWaitingForControlPlane), c.Message)
			g.Expect(cniDaemonSetOf(ns).Spec.Template.Spec.Containers[0].Image).To(Equal("docker.io/istio/install-cni:1.31.1"),
				"the agent of 1.31.4 waits for istiod's rollout of 1.31.1, leading it")
		}, installTimeout, poll).Should(Succeed())

		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})
})
