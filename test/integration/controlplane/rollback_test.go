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
	"maps"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// createInjectedPod creates a pod of the ReplicaSet whose sidecar revision (of Istio version) injected,
// as the webhook of that revision would have.
func createInjectedPod(namespace, name, revision, version string, rs *appsv1.ReplicaSet) {
	GinkgoHelper()
	// The pod is one of the Deployment's current pod template, whose annotations it carries (meshkeeper's
	// restarted-at among them), as the ReplicaSet controller creates it.
	annotations := map[string]string{}
	if owner := metav1.GetControllerOf(rs); owner != nil && owner.Kind == "Deployment" {
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: owner.Name}, d)).To(Succeed())
		maps.Copy(annotations, d.Spec.Template.Annotations)
	}
	annotations["sidecar.istio.io/status"] = fmt.Sprintf(`{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":%q}`, revision)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			OwnerReferences: []metav1.OwnerReference{controllerRef("ReplicaSet", rs.Name, rs.UID)},
			Annotations:     annotations},
		Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: "app", Image: "registry.example.com/app:1.0"},
			{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:" + version},
		}},
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
}

// workloadEvents returns the messages of a Deployment's Events of a reason.
func workloadEvents(namespace, name, reason string) []string {
	GinkgoHelper()
	var out []string
	for _, e := range listEvents() {
		if e.Regarding.Kind == "Deployment" && e.Regarding.Namespace == namespace && e.Regarding.Name == name && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

// injectionLabel returns the injection label a namespace carries: istio.io/rev=<revision>, or
// istio-injection=<value> (the default tag's), or "" when it has none.
func injectionLabel(namespace string) string {
	GinkgoHelper()
	labels := namespaceLabels(namespace)
	rev, hasRev := labels["istio.io/rev"]
	injection, hasInjection := labels["istio-injection"]
	switch {
	case hasRev && hasInjection:
		return "both"
	case hasRev:
		return "istio.io/rev=" + rev
	case hasInjection:
		return "istio-injection=" + injection
	}
	return ""
}

var _ = Describe("Rolling a canary back when a restart onto it fails", long, Ordered, func() {
	const (
		ns     = "rb-system"
		canary = "rb-shop"
		other  = "rb-pay"
	)
	var (
		rs           *appsv1.ReplicaSet
		firstRestart string
		rollbackAt   string
		cartRestart  string
	)

	BeforeAll(func() {
		// Other tests count the pods of these revisions cluster-wide: each deletion is a cleanup of its
		// own, which runs after the AfterAll even when the uninstall or the other one failed.
		DeferCleanup(deletePodsOf, "1-31-0")
		DeferCleanup(deletePodsOf, "1-31-1")
		deleteMesh()
		createNamespace(canary, nil, nil)
		createNamespace(other, nil, nil)

		createMesh("  namespace: rb-system\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 1h\n  injection:\n    namespaces: [rb-shop, rb-pay]\n" +
			"  dataPlane:\n    restarts:\n      mode: Automatic\n")
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-0")
		// Workloads injected by the revision since its mesh config was written: current.
		rs = createDeployment(canary, "app", nil)
		createInjectedPod(canary, "app-old", "1-31-0", "1.31.0", rs)
		otherRS := createDeployment(other, "web", nil)
		createInjectedPod(other, "web-old", "1-31-0", "1.31.0", otherRS)
		// Restarted by meshkeeper a month ago, and rolling out now for its owner's own reasons: never
		// restarted onto the canary, it is not meshkeeper's to touch when the canary is rolled back.
		cartRS := createDeployment(canary, "cart", nil)
		createInjectedPod(canary, "cart-old", "1-31-0", "1.31.0", cartRS)
		cartRestart = time.Now().Add(-30 * 24 * time.Hour).UTC().Format(time.RFC3339)
		annotate := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": "cart", "namespace": canary},
			"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
				"annotations": map[string]any{meshv1alpha1.RestartedAtAnnotation: cartRestart}}}}}}
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(annotate), client.FieldOwner(restart.FieldManager))).To(Succeed())
		markProgressing(canary, "cart")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(ConsistOf(And(
				HaveField("Name", "1-31-0"), HaveField("State", meshv1alpha1.RevisionActive), HaveField("Ready", true))))
			g.Expect(injectionLabel(canary)).To(Equal("istio-injection=enabled"))
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, installTimeout, poll).Should(Succeed())
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("restarts the canary namespace's workload onto the canary revision, and no other", func() {
		Consistently(func() []string { return restarted(canary, "app") }, time.Second, poll).Should(BeEmpty(), "its pod is current")
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["rb-shop"]}}}`)
		Eventually(revisionStates, installTimeout, poll).Should(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionCanary))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return injectionLabel(canary) }, installTimeout, poll).Should(Equal("istio.io/rev=1-31-1"))
		Eventually(func() string { return restartedAt(canary, "app") }, installTimeout, poll).ShouldNot(BeEmpty())
		firstRestart = restartedAt(canary, "app")
		// The Deployment controller's new pod, injected by the canary revision, never becomes ready.
		createInjectedPod(canary, "app-canary", "1-31-1", "1.31.1", rs)
		markProgressing(canary, "app")
		Expect(restartedAt(other, "web")).To(BeEmpty(), "a namespace that is not a canary stays on the active revision")
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
	})

	It("sends the canary namespace back to the active revision, says why, and restarts the workload onto it", func() {
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.CanaryRollback).NotTo(BeNil())
			g.Expect(mesh.Status.CanaryRollback.Revision).To(Equal("1-31-1"))
			g.Expect(mesh.Status.CanaryRollback.Workload).To(Equal("Deployment rb-shop/app"))
			g.Expect(mesh.Status.CanaryRollback.ObservedGeneration).To(Equal(mesh.Generation))
			c := conditionIn(mesh, meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonCanaryRolledBack))
			g.Expect(c.Message).To(And(ContainSubstring("Deployment rb-shop/app"), ContainSubstring("canary revision 1-31-1"),
				ContainSubstring("active revision 1-31-0"), ContainSubstring("change the spec")))
		}, installTimeout, poll).Should(Succeed())
		rollbackAt = getMesh().Status.CanaryRollback.Time.UTC().Format(time.RFC3339)
		Expect(meshEvents(meshv1alpha1.ReasonRestartStalled)).NotTo(ContainElement(ContainSubstring("rb-shop/app")),
			"the rollback resolves the stall")

		Eventually(func() string { return injectionLabel(canary) }, installTimeout, poll).Should(Equal("istio-injection=enabled"))
		Eventually(func() string { return restartedAt(canary, "app") }, installTimeout, poll).ShouldNot(Equal(firstRestart),
			"the workload that failed is restarted again, onto the active revision")
		Expect(restartedAt(canary, "app") >= rollbackAt).To(BeTrue(), "restarted again after the rollback")

		Expect(meshEvents(meshv1alpha1.ReasonCanaryRolledBack)).To(ContainElement(ContainSubstring("Deployment rb-shop/app")))
		Expect(workloadEvents(canary, "app", meshv1alpha1.ReasonCanaryRolledBack)).NotTo(BeEmpty())
		Eventually(func() ([]string, error) {
			return missingMetrics(`meshkeeper_restarts_total{result="rolled_back"} `)
		}, installTimeout, poll).Should(BeEmpty())

		By("rolling nothing else back: the tag stays, the canary revision stays installed as Canary")
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
		Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
			"1-31-1": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive}))
		Expect(deploymentExists(ns, "istiod-1-31-1")).To(BeTrue())
		Expect(restartedAt(other, "web")).To(BeEmpty())
	})

	It("keeps the canary rolled back from the status alone, and converges onto the active revision", func() {
		mesh := getMesh()
		// What a restarted manager reads: the status, and nothing remembered.
		fresh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: mesh.Generation}, Spec: mesh.Spec, Status: mesh.Status}
		Expect(meshctx.CanaryTarget(fresh)).To(Equal("1-31-1"))
		Expect(meshctx.CanaryRevision(fresh)).To(BeEmpty())
		enrollment, err := meshctx.Enrollment(fresh)
		Expect(err).NotTo(HaveOccurred())
		key, value := enrollment.LabelFor(canary)
		Expect(key + "=" + value).To(Equal("istio-injection=enabled"))

		// The Deployment controller and kubelet roll the workload out onto the active revision.
		second := restartedAt(canary, "app")
		for _, pod := range []string{"app-old", "app-canary"} {
			Expect(k8sClient.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: canary, Name: pod}},
				client.GracePeriodSeconds(0))).To(Succeed())
		}
		createInjectedPod(canary, "app-new", "1-31-0", "1.31.0", rs)
		markAvailable(canary, "app")
		Eventually(func() int32 { return getMesh().Status.Proxies.Outdated }, installTimeout, poll).Should(BeZero())
		// Every pod runs the active revision now, but not the version the spec asks for in the canary
		// namespace: the upgrade did not go through, whatever else is in place, until the spec changes.
		markCNIReady()
		Eventually(func(g Gomega) {
			ready, stalled := conditionOf(meshv1alpha1.ConditionReady), conditionOf(meshv1alpha1.ConditionStalled)
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonCanaryRolledBack))
			g.Expect(ready.Message).To(ContainSubstring("Deployment rb-shop/app"))
			g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(stalled.Reason).To(Equal(meshv1alpha1.ReasonCanaryRolledBack))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(injectionLabel(canary)).To(Equal("istio-injection=enabled"))
			g.Expect(restartedAt(canary, "app")).To(Equal(second))
			g.Expect(restartedAt(canary, "cart")).To(Equal(cartRestart), "a workload never restarted onto the canary was restarted in its own rollout")
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonCanaryRolledBack))
			g.Expect(getMesh().Status.CanaryRollback).NotTo(BeNil())
		}, 3*time.Second, poll).Should(Succeed())
	})

	It("ends the rollback when spec.version changes", func() {
		second := restartedAt(canary, "app")
		patchSpec(`{"version":"1.31.0"}`)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CanaryRollback).To(BeNil())
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Reason).NotTo(Equal(meshv1alpha1.ReasonCanaryRolledBack))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(injectionLabel(canary)).To(Equal("istio-injection=enabled"))
			g.Expect(restartedAt(canary, "app")).To(Equal(second), "the namespace never went to the canary revision on the way")
		}, 2*time.Second, poll).Should(Succeed())
	})

	It("with rollbackOnFailure false, stops the restarts on a stall and leaves the canary in place", func() {
		second := restartedAt(canary, "app")
		patchSpec(`{"version":"1.31.1","dataPlane":{"restarts":{"rollbackOnFailure":false}}}`)
		Eventually(func() string { return injectionLabel(canary) }, installTimeout, poll).Should(Equal("istio.io/rev=1-31-1"))
		Eventually(func() string { return restartedAt(canary, "app") }, installTimeout, poll).ShouldNot(Equal(second))
		third := restartedAt(canary, "app")
		createInjectedPod(canary, "app-canary-2", "1-31-1", "1.31.1", rs)
		markProgressing(canary, "app")
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRestartStalled))
			g.Expect(c.Message).To(ContainSubstring("Deployment rb-shop/app"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(injectionLabel(canary)).To(Equal("istio.io/rev=1-31-1"))
			g.Expect(restartedAt(canary, "app")).To(Equal(third), "a stall starts no further restart")
			g.Expect(getMesh().Status.CanaryRollback).To(BeNil())
		}, 3*time.Second, poll).Should(Succeed())
		Expect(strings.Count(strings.Join(meshEvents(meshv1alpha1.ReasonCanaryRolledBack), "\n"), "rb-shop/app")).To(Equal(1),
			"only the first stall rolled the canary back")
	})
})

// conditionIn returns the condition of a type of the ServiceMesh, or an empty one.
func conditionIn(mesh *meshv1alpha1.ServiceMesh, conditionType string) metav1.Condition {
	for _, c := range mesh.Status.Conditions {
		if c.Type == conditionType {
			return c
		}
	}
	return metav1.Condition{}
}
