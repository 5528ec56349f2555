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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// While an uninstall is blocked by an object that refuses to give back meshkeeper's label, the control
// plane and the CNI agent are already uninstalled: the status says so, rather than what it said of
// them before the deletion (an agent ready on every node, a control plane available).
var _ = Describe("The status of a blocked uninstall", Ordered, func() {
	const (
		ns      = "rbs-system"
		guarded = "rbs-guarded"
	)
	policy, binding := denial{
		name:          "rbs-keep-injection",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"namespaces"}},
		resourceNames: []string{guarded},
		expression: `!has(oldObject.metadata.labels) || !('istio-injection' in oldObject.metadata.labels) || ` +
			`(has(object.metadata.labels) && 'istio-injection' in object.metadata.labels)`,
		message: "the injection label of this namespace is kept",
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createNamespace(guarded, nil, nil)
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [" + guarded + "]\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(namespaceLabels(guarded)).To(HaveKeyWithValue("istio-injection", "enabled"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod")
		markCNIReady()
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.CNI).NotTo(BeNil())
			g.Expect(mesh.Status.CNI.Enabled).To(BeTrue(), "the new mesh runs the CNI agent")
			g.Expect(mesh.Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		Expect(k8sClient.Create(ctx, policy)).To(Succeed())
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		By("waiting until the API server enforces the policy")
		Eventually(func() error {
			probe := &corev1.Namespace{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: guarded}, probe)).To(Succeed())
			delete(probe.Labels, "istio-injection")
			if err := k8sClient.Update(ctx, probe, client.DryRunAll); err == nil {
				return fmt.Errorf("the policy does not deny yet")
			}
			return nil
		}, installTimeout, poll).Should(Succeed())
	})
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
		deleteMesh()
	})

	It("reports the CNI agent and the control plane gone, and what keeps the ServiceMesh", func() {
		Expect(k8sClient.Delete(ctx, getMesh())).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
			g.Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUninstallBlocked))
			g.Expect(ready.Message).To(ContainSubstring("namespace " + guarded))
		}, installTimeout, poll).Should(Succeed())
		mesh := getMesh()
		Expect(mesh.Status.CNI).NotTo(BeNil())
		Expect(mesh.Status.CNI.ReadyNodes).To(BeZero(), "the status reports the uninstalled CNI agent ready on its nodes")
		Expect(mesh.Status.CNI.DesiredNodes).To(BeZero())
		Expect(mesh.Status.CNI.Namespace).To(BeEmpty(), "the status reports the istio-cni release installed")
		for _, conditionType := range []string{meshv1alpha1.ConditionCNIReady, meshv1alpha1.ConditionControlPlaneReady} {
			c := conditionOf(conditionType)
			Expect(c.Status).To(Equal(metav1.ConditionFalse), "%s says %s of what is uninstalled", conditionType, c.Reason)
			Expect(c.Reason).To(Equal(meshv1alpha1.ReasonUninstallBlocked))
			Expect(c.Message).To(ContainSubstring("uninstalled"))
		}
	})
})
