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

// A running mesh turns CNI on, and its status is lost whole (a ServiceMesh restored from a backup
// without it, or replaced) while the agent is installed and not ready on every node: istiod keeps
// injecting istio-init (status.cni.injectorPending), though the status no longer says so, until the
// agent is ready on every node.
var _ = Describe("Turning CNI on while the status is lost before the agent is ready", Ordered, func() {
	const ns = "cnipending-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n")
	})

	injectorValues := func(g Gomega) string {
		injector := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}, injector)).To(Succeed())
		return injector.Data["values"]
	}
	const forAgent, forInit = `"cni": \{\s*"enabled": true`, `"cni": \{\s*"enabled": false`

	It("keeps istiod injecting istio-init until the agent is ready on every node", func() {
		By("turning CNI off: the agent is removed, and istiod injects istio-init")
		patchSpec(`{"cni": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			g.Expect(injectorValues(g)).To(MatchRegexp(forInit))
			g.Expect(getMesh().Status.CNI).To(Equal(&meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIBySpec}))
		}, installTimeout, poll).Should(Succeed())

		By("turning CNI on: the agent is installed, and ready on two nodes of three")
		patchSpec(`{"cni": {"enabled": true}}`)
		Eventually(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni.Namespace).To(Equal(ns))
			g.Expect(cni.InjectorPending).To(BeTrue())
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes-1) }, installTimeout, poll).Should(Succeed())
		Expect(injectorValues(Default)).To(MatchRegexp(forInit))

		By("losing the status")
		loseStatus()
		By("waiting for a pass that read the lost status: it writes status.cni again")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(injectorValues(g)).To(MatchRegexp(forInit), "istiod injects for an agent that is not ready on every node")
			cni := getMesh().Status.CNI
			g.Expect(cni.Namespace).To(Equal(ns))
			g.Expect(cni.InjectorPending).To(BeTrue(), "status.cni.injectorPending is not written back")
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Message).To(ContainSubstring("istiod keeps injecting istio-init"))
		}, 3*time.Second, poll).Should(Succeed())

		By("the agent ready on every node: istiod injects for it")
		Eventually(func(g Gomega) {
			setCNIStatus(g, ns, cniNodes, cniNodes)
			g.Expect(injectorValues(g)).To(MatchRegexp(forAgent))
			g.Expect(getMesh().Status.CNI.InjectorPending).To(BeFalse())
		}, installTimeout, poll).Should(Succeed())
	})
})
