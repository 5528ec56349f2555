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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The status is lost whole (a ServiceMesh restored from a backup without it, or replaced) while
// spec.cni.namespace moves the agent: status.cni.namespace no longer names the agent that runs, and the
// pods injected for it rely on it all the same.
var _ = Describe("An istio-cni agent moved while the status no longer names it", Ordered, func() {
	const ns = "cnilost-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n")
	})

	agentIn := func(namespace string) error {
		return k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
	}

	It("keeps the running agent until the one in the new namespace is ready on every node", func() {
		patchSpec(`{"cni": {"namespace": "kube-system"}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus("kube-system", "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns))
		}, installTimeout, poll).Should(Succeed())

		By("losing the status, while the new agent is ready on two nodes of three")
		loseStatus()
		Eventually(func(g Gomega) { setCNIStatus(g, "kube-system", cniNodes, cniNodes-1) }, installTimeout, poll).Should(Succeed())
		By("waiting for a pass that read the lost status: it writes status.cni again")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(agentIn(ns)).To(Succeed(), "the running agent was removed before the one in kube-system was ready")
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(ns), "status.cni.namespace does not name the running agent")
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("the one in " + ns + " keeps running until the one in kube-system is ready"))
		}, 3*time.Second, poll).Should(Succeed())

		By("the new agent ready on every node: the old one is removed")
		Eventually(func(g Gomega) { setCNIStatus(g, "kube-system", cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal("kube-system"))
			err := agentIn(ns)
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the old agent is left behind: %v", err)
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})
})
