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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The CNI agent's DaemonSet decides on which nodes it runs; CNIReady reads its status, and its pods
// for the nodes where it is not ready. The envtest tier has no DaemonSet controller nor scheduler: the
// specs write what they would.
var _ = Describe("The CNI agent on the cluster's nodes", Ordered, func() {
	const ns = "cnn-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n  cni:\n    tolerations: [{key: dedicated, operator: Exists}]\n")
	})

	It("is not ready when its tolerations keep it off every node", func() {
		// Every node has a taint the agent's tolerations leave out: the DaemonSet controller schedules
		// it on none, and no pod injected for it starts anywhere.
		Eventually(func(g Gomega) { setCNIStatus(g, ns, 0, 0) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("runs the CNI agent on no node"))
			g.Expect(c.Message).To(ContainSubstring("spec.cni.tolerations"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}, installTimeout, poll).Should(Succeed())
	})

	It("names a node that joined while its agent pod is not yet scheduled", func() {
		// The DaemonSet controller creates the pod for the new node with a node affinity on its name;
		// spec.nodeName stays empty until the scheduler binds it, which a full node may never do.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istio-cni-node-x7k2p",
			Labels: map[string]string{"k8s-app": "istio-cni-node"}},
			Spec: corev1.PodSpec{
				Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
					RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
						MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{"node-new"}}},
					}}},
				}},
				Containers: []corev1.Container{{Name: "install-cni", Image: "docker.io/istio/install-cni:1.31.1"}}}}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
		})
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes+1, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNodesNotReady))
			g.Expect(c.Message).To(ContainSubstring("not ready on node-new"))
		}, installTimeout, poll).Should(Succeed())

		markCNIReady()
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})
})
