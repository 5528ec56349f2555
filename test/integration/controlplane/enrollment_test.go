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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func namespaceLabels(name string) map[string]string {
	GinkgoHelper()
	ns := &corev1.Namespace{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
	return ns.Labels
}

func createNamespace(name string, labels, annotations map[string]string) (map[string]string, map[string]string) {
	GinkgoHelper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels, Annotations: annotations}}
	Expect(k8sClient.Create(ctx, ns)).To(Succeed())
	return ns.Labels, ns.Annotations
}

func namespaceEvents(name string) []string {
	GinkgoHelper()
	var reasons []string
	for _, e := range listEvents() {
		if e.Regarding.Kind == "Namespace" && e.Regarding.Name == name {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("Namespace enrollment", Ordered, func() {
	var shopLabels, shopAnnotations map[string]string

	BeforeAll(func() {
		deleteMesh()
		shopLabels, shopAnnotations = createNamespace("enroll-shop",
			map[string]string{"team": "shop", "kubernetes.io/metadata.name": "enroll-shop"},
			map[string]string{"owner": "shop@example.com"})
		createNamespace("enroll-payments", map[string]string{"mesh": "on"}, nil)
		createNamespace("enroll-legacy", map[string]string{"istio-injection": "disabled"}, nil)
		createMesh("  namespace: enroll-system\n  injection:\n    namespaces: [enroll-shop, enroll-legacy]\n" +
			"    namespaceSelector:\n      matchLabels:\n        mesh: \"on\"\n")
	})
	AfterAll(deleteMesh)

	It("labels the namespaces the spec lists or selects, and touches nothing else of theirs", func() {
		Eventually(func(g Gomega) {
			g.Expect(namespaceLabels("enroll-shop")).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(namespaceLabels("enroll-payments")).To(HaveKeyWithValue("istio-injection", "enabled"))
		}, installTimeout, poll).Should(Succeed())

		shop := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "enroll-shop"}, shop)).To(Succeed())
		withInjection := map[string]string{"istio-injection": "enabled"}
		for k, v := range shopLabels {
			withInjection[k] = v
		}
		Expect(shop.Labels).To(Equal(withInjection))
		Expect(shop.Annotations).To(Equal(shopAnnotations))
		Eventually(func() []string { return namespaceEvents("enroll-shop") }, installTimeout, poll).Should(ContainElement("Enrolled"))
	})

	It("never overwrites a user's own injection label, and reports it", func() {
		Consistently(func() map[string]string { return namespaceLabels("enroll-legacy") }, 2*time.Second, 200*time.Millisecond).
			Should(Equal(map[string]string{"istio-injection": "disabled", "kubernetes.io/metadata.name": "enroll-legacy"}))
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.Namespaces.Enrolled).To(BeEquivalentTo(2))
			g.Expect(mesh.Status.Namespaces.Conflicts).To(BeEquivalentTo(1))
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInjectionLabelConflict))
			g.Expect(c.Message).To(ContainSubstring("enroll-legacy"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []string { return namespaceEvents("enroll-legacy") }, installTimeout, poll).Should(ContainElement("InjectionLabelConflict"))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("InjectionLabelConflict"))
	})

	It("never enrolls a system namespace, even when the selector matches it", func() {
		system := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "kube-system"}, system)).To(Succeed())
		patch := client.MergeFrom(system.DeepCopy())
		system.Labels["mesh"] = "on"
		Expect(k8sClient.Patch(ctx, system, patch)).To(Succeed())
		Consistently(func() map[string]string { return namespaceLabels("kube-system") }, 2*time.Second, 200*time.Millisecond).
			ShouldNot(HaveKey("istio-injection"))
	})

	It("takes back exactly its label when a namespace leaves the mesh", func() {
		By("removing the label the selector matched")
		payments := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "enroll-payments"}, payments)).To(Succeed())
		patch := client.MergeFrom(payments.DeepCopy())
		delete(payments.Labels, "mesh")
		Expect(k8sClient.Patch(ctx, payments, patch)).To(Succeed())
		Eventually(func() map[string]string { return namespaceLabels("enroll-payments") }, installTimeout, poll).
			Should(Equal(map[string]string{"kubernetes.io/metadata.name": "enroll-payments"}))

		By("taking a listed namespace out of the spec")
		patchSpec(`{"injection": {"namespaces": ["enroll-legacy"]}}`)
		Eventually(func() map[string]string { return namespaceLabels("enroll-shop") }, installTimeout, poll).Should(Equal(shopLabels))
		Eventually(func() []string { return namespaceEvents("enroll-shop") }, installTimeout, poll).Should(ContainElement("Unenrolled"))
		Eventually(func() int32 { return getMesh().Status.Namespaces.Enrolled }, installTimeout, poll).Should(BeEquivalentTo(0))
	})

	It("gives back every label it set when the ServiceMesh is deleted", func() {
		patchSpec(`{"injection": {"namespaces": ["enroll-shop", "enroll-legacy"]}}`)
		Eventually(func() map[string]string { return namespaceLabels("enroll-shop") }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))
		deleteMesh()
		Expect(namespaceLabels("enroll-shop")).To(Equal(shopLabels), "the uninstall left meshkeeper's label behind")
		Expect(namespaceLabels("enroll-legacy")).To(HaveKeyWithValue("istio-injection", "disabled"))
	})
})
