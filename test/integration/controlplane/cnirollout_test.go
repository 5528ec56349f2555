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
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A change of the agent's settings rolls its DaemonSet out node by node. The DaemonSet controller counts
// each node's pod ready and available whatever its template, so a node whose old pod still runs looks
// ready while it applies the old settings; status.cni.readyNodes counts only the nodes that run the
// current template. The envtest tier has no DaemonSet controller nor kubelet: the spec writes the pods
// and the DaemonSet's status as they would mid-rollout.
var _ = Describe("The CNI agent rolling out a change", Ordered, func() {
	const ns = "cnr-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n")
	})

	It("counts only the nodes whose agent pod of the current template is available", func() {
		Expect(getMesh().Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes))
		old := cniDaemonSetOf(ns).Annotations[appsv1.DeprecatedTemplateGeneration]
		Expect(old).NotTo(BeEmpty(), "the API server records the DaemonSet's template generation")

		// agentPod writes node's agent pod of template generation (hash names its template), ready or not,
		// replacing the one there.
		agentPod := func(node, generation, hash string, ready corev1.ConditionStatus) {
			GinkgoHelper()
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istio-cni-node-" + node + "-" + generation,
				Labels: map[string]string{"k8s-app": "istio-cni-node", "pod-template-generation": generation, "controller-revision-hash": hash}},
				Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "install-cni", Image: "docker.io/istio/install-cni:1.31.1"}}}}
			list := &corev1.PodList{}
			Expect(k8sClient.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			for i := range list.Items {
				if p := &list.Items[i]; p.Spec.NodeName == node && p.Name != pod.Name {
					Expect(k8sClient.Delete(ctx, p, client.GracePeriodSeconds(0))).To(Succeed())
				}
			}
			if err := k8sClient.Get(ctx, client.ObjectKeyFromObject(pod), pod); err != nil {
				Expect(k8sClient.Create(ctx, pod)).To(Succeed())
				deleteAtCleanup(pod)
			}
			pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}
			Expect(k8sClient.Status().Update(ctx, pod)).To(Succeed())
		}
		// rolledOutTo writes the DaemonSet's status as its controller would with updated of its
		// nodes' pods of the current template, ready of them ready and available.
		rolledOutTo := func(updated, ready int32) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				ds := &appsv1.DaemonSet{}
				g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, ds)).To(Succeed())
				ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: cniNodes,
					CurrentNumberScheduled: cniNodes, UpdatedNumberScheduled: updated, NumberReady: ready, NumberAvailable: ready,
					NumberUnavailable: cniNodes - ready}
				g.Expect(k8sClient.Status().Update(ctx, ds)).To(Succeed())
			}, installTimeout, poll).Should(Succeed())
		}
		expectReadyNodes := func(ready int32) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				g.Expect(getMesh().Status.CNI.ReadyNodes).To(BeEquivalentTo(ready), "status.cni.readyNodes")
				c := conditionOf(meshv1alpha1.ConditionCNIReady)
				g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
				if ready < cniNodes {
					g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("ready and available on %d of %d node(s)", ready, cniNodes)))
				}
			}, installTimeout, poll).Should(Succeed())
		}
		for _, node := range []string{"node-a", "node-b", "node-c"} {
			agentPod(node, old, "old", corev1.ConditionTrue)
		}

		By("changing the agent's settings, which changes its pod template")
		patchSpec(`{"cni": {"excludeNamespaces": ["cnr-batch"]}}`)
		var current string
		Eventually(func(g Gomega) {
			ds := cniDaemonSetOf(ns)
			current = ds.Annotations[appsv1.DeprecatedTemplateGeneration]
			g.Expect(current).NotTo(Equal(old))
		}, installTimeout, poll).Should(Succeed())
		// Its controller has not seen the change: every node runs the old settings.
		expectReadyNodes(0)

		By("the first node's old pod replaced by one of the new template, not ready yet")
		agentPod("node-a", current, "new", corev1.ConditionFalse)
		rolledOutTo(1, 2)
		expectReadyNodes(0)

		By("the first node's new pod ready, the second node's being replaced")
		agentPod("node-a", current, "new", corev1.ConditionTrue)
		agentPod("node-b", current, "new", corev1.ConditionFalse)
		rolledOutTo(2, 2)
		expectReadyNodes(1)

		By("the rollout done")
		agentPod("node-b", current, "new", corev1.ConditionTrue)
		agentPod("node-c", current, "new", corev1.ConditionTrue)
		rolledOutTo(cniNodes, cniNodes)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
		}, installTimeout, poll).Should(Succeed())
	})
})
