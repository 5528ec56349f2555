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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// The install of a new revision that fails part way leaves its release (a failed record) and what it
// applied before the failure, but no istiod Deployment. Once spec.version moves back, nothing uses that
// revision: it is removed after the grace period like any unused revision, with its Event, even while
// what made its install fail is still there. It was left for good: only an istiod Deployment, or the
// status's list, made a revision known, and the status never lists a revision whose install failed.
var _ = Describe("A revision whose install failed", Ordered, func() {
	const (
		ns     = "fr-system"
		failed = "istiod-1-31-1"
	)
	// An admission policy of the cluster's refuses the new revision's istiod Deployment.
	vap, binding := denial{
		name:       "no-istiod-1-31-1-in-fr-system",
		operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		rule:       admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"*"}, Resources: []string{"deployments"}},
		expression: "object.metadata.name != '" + failed + "'",
		message:    "no istiod 1.31.1 in fr-system",
		namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}.objects()
	meshConfig := client.ObjectKey{Namespace: ns, Name: "istio-1-31-1"}

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 2s\n")
		DeferCleanup(deleteMesh)
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
	})

	It("is removed once the spec moves away from it", func() {
		labels := map[string]string{"app": "probe"}
		probe := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: failed},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "probe"}}}}}}
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error { return k8sClient.Create(ctx, probe.DeepCopy(), client.DryRunAll) })

		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(c.Message).To(ContainSubstring("no istiod 1.31.1 in fr-system"))
			g.Expect(releaseStatus(ns, failed, 1)).To(BeEquivalentTo("failed"))
		}, installTimeout, poll).Should(Succeed())
		Expect(k8sClient.Get(ctx, meshConfig, &corev1.ConfigMap{})).To(Succeed(), "the failed install applied no mesh config")
		Expect(deploymentExists(ns, failed)).To(BeFalse())

		By("moving spec.version back while the policy still refuses the revision's istiod")
		patchSpec(`{"version":"1.31.0"}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, failed)).To(BeEmpty(), "the failed revision's release is still installed")
			g.Expect(apierrors.IsNotFound(k8sClient.Get(ctx, meshConfig, &corev1.ConfigMap{}))).To(BeTrue(),
				"what the failed install applied is still there")
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Revisions).To(Equal([]meshv1alpha1.RevisionStatus{
				{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true}}))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		uid := getMesh().UID
		var notes []string
		for _, e := range listEvents() {
			if e.Regarding.UID == uid && e.Reason == meshv1alpha1.ReasonRevisionPruned {
				notes = append(notes, e.Note)
			}
		}
		Expect(notes).To(ConsistOf(HavePrefix("Removed revision 1-31-1 (Istio 1.31.1)")))
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
	})

	// Finding such a revision takes the namespace's release records, which are not cached, and so does
	// each release's state. Every event the mesh watches wakes a reconcile; once the mesh has settled, no
	// record changes, and none reads them around the cache again: neither all the namespace's records,
	// nor one release's, until helm.RecordsRecheck has passed since their last list (records changed by
	// someone else alone are seen then). When that was is not the spec's to choose, so they may be listed
	// once per recheck that can have ended while the spec wakes the mesh; it wakes it more often than that.
	It("reads the namespace's release records no more once the mesh has settled", func() {
		path := "/api/v1/namespaces/" + ns + "/secrets"
		reconciles := func() float64 {
			GinkgoHelper()
			n, err := metricSum(`controller_runtime_reconcile_total{`, `controller="servicemesh"`)
			Expect(err).NotTo(HaveOccurred())
			return n
		}
		wake := func(name string) {
			GinkgoHelper()
			before := reconciles()
			pod := createPod(ns, name, "", "", nil)
			DeferCleanup(func() {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
			})
			Eventually(reconciles, installTimeout, poll).Should(BeNumerically(">", before))
		}
		// rechecked bounds how many times the records may be listed since start: once, once more
		// for each recheck that may have ended since, and once more for the time a list takes (the recheck
		// counts from before one list to the next).
		rechecked := func(start time.Time) int {
			return 2 + int(time.Since(start)/helm.RecordsRecheck)
		}
		// The removal before deleted records: the reconcile after it reads them once more.
		wake("settle")
		start := time.Now()
		lists, releaseLists, passes := managerRecordLists.Of(path), managerReleaseLists.Of(path), reconciles()
		// Ten wakes outnumber the lists of a recheck unless each takes most of a minute.
		for i := 0; i < 3 || i < 10 && reconciles()-passes <= float64(rechecked(start)); i++ {
			wake(fmt.Sprintf("wake-%d", i))
		}
		allowed := rechecked(start)
		Expect(managerRecordLists.Of(path)-lists).To(BeNumerically("<=", allowed),
			"the release records were listed around the cache in %v reconciles", reconciles()-passes)
		Expect(managerReleaseLists.Of(path)).NotTo(BeEmpty(), "the chart manager listed no release's records in %s", ns)
		for release, n := range managerReleaseLists.Of(path) {
			Expect(n-releaseLists[release]).To(BeNumerically("<=", allowed),
				"the records of release %s were listed around the cache in %v reconciles", release, reconciles()-passes)
		}
	})
})
