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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// An admission policy of the cluster's refuses the deletion of one of istiod's objects, so the uninstall
// of the istiod release fails after the CNI agent's went through, and is retried with backoff. The
// ServiceMesh is Terminating with its control plane partly gone: its status says so (Ready False with
// UninstallFailed, naming the release and the refusal), not that the mesh matches the spec, which
// kubectl wait --for=condition=Ready and every tool that reads Ready would believe.
var _ = Describe("An uninstall a release's object refuses", Ordered, func() {
	const ns = "uf-system"
	policy, binding := denial{
		name:          "uf-keep-istiod-account",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"serviceaccounts"}},
		resourceNames: []string{"istiod"},
		expression:    "false",
		message:       "the istiod account is kept",
		namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: ns}},
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed(), "the mesh is Ready before its deletion")
		enforce(policy, binding, deleteDryRun(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod"}}))
	})
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
		deleteMesh()
	})

	It("reports the failed release in Ready and an Event, and finishes once the policy goes", func() {
		Expect(k8sClient.Delete(ctx, getMesh())).To(Succeed())
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.DeletionTimestamp.IsZero()).To(BeFalse())
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse), "a Terminating mesh whose uninstall fails is not Ready")
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUninstallFailed))
			g.Expect(ready.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(ready.Message).To(And(ContainSubstring(ns+"/istiod"), ContainSubstring("the istiod account is kept")))
			controlPlane := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(controlPlane.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(controlPlane.Reason).To(Equal(meshv1alpha1.ReasonUninstallFailed))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Status).To(Equal(metav1.ConditionFalse), "the CNI agent is uninstalled")
			g.Expect(mesh.Status.CNI).NotTo(BeNil())
			g.Expect(mesh.Status.CNI.Namespace).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed())
		Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
		Expect(listEvents()).To(ContainElement(And(
			HaveField("Reason", meshv1alpha1.ReasonUninstallFailed),
			HaveField("Type", corev1.EventTypeWarning),
			HaveField("Note", ContainSubstring("the istiod account is kept")))))

		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, policy)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, &meshv1alpha1.ServiceMesh{})
		}, installTimeout, poll).Should(Satisfy(apierrors.IsNotFound))
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
	})
})
