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
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// oldIstiod is the version of the istiod that runs before the specs' upgrades: two minor versions below
// the built-in charts, which an in-place upgrade cannot reach in one step.
const oldIstiod = "1.29.3"

// istiodTemplate is istiod's pod template as the istiod chart of version renders it, in what the gate
// reads: its labels (app.kubernetes.io/version among them) and the discovery container's image.
func istiodTemplate(version string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "istiod", "istio": "pilot", "istio.io/rev": "default",
			"app.kubernetes.io/version": version}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:" + version}}},
	}
}

// The in-place upgrade gate judges a version change from the istiod that runs, not only from
// status.version, which names the version Helm last applied: a rollout whose new pods never become
// ready leaves the pods of the version before serving, and a ServiceMesh restored from a backup has no
// status at all. Either way an in-place upgrade two minor versions ahead of the running istiod is
// refused, and nothing is upgraded.
var _ = Describe("The in-place upgrade gate", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("refuses a jump from the pods a stalled rollout keeps, though status.version is one minor version behind", func() {
		const ns = "ipg-stalled"
		createNamespace(ns, nil, nil)
		installFromRepository(ns, helmRepo.URL())
		// The envtest tier has no Deployment controller: the ReplicaSet of istiod's earlier template and
		// its pod are made by hand, owned by the istiod Deployment meshkeeper installed. Its pod never
		// leaves, as the old pods of a rollout whose new pods never become ready.
		template := istiodTemplate(oldIstiod)
		labels := map[string]string{"pod-template-hash": "5f8c9d7b6"}
		for key, value := range template.Labels {
			labels[key] = value
		}
		template.Labels = labels
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-5f8c9d7b6", Labels: labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", "istiod", istiod(ns).UID)}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: template},
		}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-5f8c9d7b6-x2k9q", Labels: labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef("ReplicaSet", rs.Name, rs.UID)}},
			Spec: template.Spec,
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		deleteAtCleanup(pod, rs)
		time.Sleep(time.Second) // the manager's caches show them before the upgrade

		patchSpec(`{"version": "` + charts.BuiltinVersion + `", "charts": null}`)
		Eventually(func(g Gomega) {
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUpgradeNotSupported), ready.Message)
			g.Expect(ready.Message).To(ContainSubstring("from the running " + oldIstiod))
		}, installTimeout, poll).Should(Succeed())
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}), "istiod was upgraded")
		Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + repoVersion))
		Expect(getMesh().Status.Version).To(Equal(repoVersion))
	})

	It("refuses a jump from the istiod Deployment when status.version is empty", func() {
		const ns = "ipg-restored"
		createNamespace(ns, nil, nil)
		// A control plane restored from a backup: its istiod runs, the ServiceMesh comes back without a
		// status.
		template := istiodTemplate(oldIstiod)
		deployment := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod", Labels: map[string]string{
				meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod", "istio.io/rev": "default"}},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"istio": "pilot"}}, Template: template},
		}
		Expect(k8sClient.Create(ctx, deployment)).To(Succeed())
		deleteAtCleanup(deployment)
		time.Sleep(time.Second) // the manager's cache shows the Deployment before the ServiceMesh

		createMesh("  namespace: " + ns + "\n  version: " + charts.BuiltinVersion + "\n")
		Eventually(func(g Gomega) {
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUpgradeNotSupported), ready.Message)
			g.Expect(ready.Message).To(ContainSubstring("from the running " + oldIstiod))
		}, installTimeout, poll).Should(Succeed())
		Expect(getMesh().Status.Version).To(BeEmpty())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty(), "istiod was installed over the running one")
		Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + oldIstiod))
	})

	It("does not count the istiod pods of another installation", func() {
		const ns = "ipg-foreign"
		createNamespace(ns, nil, nil)
		// Istio installed with the helm CLI or istioctl: its istiod is no object of meshkeeper's, which
		// does not upgrade it; the install fails on it instead, naming it.
		template := istiodTemplate(oldIstiod)
		deployment := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod", Labels: map[string]string{"app": "istiod", "istio.io/rev": "default"}},
			Spec:       appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: template.Labels}, Template: template},
		}
		Expect(k8sClient.Create(ctx, deployment)).To(Succeed())
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-7b9d5c8f4", Labels: template.Labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", "istiod", deployment.UID)}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: template.Labels}, Template: template},
		}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-7b9d5c8f4-q8w2z", Labels: template.Labels,
				OwnerReferences: []metav1.OwnerReference{controllerRef("ReplicaSet", rs.Name, rs.UID)}},
			Spec: template.Spec,
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		deleteAtCleanup(pod, rs, deployment)
		time.Sleep(time.Second) // the manager's caches show them before the ServiceMesh

		createMesh("  namespace: " + ns + "\n  version: " + charts.BuiltinVersion + "\n")
		Eventually(func(g Gomega) {
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), ready.Message)
			g.Expect(ready.Message).To(ContainSubstring("Deployment " + ns + "/istiod"))
		}, installTimeout, poll).Should(Succeed())
		Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + oldIstiod))
	})
})
