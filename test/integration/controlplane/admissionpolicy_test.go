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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// With spec.values experimental.stableValidationPolicy, the istiod chart renders a
// ValidatingAdmissionPolicy and its binding, which refuse the Istio fields outside the stable channel.
// Someone who deletes either, or weakens the binding from Deny to Audit, lifts that guard for the whole
// mesh: meshkeeper watches both kinds, as it watches every kind the charts render, and puts them back
// at once, not at some later change of something else.
var _ = Describe("The istiod chart's admission policy", Ordered, func() {
	const (
		ns            = "vap-system"
		policyName    = "stable-channel-policy-" + ns + ".istio.io"
		bindingName   = "stable-channel-policy-binding-" + ns + ".istio.io"
		repairTimeout = 30 * time.Second
	)
	policyKey, bindingKey := client.ObjectKey{Name: policyName}, client.ObjectKey{Name: bindingName}

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  values:\n    experimental:\n      stableValidationPolicy: true\n")
		DeferCleanup(deleteMesh)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, policyKey, &admissionregistrationv1.ValidatingAdmissionPolicy{})).To(Succeed())
			g.Expect(k8sClient.Get(ctx, bindingKey, &admissionregistrationv1.ValidatingAdmissionPolicyBinding{})).To(Succeed())
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod")
		// Settled: no reconcile of the ServiceMesh for a while, so a repair below comes from the watch of
		// the policy's kind, not from a reconcile that something else started.
		Eventually(func(g Gomega) {
			before, err := metricSum(`controller_runtime_reconcile_total{`, `controller="servicemesh"`)
			g.Expect(err).NotTo(HaveOccurred())
			time.Sleep(3 * time.Second)
			after, err := metricSum(`controller_runtime_reconcile_total{`, `controller="servicemesh"`)
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(after).To(Equal(before), "the ServiceMesh is still being reconciled")
		}, installTimeout, poll).Should(Succeed())
	})

	It("puts back a deleted policy and binding", func() {
		policy := &admissionregistrationv1.ValidatingAdmissionPolicy{}
		Expect(k8sClient.Get(ctx, policyKey, policy)).To(Succeed())
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		Expect(k8sClient.Get(ctx, bindingKey, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, policy)).To(Succeed())
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func(g Gomega) {
			restored := &admissionregistrationv1.ValidatingAdmissionPolicy{}
			g.Expect(k8sClient.Get(ctx, policyKey, restored)).To(Succeed())
			g.Expect(restored.UID).NotTo(Equal(policy.UID))
			restoredBinding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			g.Expect(k8sClient.Get(ctx, bindingKey, restoredBinding)).To(Succeed())
			g.Expect(restoredBinding.UID).NotTo(Equal(binding.UID))
		}, repairTimeout, poll).Should(Succeed(), "the deleted admission policy was not put back")
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}), "a repair is not an upgrade")

		By("leaving the restored objects alone: what the API server defaults in them is no drift")
		Expect(k8sClient.Get(ctx, policyKey, policy)).To(Succeed())
		Expect(k8sClient.Get(ctx, bindingKey, binding)).To(Succeed())
		Consistently(func(g Gomega) {
			current := &admissionregistrationv1.ValidatingAdmissionPolicy{}
			g.Expect(k8sClient.Get(ctx, policyKey, current)).To(Succeed())
			g.Expect(current.ResourceVersion).To(Equal(policy.ResourceVersion))
			currentBinding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
			g.Expect(k8sClient.Get(ctx, bindingKey, currentBinding)).To(Succeed())
			g.Expect(currentBinding.ResourceVersion).To(Equal(binding.ResourceVersion))
		}, 3*time.Second, poll).Should(Succeed())
	})

	// The merge patch leaves the binding with Audit alone. The repair applies the release's Deny again,
	// and the binding enforces the policy once more; the Audit entry, which another field manager wrote
	// on a list kept as a set, stays theirs, as server-side apply leaves every field it does not own.
	It("puts back Deny on a binding weakened to Audit", func() {
		binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		binding.Name = bindingName
		Expect(k8sClient.Patch(ctx, binding, client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"validationActions":["Audit"]}}`)))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, bindingKey, binding)).To(Succeed())
			g.Expect(binding.Spec.ValidationActions).To(ContainElement(admissionregistrationv1.Deny))
		}, repairTimeout, poll).Should(Succeed(), "the binding weakened to Audit was not put back")
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}), "a repair is not an upgrade")
	})
})
