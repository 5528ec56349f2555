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
	"slices"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A change of the CNI agent that keeps failing is tried again with backoff, as the control plane is,
// not on every wake-up of the ServiceMesh: pods churning in an enrolled namespace wake it every few
// seconds, and each attempt is a Helm upgrade (a release record, the applies, an Event).
var _ = Describe("A CNI agent change the API server refuses", Ordered, func() {
	const ns = "cb-system"
	// An admission policy of the cluster's refuses every change of the agent's configuration in ns.
	vap, binding := denial{
		name:       "frozen-cni-config-in-cb-system",
		operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"},
			Resources: []string{"configmaps"}},
		resourceNames: []string{"istio-cni-config"},
		expression:    "false",
		message:       "the CNI configuration in cb-system is frozen",
		namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}.objects()
	latest := func() int {
		GinkgoHelper()
		revisions := releaseRevisions(ns, "istio-cni")
		Expect(revisions).NotTo(BeEmpty())
		return slices.Max(revisions)
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace("cb-shop", nil, nil)
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [cb-shop]\n  cni:\n    excludeNamespaces: [cb-a]\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod") // and the agent on every node
	})
	AfterAll(func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vap))).To(Succeed())
		deleteMesh()
	})

	It("does not upgrade the agent again on every wake-up while the change fails", func() {
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
		}, installTimeout, poll).Should(MatchError(ContainSubstring("the CNI configuration in cb-system is frozen")))

		patchSpec(`{"cni": {"excludeNamespaces": ["cb-b"]}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), c.Message)
			g.Expect(c.Message).To(ContainSubstring("frozen"))
		}, installTimeout, poll).Should(Succeed())
		first := latest()

		By("churning pods in the enrolled namespace, each of which wakes the ServiceMesh")
		for i := range 8 {
			createPod("cb-shop", fmt.Sprintf("churn-%d", i), "", "", nil)
			time.Sleep(500 * time.Millisecond)
		}
		// The first retry comes 5 s after the failure at the earliest.
		Expect(latest()-first).To(BeNumerically("<=", 1),
			"the failed agent upgrade was attempted %d more times within 4 s", latest()-first)
		Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))

		By("upgrading the agent once the change is allowed")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istio-cni", latest())).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	})
})
