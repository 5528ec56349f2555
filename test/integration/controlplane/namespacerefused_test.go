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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
)

// An admission policy of the cluster's that forbids the injection label on a tenant namespace refuses
// meshkeeper's write of it, putting it on or taking it back: the namespace and the ServiceMesh get a
// Warning Event with the API server's answer, NamespacesEnrolled says so rather than that the namespace
// is being enrolled, the other namespaces are enrolled meanwhile, and the write goes through once the
// policy allows it.
var _ = Describe("A namespace label write the API server refuses", Ordered, func() {
	const (
		tenantNS = "nsrefused-tenant"
		shopNS   = "nsrefused-shop"
	)
	namespaces := admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"}, Resources: []string{"namespaces"}}
	enrolled := map[string]string{"kubernetes.io/metadata.name": "", "istio-injection": "enabled"}

	// refusalNotes returns the notes of the NamespaceApplyFailed Warning Events about kind name.
	refusalNotes := func(kind, name string) []string {
		GinkgoHelper()
		var notes []string
		for _, e := range listEvents() {
			if e.Type == corev1.EventTypeWarning && e.Reason == namespace.ReasonApplyFailed && e.Regarding.Kind == kind &&
				e.Regarding.Name == name {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}
	labelsOf := func(name string) map[string]string {
		labels := map[string]string{}
		for key, value := range namespaceLabels(name) {
			if key == "kubernetes.io/metadata.name" {
				value = ""
			}
			labels[key] = value
		}
		return labels
	}
	expectEnrolled := func() {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonEnrolled), "NamespacesEnrolled: %s: %s", c.Status, c.Message)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(tenantNS, nil, nil)
		createNamespace(shopNS, nil, nil)
		DeferCleanup(deleteMesh)
	})

	It("reports the namespace the label may not be put on, enrolls the others, and retries", func() {
		By("enforcing a policy that forbids istio-injection on the namespace " + tenantNS)
		vap, binding := denial{
			name:          "nsrefused-no-injection",
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          namespaces,
			resourceNames: []string{tenantNS},
			expression:    "!has(object.metadata.labels) || !('istio-injection' in object.metadata.labels)",
			message:       "istio-injection is forbidden on tenant namespaces",
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error {
			return k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenantNS}}, client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"istio-injection":"enabled"}}}`)), client.DryRunAll)
		})
		createMesh("  namespace: nsrefused-system\n  injection:\n    namespaces: [" + tenantNS + ", " + shopNS + "]\n")

		// One refusal does not hold back the other namespaces.
		Eventually(func() map[string]string { return labelsOf(shopNS) }, installTimeout, poll).Should(Equal(enrolled))
		Expect(namespaceLabels(tenantNS)).NotTo(HaveKey("istio-injection"))
		for _, kind := range []string{"Namespace", "ServiceMesh"} {
			name := tenantNS
			if kind == "ServiceMesh" {
				name = meshv1alpha1.ServiceMeshName
			}
			Eventually(func() []string { return refusalNotes(kind, name) }, installTimeout, poll).
				Should(ContainElement(And(
					ContainSubstring("cannot put the injection label istio-injection=enabled on namespace "+tenantNS),
					ContainSubstring("istio-injection is forbidden on tenant namespaces"))),
					"the %s has no Warning Event that says why meshkeeper cannot enroll the namespace", kind)
		}
		Expect(refusalNotes("Namespace", shopNS)).To(BeEmpty())
		// Waiting does not enroll it: the condition says that the API server refuses the write, with its
		// answer, and what to change, not that the namespace is being enrolled.
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "NamespacesEnrolled: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNamespaceWriteRefused), "NamespacesEnrolled: %s", c.Message)
			g.Expect(c.Message).To(ContainSubstring("(putting it on) of 1 namespace(s): " + tenantNS + ";"))
			g.Expect(c.Message).To(ContainSubstring("istio-injection is forbidden on tenant namespaces"))
			g.Expect(c.Message).To(ContainSubstring("allow meshkeeper's change"))
		}, installTimeout, poll).Should(Succeed())

		By("lifting the policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func() map[string]string { return labelsOf(tenantNS) }, installTimeout, poll).Should(Equal(enrolled))
		expectEnrolled()
	})

	It("reports the namespace the label may not be taken back from when it leaves the mesh", func() {
		By("enforcing a policy that requires istio-injection on the namespace " + shopNS)
		vap, binding := denial{
			name:          "nsrefused-injection-required",
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          namespaces,
			resourceNames: []string{shopNS},
			expression:    "has(object.metadata.labels) && 'istio-injection' in object.metadata.labels",
			message:       "istio-injection is required on this namespace",
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error {
			return k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: shopNS}}, client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"labels":{"istio-injection":null}}}`)), client.DryRunAll)
		})

		By("taking the namespace out of the mesh")
		patchSpec(`{"injection": {"namespaces": ["` + tenantNS + `"]}}`)
		Eventually(func() []string { return refusalNotes("Namespace", shopNS) }, installTimeout, poll).
			Should(ContainElement(And(
				ContainSubstring("cannot take its injection label back from namespace "+shopNS),
				ContainSubstring("istio-injection is required on this namespace"))),
				"the namespace has no Warning Event that says why meshkeeper cannot take its label back")
		Expect(labelsOf(shopNS)).To(Equal(enrolled))
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "NamespacesEnrolled: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonNamespaceWriteRefused), "NamespacesEnrolled: %s", c.Message)
			g.Expect(c.Message).To(ContainSubstring("taking it back"))
			g.Expect(c.Message).To(ContainSubstring("1 namespace(s): " + shopNS + ";"))
			g.Expect(c.Message).To(ContainSubstring("istio-injection is required on this namespace"))
		}, installTimeout, poll).Should(Succeed())

		By("lifting the policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func() map[string]string { return labelsOf(shopNS) }, installTimeout, poll).
			Should(Equal(map[string]string{"kubernetes.io/metadata.name": ""}))
		expectEnrolled()
	})
})
