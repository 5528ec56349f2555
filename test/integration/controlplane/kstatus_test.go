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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// kstatusOf computes the ServiceMesh's status as Helm's --wait, Flux and kpt compute it.
func kstatusOf(g Gomega) *status.Result {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
	g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, u)).To(Succeed())
	result, err := status.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	return result
}

// The kstatus library itself judges the ServiceMesh through real transitions: InProgress while the
// control plane is installed and rolled out, Current only once the mesh is Ready, Failed at once on a
// failure retrying cannot fix, and Current again once the spec is fixed.
var _ = Describe("kstatus of a ServiceMesh", Ordered, func() {
	const ns = "kstatus-system"
	BeforeAll(deleteMesh)
	AfterAll(deleteMesh)

	It("is InProgress while istiod rolls out", func() {
		createMesh("  namespace: " + ns + "\n")
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonRollingOut))
		Consistently(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.InProgressStatus), result.Message)
			g.Expect(conditionOf(meshv1alpha1.ConditionReconciling).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(meshv1alpha1.ConditionReconciling).Reason).To(Equal(meshv1alpha1.ReasonRollingOut))
			g.Expect(conditionOf(meshv1alpha1.ConditionStalled).Status).To(BeEmpty())
		}, 2*time.Second, poll).Should(Succeed())
	})

	It("is Current once the mesh is Ready, and not before", func() {
		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.CurrentStatus), result.Message)
		}, installTimeout, poll).Should(Succeed())
		mesh := getMesh()
		Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
		Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		Expect(conditionOf(meshv1alpha1.ConditionReconciling).Status).To(BeEmpty())
		Expect(conditionOf(meshv1alpha1.ConditionStalled).Status).To(BeEmpty())
	})

	It("is Failed while istiod's rollout is past its progress deadline, and Current once it rolls out", func() {
		// What the Deployment controller writes when a new template's pods never become available (an
		// image that cannot be pulled): the old replica still serves, the new one is not available.
		Eventually(func() error {
			d := istiod(ns)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 1,
				ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
						Message: `ReplicaSet "istiod-5c8f7d" has timed out progressing.`},
				}}
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.FailedStatus), result.Message)
		}, installTimeout, poll).Should(Succeed())
		Expect(conditionOf(meshv1alpha1.ConditionReady).Reason).To(Equal(meshv1alpha1.ReasonProgressDeadlineExceeded))
		Expect(conditionOf(meshv1alpha1.ConditionStalled).Reason).To(Equal(meshv1alpha1.ReasonProgressDeadlineExceeded))
		Expect(conditionOf(meshv1alpha1.ConditionReconciling).Status).To(BeEmpty())

		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.CurrentStatus), result.Message)
		}, installTimeout, poll).Should(Succeed())
	})

	It("is Failed on a chart version that does not exist", func() {
		patchSpec(`{"version": "1.30.2"}`)
		Eventually(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.FailedStatus), result.Message)
			g.Expect(result.Message).To(ContainSubstring("1.30.2"))
		}, installTimeout, poll).Should(Succeed())
		mesh := getMesh()
		Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation), "a terminal failure counts the generation as observed")
		Expect(conditionOf(meshv1alpha1.ConditionStalled).Reason).To(Equal(meshv1alpha1.ReasonChartNotFound))
		Expect(conditionOf(meshv1alpha1.ConditionReconciling).Status).To(BeEmpty())
	})

	It("is Current again once the version is one the charts have", func() {
		patchSpec(`{"version": "1.31.1"}`)
		Eventually(func(g Gomega) {
			result := kstatusOf(g)
			g.Expect(result.Status).To(Equal(status.CurrentStatus), result.Message)
		}, installTimeout, poll).Should(Succeed())
		Expect(conditionOf(meshv1alpha1.ConditionStalled).Status).To(BeEmpty())
	})
})
