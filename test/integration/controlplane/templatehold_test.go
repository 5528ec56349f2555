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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A workload pinned to a revision by its pod template's istio.io/rev label may have no pod for a long
// while: a CronJob between runs, a Deployment scaled to 0. No pod counts for the revision then, and it
// was removed after its grace period with its injector webhook: the workload's next pods matched no
// injector and started without a sidecar, out of the mesh.
var _ = Describe("A revision that a workload's pod template names", Ordered, func() {
	const (
		ns     = "wth-system"
		jobsNs = "wth-jobs"
	)
	podTemplate := func(restart corev1.RestartPolicy) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "wth", "istio.io/rev": "1-31-0"}},
			Spec: corev1.PodSpec{RestartPolicy: restart,
				Containers: []corev1.Container{{Name: "main", Image: "registry.example/batch:1"}}},
		}
	}
	cronJob := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Namespace: jobsNs, Name: "nightly"},
		Spec: batchv1.CronJobSpec{Schedule: "0 3 * * *",
			JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: podTemplate(corev1.RestartPolicyNever)}}},
	}
	scaledDown := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: jobsNs, Name: "reports"},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](0),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "wth"}}, Template: podTemplate(corev1.RestartPolicyAlways)},
	}
	// blockedNotes are the notes of the RevisionPruneBlocked Events that name this spec's workloads.
	blockedNotes := func() []string {
		var notes []string
		for _, note := range meshEvents(meshv1alpha1.ReasonRevisionPruneBlocked) {
			if strings.Contains(note, jobsNs+"/") {
				notes = append(notes, note)
			}
		}
		return notes
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(jobsNs, nil, nil)
		Expect(k8sClient.Create(ctx, cronJob)).To(Succeed())
		Expect(k8sClient.Create(ctx, scaledDown)).To(Succeed())
		deleteAtCleanup(cronJob, scaledDown)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 2s\n")
		DeferCleanup(deleteMesh)
	})

	It("is kept while the template names it, and removed once it is moved", func() {
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))

		By("keeping 1-31-0, unused by any pod or namespace, past its grace period")
		Eventually(blockedNotes, installTimeout, poll).Should(ContainElement(And(
			HavePrefix("Revision 1-31-0 is unused and its grace period is over"),
			ContainSubstring("2 workloads (Deployment wth-jobs/reports, CronJob wth-jobs/nightly)"),
			ContainSubstring("istio.io/rev=1-31-0"),
			ContainSubstring("move their istio.io/rev label to a current revision or remove it"))))
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.ActiveRevision).To(Equal("1-31-1"))
			g.Expect(revisionStates()).To(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionDraining))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, 3*time.Second, poll).Should(Equal([]int{1}),
			"a revision a CronJob's and a Deployment's pod template name was removed")
		Expect(deploymentExists(ns, "istiod-1-31-0")).To(BeTrue())
		Expect(blockedNotes()).To(HaveLen(1), "the Event is recorded again while nothing changed")

		By("moving the CronJob to the current revision and taking the label off the Deployment")
		Expect(k8sClient.Patch(ctx, cronJob, client.RawPatch(client.Merge.Type(),
			[]byte(`{"spec":{"jobTemplate":{"spec":{"template":{"metadata":{"labels":{"istio.io/rev":"1-31-1"}}}}}}}`)))).To(Succeed())
		Expect(k8sClient.Patch(ctx, scaledDown, client.RawPatch(client.Merge.Type(),
			[]byte(`{"spec":{"template":{"metadata":{"labels":{"istio.io/rev":null}}}}}`)))).To(Succeed())
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{"1-31-1": meshv1alpha1.RevisionActive}))
		}, installTimeout, poll).Should(Succeed())
	})
})
