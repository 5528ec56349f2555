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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A change of the CNI agent that fails leaves the agent running as it was, on every node: status.cni and
// meshkeeper_cni_nodes go on counting its nodes, whether the failure is fresh or being waited out, rather
// than reporting an agent that runs nowhere.
var _ = Describe("The CNI agent's node counts while a change of it fails", long, Ordered, func() {
	const ns = "cnrc-system"
	// An admission policy of the cluster's refuses every change of the agent's configuration in ns.
	vap, binding := denial{
		name:       "frozen-cni-config-in-cnrc-system",
		operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"},
			Resources: []string{"configmaps"}},
		resourceNames: []string{"istio-cni-config"},
		expression:    "false",
		message:       "the CNI configuration in cnrc-system is frozen",
		namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  cni:\n    excludeNamespaces: [cnrc-a]\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod") // and the agent on every node
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonAvailable))
			g.Expect(getMesh().Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes))
		}, installTimeout, poll).Should(Succeed())
	})
	AfterAll(func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vap))).To(Succeed())
		deleteMesh()
	})

	It("counts the nodes of the agent that still runs after a failed upgrade", func() {
		Expect(k8sClient.Create(ctx, vap)).To(Succeed())
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		// In force once it refuses a dry run of the test's own.
		Eventually(func() error {
			config := &corev1.ConfigMap{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-config"}, config); err != nil {
				return err
			}
			config.Data["PROBE"] = "x"
			return k8sClient.Update(ctx, config, client.DryRunAll)
		}, installTimeout, poll).Should(MatchError(ContainSubstring("the CNI configuration in cnrc-system is frozen")))

		patchSpec(`{"cni": {"excludeNamespaces": ["cnrc-b"]}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), c.Message)
			g.Expect(c.Message).To(ContainSubstring("frozen"))
		}, installTimeout, poll).Should(Succeed())

		// The upgrade gave the DaemonSet's pod template the new config digest before the ConfigMap was
		// refused: its controller rolls that template out, as written here. The agent then runs on every
		// node, and is counted so through the failure and its retries 5 and 10 s later.
		Expect(cniDaemonSetOf(ns).Generation).To(BeNumerically(">", cniDaemonSetOf(ns).Status.ObservedGeneration))
		// Until its controller has observed that template, no node runs an agent of it (this tier runs no
		// pods), and the status says so. Waiting for it first keeps the count below from being the one
		// written before the upgrade, which a status computed before the rollout would then replace.
		Eventually(func() int32 { return getMesh().Status.CNI.ReadyNodes }, installTimeout, poll).Should(BeZero(),
			"status.cni.readyNodes of a template no node runs yet")
		Eventually(func(g Gomega) { setCNIStatus(g, ns, cniNodes, cniNodes) }, installTimeout, poll).Should(Succeed())
		Eventually(func() int32 { return getMesh().Status.CNI.ReadyNodes }, installTimeout, poll).Should(BeEquivalentTo(cniNodes))
		Consistently(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni.Namespace).To(Equal(ns))
			g.Expect(cni.DesiredNodes).To(BeEquivalentTo(cniNodes), "status.cni.desiredNodes of an agent that runs on every node")
			g.Expect(cni.ReadyNodes).To(BeEquivalentTo(cniNodes), "status.cni.readyNodes of an agent that runs on every node")
			g.Expect(metricSum("meshkeeper_cni_nodes{", `state="ready"`)).To(BeEquivalentTo(cniNodes), "meshkeeper_cni_nodes{state=\"ready\"}")
		}, 16*time.Second, 50*time.Millisecond).Should(Succeed())
	})
})
