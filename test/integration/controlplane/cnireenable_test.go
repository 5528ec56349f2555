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
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// CNI turned off while its agent stays (a switch to RevisionBased leaves the istiod without a revision,
// which injects for it, as it is), then on again: the new revision's istiod injected istio-init
// meanwhile, and the agent, changed no more, may not run on every node. As on a first enable, istiod
// injects for the agent only once it is ready on every node.
var _ = Describe("Turning CNI on again while its agent still runs", Ordered, func() {
	const ns = "cr-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n  version: 1.31.1\n  injection:\n    namespaces: [cr-shop]\n", "cr-shop")
	})

	revisionInjector := func(g Gomega) string {
		injector := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector-1-31-1"}, injector)).To(Succeed())
		return injector.Data["values"]
	}

	It("injects for the agent only once it is ready on every node", func() {
		patchSpec(`{"updateStrategy": {"type": "RevisionBased"}, "cni": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			g.Expect(revisionInjector(g)).To(MatchRegexp(`"cni": \{\s*"enabled": false`))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonWaitingForControlPlane))
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns))
		}, installTimeout, poll).Should(Succeed())

		By("the kept agent not ready on one node, CNI turned on again")
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes-1) }, installTimeout, poll).Should(Succeed())
		patchSpec(`{"cni": {"enabled": true}}`)
		Eventually(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni.Enabled).To(BeTrue())
			g.Expect(cni.InjectorPending).To(BeTrue())
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("istiod keeps injecting istio-init"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(revisionInjector(g)).To(MatchRegexp(`"cni": \{\s*"enabled": false`),
				"istiod injects for an agent that is not ready on every node")
		}, 3*time.Second, poll).Should(Succeed())

		By("the agent ready on every node: istiod injects for it")
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(revisionInjector(g)).To(MatchRegexp(`"cni": \{\s*"enabled": true`))
		}, installTimeout, poll).Should(Succeed())
	})
})
