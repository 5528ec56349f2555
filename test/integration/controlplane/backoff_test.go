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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// churnPods creates and deletes a pod in namespace every interval for d: each change wakes the
// ServiceMesh, as pods rolling in a busy cluster do.
func churnPods(namespace string, d, interval time.Duration) {
	GinkgoHelper()
	deadline := time.Now().Add(d)
	for i := 0; time.Now().Before(deadline); i++ {
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("churn-%d", i), Namespace: namespace},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "app"}}}}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		time.Sleep(interval)
		Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
	}
}

var _ = Describe("A failing control plane under churn", long, func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("does not fetch the repository again on every wake-up while the version does not exist", func() {
		const ns, churn = "repo-backoff", "churn-missing"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: churn}})).To(Succeed())
		createMesh(meshSpec(ns, "1.29.9", helmRepo.URL()))
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonChartNotFound))
		before := helmRepo.Requests()

		// Waking on every pod change (every 2 s, the batching of data-plane changes) would ask about six
		// times in 12 s; the missing version is looked at again only after the longest backoff.
		churnPods(churn, 12*time.Second, 500*time.Millisecond)
		Expect(helmRepo.Requests()-before).To(BeNumerically("<=", 1),
			"the repository was asked again while the missing version's backoff ran (pods woke the mesh every 2 s)")
		Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason).To(Equal(meshv1alpha1.ReasonChartNotFound))

		By("trying at once when the spec changes")
		patchSpec(fmt.Sprintf("{\"version\": %q}", repoVersion))
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("retries a failed first install with backoff, not on every wake-up", func() {
		const ns, churn = "quota-system", "churn-quota"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: churn}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		By("a quota that denies the Services istiod's chart renders")
		quota := &corev1.ResourceQuota{ObjectMeta: metav1.ObjectMeta{Name: "no-services", Namespace: ns},
			Spec: corev1.ResourceQuotaSpec{Hard: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}}}
		Expect(k8sClient.Create(ctx, quota)).To(Succeed())
		// What kube-controller-manager's quota controller would record (envtest runs none); the API
		// server's ResourceQuota admission denies against it.
		quota.Status = corev1.ResourceQuotaStatus{Hard: quota.Spec.Hard,
			Used: corev1.ResourceList{corev1.ResourceServices: resource.MustParse("0")}}
		Expect(k8sClient.Status().Update(ctx, quota)).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonInstallFailed))

		By("counting the release records the install attempts write while pods churn for 12 s")
		attempts := map[types.UID]bool{}
		done := make(chan struct{})
		go func() {
			defer GinkgoRecover()
			defer close(done)
			churnPods(churn, 12*time.Second, 500*time.Millisecond)
		}()
		for open := true; open; {
			select {
			case <-done:
				open = false
			case <-time.After(200 * time.Millisecond):
				secrets := &corev1.SecretList{}
				Expect(k8sClient.List(ctx, secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm", "name": "istiod"})).To(Succeed())
				for _, s := range secrets.Items {
					attempts[s.UID] = true
				}
			}
		}
		// The failed attempt, then backoff 5 s and 10 s: at most three attempts by the window's end (four
		// with a slow reconcile); waking on every pod change (every 2 s) makes six or more.
		Expect(len(attempts)).To(BeNumerically("<=", 4), "istiod's first install was attempted %d times in 12 s", len(attempts))
		Expect(len(attempts)).To(BeNumerically(">=", 1))

		By("installing once the quota is gone, over the failed attempts, as helm upgrade --install does")
		Expect(k8sClient.Delete(ctx, quota)).To(Succeed())
		Eventually(func(g Gomega) {
			revisions := releaseRevisions(ns, "istiod")
			g.Expect(revisions).NotTo(BeEmpty())
			g.Expect(releaseStatus(ns, "istiod", revisions[len(revisions)-1])).To(BeEquivalentTo("deployed"))
		}, 3*installTimeout, poll).Should(Succeed())
		Expect(len(releaseRevisions(ns, "istiod"))).To(BeNumerically("<=", 3), "the failed attempts' records are pruned to Helm's history")
	})
})
