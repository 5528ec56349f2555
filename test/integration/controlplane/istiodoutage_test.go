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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A mistyped spec.version (ChartNotFound, terminal for its generation) is left for days, and istiod then
// goes down for a reason of its own (a node drained, a crash loop): ControlPlaneReady keeps reporting the
// failure, but its message and meshkeeper_control_plane_ready must follow the running istiod, which the
// failure leaves as it is, so that MeshkeeperIstiodUnavailable pages.
var _ = Describe("istiod going down while the control-plane phase fails", Ordered, func() {
	const ns = "ito-system"

	// setAvailable writes what the Deployment controller and kubelets would when available of istiod's
	// replicas are available (all of them updated).
	setAvailable := func(available int32) {
		GinkgoHelper()
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod"}, d); err != nil {
				return err
			}
			replicas := desiredOf(d)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
				ReadyReplicas: available, AvailableReplicas: available, UnavailableReplicas: replicas - available}
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		DeferCleanup(deleteMesh)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n")
		Eventually(func() bool { return istiodOrNil(ns) != nil }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(missingMetrics("meshkeeper_control_plane_ready 1")).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"version": "1.30.2"}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound), c.Message)
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
		}, installTimeout, poll).Should(Succeed())
	})

	It("reports the running istiod in ControlPlaneReady's message while it is available", func() {
		desired := desiredOf(istiod(ns))
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound), c.Message)
			g.Expect(c.Message).To(ContainSubstring("spec.charts.repository"))
			g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("the running istiod (Deployment %s/istiod): %d of %d replicas available",
				ns, desired, desired)))
			g.Expect(missingMetrics("meshkeeper_control_plane_ready 1")).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed())
	})

	It("reports istiod unavailable, in the gauge and the message, with the reason still ChartNotFound", func() {
		desired := desiredOf(istiod(ns))
		setAvailable(0)
		Eventually(func(g Gomega) {
			g.Expect(missingMetrics("meshkeeper_control_plane_ready 0")).To(BeEmpty(),
				"meshkeeper_control_plane_ready did not follow the running istiod while ChartNotFound holds")
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound), c.Message)
			g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("the running istiod (Deployment %s/istiod): 0 of %d replicas available",
				ns, desired)), "ControlPlaneReady does not say that the running istiod has no replica available")
		}, installTimeout, poll).Should(Succeed())
		Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.31.0"), "the running istiod was changed")
	})

	It("reports istiod available again once its replicas are", func() {
		desired := desiredOf(istiod(ns))
		setAvailable(desired)
		Eventually(func(g Gomega) {
			g.Expect(missingMetrics("meshkeeper_control_plane_ready 1")).To(BeEmpty())
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound), c.Message)
			g.Expect(c.Message).To(ContainSubstring(fmt.Sprintf("%d of %d replicas available", desired, desired)))
		}, installTimeout, poll).Should(Succeed())
	})
})

// desiredOf is the number of replicas a Deployment asks for.
func desiredOf(d *appsv1.Deployment) int32 {
	if d.Spec.Replicas != nil {
		return *d.Spec.Replicas
	}
	return 1
}
