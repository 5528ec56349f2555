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
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// annotateRestarted writes the restarted-at annotation into a Deployment's pod template as meshkeeper
// writes it (an apply of its restarts' field manager), at a time of the test's choosing.
func annotateRestarted(namespace, name string, at time.Time) {
	GinkgoHelper()
	u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{meshv1alpha1.RestartedAtAnnotation: at.UTC().Format(time.RFC3339)}}}}}}
	Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(restart.FieldManager),
		client.ForceOwnership)).To(Succeed())
}

// recordedStalls returns status.proxies.stalledRestarts as "<workload> <restartedAt>".
func recordedStalls() []string {
	GinkgoHelper()
	var out []string
	for _, s := range getMesh().Status.Proxies.StalledRestarts {
		out = append(out, s.Workload+" "+s.RestartedAt.UTC().Format(time.RFC3339))
	}
	return out
}

// recordStall writes status.proxies.stalledRestarts as a manager before a restart of meshkeeper would
// have left it, unless the status records it already.
func recordStall(g Gomega, stall meshv1alpha1.StalledRestart) {
	mesh := getMesh()
	if s := mesh.Status.Proxies.StalledRestarts; len(s) == 1 && s[0].Workload == stall.Workload && s[0].RestartedAt.Equal(&stall.RestartedAt) {
		return
	}
	mesh.Status.Proxies.StalledRestarts = []meshv1alpha1.StalledRestart{stall}
	// Applied as meshkeeper's status pass applies the status, under its field manager: its next apply
	// without the entry removes it.
	_, err := apply.Status(ctx, k8sClient, meshv1alpha1.GroupVersion.WithKind("ServiceMesh"), mesh, &mesh.Status)
	g.Expect(err).NotTo(HaveOccurred())
}

// A stalled restart holds back every further restart until the workload rolls out, also after the
// manager restarts or another replica takes over: that process's memory of the restarts it followed is
// empty, and a restart older than twice its deadline cannot be told from its owner's own change by its
// annotation alone. The status records the stall (status.proxies.stalledRestarts); the suite's manager,
// which never saw these workloads restarted, is such a fresh process for them.
var _ = Describe("Stalled restarts recorded in the status", Ordered, func() {
	const ns = "stall-shop"
	// stalledAt is a restart of stuck 50 seconds before its creation as the API server stamped it (a
	// manager's clock may run up to a minute ahead; a workload created later than that is another of the
	// name, whose stall the status does not record): beyond twice the Deployments' deadline (4s).
	var (
		stalledAt time.Time
		stall     meshv1alpha1.StalledRestart
		recorded  []string
	)

	closeWindow := func() {
		GinkgoHelper()
		from := time.Now().UTC().Add(time.Hour)
		patchSpec(fmt.Sprintf(`{"dataPlane": {"restarts": {"mode": "Automatic", "window": {"start": %q, "end": %q}}}}`,
			from.Format("15:04"), from.Add(time.Hour).Format("15:04")))
	}

	BeforeAll(func() {
		deleteMesh()
		DeferCleanup(deleteMesh)
		createNamespace(ns, nil, nil)
		// stuck: meshkeeper restarted it 25 minutes ago, and its new pod never became ready.
		createWorkload(ns, "stuck", nil)
		stuck := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "stuck"}, stuck)).To(Succeed())
		stalledAt = stuck.CreationTimestamp.UTC().Add(-50 * time.Second)
		stall = meshv1alpha1.StalledRestart{Workload: "Deployment " + ns + "/stuck", RestartedAt: metav1.NewTime(stalledAt)}
		recorded = []string{"Deployment " + ns + "/stuck " + stalledAt.Format(time.RFC3339)}
		annotateRestarted(ns, "stuck", stalledAt)
		markProgressing(ns, "stuck")
		// other: its pod needs a restart for its sidecar.
		createWorkload(ns, "other", nil)

		createMesh("  namespace: stall-system\n  version: 1.31.1\n  injection:\n    namespaces: [" + ns + "]\n")
		closeWindow() // nothing is restarted before the test sets the status up
		Eventually(func() bool { return istiodOrNil("stall-system") != nil }, installTimeout, poll).Should(BeTrue())
		markAvailable("stall-system", "istiod")
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status },
			installTimeout, poll).Should(Equal(metav1.ConditionTrue))
		Eventually(func() int32 { return getMesh().Status.Proxies.WithoutSidecar }, installTimeout, poll).Should(BeEquivalentTo(2))
	})

	It("starts no restart while the recorded stall has not rolled out, however old it is", func() {
		Eventually(func(g Gomega) {
			recordStall(g, stall)
			g.Expect(recordedStalls()).To(Equal(recorded))
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRestartStalled), c.Message)
		}, 20*time.Second, poll).Should(Succeed(), "the restarts took the recorded stall for a restart of no one's")

		patchSpec(`{"dataPlane": {"restarts": {"window": null}}}`)
		Consistently(func(g Gomega) {
			g.Expect(restartedAt(ns, "other")).To(BeEmpty(), "a restart started while a recorded stall holds")
			g.Expect(recordedStalls()).To(Equal(recorded), "the record of the stall was dropped")
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRestartStalled))
			g.Expect(c.Message).To(ContainSubstring("Deployment " + ns + "/stuck restarted at " + stalledAt.Format(time.RFC3339)))
		}, 4*time.Second, poll).Should(Succeed())
	})

	It("restarts again, and drops the record, once the stalled workload rolled out", func() {
		rollOut(ns, "stuck")
		Eventually(func() string { return restartedAt(ns, "other") }, installTimeout, poll).ShouldNot(BeEmpty())
		// other rolls out within its deadline (4s), so that it stalls in its turn only if something is wrong.
		markProgressing(ns, "other")
		rollOut(ns, "other")
		Eventually(recordedStalls, installTimeout, poll).Should(BeEmpty())
	})

	It("ignores a recorded stall whose restart the workload no longer carries", func() {
		closeWindow()
		// stuck is restarted again (by its owner, or a manager since) and again does not roll out; the
		// status still records its earlier restart.
		annotateRestarted(ns, "stuck", stalledAt.Add(20*time.Second))
		markProgressing(ns, "stuck")
		createWorkload(ns, "next", nil)
		Eventually(func() int32 { return getMesh().Status.Proxies.WithoutSidecar }, installTimeout, poll).Should(BeEquivalentTo(1))
		Eventually(func(g Gomega) { recordStall(g, stall) }, 20*time.Second, poll).Should(Succeed())

		patchSpec(`{"dataPlane": {"restarts": {"window": null}}}`)
		Eventually(func() string { return restartedAt(ns, "next") }, installTimeout, poll).ShouldNot(BeEmpty(),
			"a recorded stall of a restart the workload no longer carries held back the restarts")
		markProgressing(ns, "next")
		rollOut(ns, "next")
		Eventually(func(g Gomega) {
			g.Expect(recordedStalls()).To(BeEmpty())
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).NotTo(Equal(meshv1alpha1.ReasonRestartStalled))
		}, installTimeout, poll).Should(Succeed())
	})
})
