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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// tagTarget is the revision the default tag's webhook points at ("" when there is no tag).
func tagTarget() string {
	GinkgoHelper()
	return tagTargetIn("rv-system")
}

// tagTargetIn is tagTarget for the control plane in namespace.
func tagTargetIn(namespace string) string {
	GinkgoHelper()
	tag := &admissionregistrationv1.MutatingWebhookConfiguration{}
	err := k8sClient.Get(ctx, client.ObjectKey{Name: "istio-revision-tag-default-" + namespace}, tag)
	if apierrors.IsNotFound(err) {
		return ""
	}
	Expect(err).NotTo(HaveOccurred())
	for _, w := range tag.Webhooks {
		Expect(w.ClientConfig.Service).NotTo(BeNil())
		Expect(w.ClientConfig.Service.Name).To(Equal("istiod-"+tag.Labels["istio.io/rev"]), "webhook %s", w.Name)
	}
	return tag.Labels["istio.io/rev"]
}

// revisionStates maps each revision in the status to its state.
func revisionStates() map[string]meshv1alpha1.RevisionState {
	GinkgoHelper()
	out := map[string]meshv1alpha1.RevisionState{}
	for _, r := range getMesh().Status.Revisions {
		out[r.Name] = r.State
	}
	return out
}

// podsOf counts the running pods whose sidecar the revision injected, in every namespace.
func podsOf(rev string) int32 {
	GinkgoHelper()
	pods := &corev1.PodList{}
	Expect(k8sClient.List(ctx, pods)).To(Succeed())
	n := int32(0)
	for _, p := range pods.Items {
		if strings.Contains(p.Annotations["sidecar.istio.io/status"], `"revision":"`+rev+`"`) && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

// deletePodsOf deletes every pod whose sidecar the revision injected.
func deletePodsOf(rev string) {
	GinkgoHelper()
	pods := &corev1.PodList{}
	Expect(k8sClient.List(ctx, pods)).To(Succeed())
	for i := range pods.Items {
		if strings.Contains(pods.Items[i].Annotations["sidecar.istio.io/status"], `"revision":"`+rev+`"`) {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &pods.Items[i]))).To(Succeed())
		}
	}
}

func deploymentExists(namespace, name string) bool {
	GinkgoHelper()
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &appsv1.Deployment{})
	if apierrors.IsNotFound(err) {
		return false
	}
	Expect(err).NotTo(HaveOccurred())
	return true
}

var _ = Describe("Canary upgrades with revisions", long, Ordered, func() {
	const (
		ns    = "rv-system"
		shop  = "rv-shop"
		grace = 4 * time.Second
	)
	var drainingPod *corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createMesh("  namespace: rv-system\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 4s\n  injection:\n    namespaces: [rv-shop]\n")
		// The first spec creates a pod of 1-31-0 that a later one deletes. Other tests count the pods of
		// 1-31-0 cluster-wide: when a spec in between fails, this cleanup, which runs after the
		// container's last spec, deletes it.
		DeferCleanup(func() {
			if drainingPod != nil {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, drainingPod))).To(Succeed())
			}
		})
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("installs spec.version as revision 1-31-0 from the built-in charts, with the default tag on it", func() {
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istiod-1-31-0")).To(Equal([]int{1}))
			g.Expect(tagTarget()).To(Equal("1-31-0"))
			g.Expect(getMesh().Status.ActiveRevision).To(Equal("1-31-0"))
		}, installTimeout, poll).Should(Succeed())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty(), "no istiod without a revision")
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod-1-31-0"}, d)).To(Succeed())
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal("docker.io/istio/pilot:1.31.0"))
		Expect(d.Labels).To(HaveKeyWithValue("istio.io/rev", "1-31-0"))
		By("keeping the namespaces' own label: the default tag serves istio-injection=enabled")
		Eventually(func() map[string]string { return namespaceLabels(shop) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))
		By("pointing the default validator at the revision")
		validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, validator)).To(Succeed())
		Expect(validator.Webhooks[0].ClientConfig.Service.Name).To(Equal("istiod-1-31-0"))

		markAvailable(ns, "istiod-1-31-0")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(Equal([]meshv1alpha1.RevisionStatus{
				{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true, Proxies: 0}}))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		drainingPod = createPod(shop, "old-app", "1-31-0", "docker.io/istio/proxyv2:1.31.0", nil)
	})

	It("installs 1.31.1 beside 1.31.0 and moves the tag only once the new istiod is available", func() {
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod-1-31-1")).To(Equal([]int{1}))
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-1": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive}))
		}, installTimeout, poll).Should(Succeed())
		Expect(deploymentExists(ns, "istiod-1-31-0")).To(BeTrue())
		Consistently(tagTarget, 3*time.Second, poll).Should(Equal("1-31-0"), "the tag moved to an istiod that is not available")
		Expect(agentImage(ns)).To(HaveSuffix(":1.31.0"), "the CNI agent follows the active revision, not the newest")

		markAvailable(ns, "istiod-1-31-1")
		Eventually(tagTarget, installTimeout, poll).Should(Equal("1-31-1"))
		Eventually(func() string { return agentImage(ns) }, installTimeout, poll).Should(HaveSuffix(":1.31.1"))
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ActiveRevision).To(Equal("1-31-1"))
			g.Expect(mesh.Status.Revisions).To(Equal([]meshv1alpha1.RevisionStatus{
				{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true, Proxies: 0},
				{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true, Proxies: 1},
			}))
			g.Expect(mesh.Status.Proxies.Outdated).To(BeEquivalentTo(1), "the pod of 1-31-0 is outdated")
		}, installTimeout, poll).Should(Succeed())
		Expect(eventReasons()).To(ContainElements(meshv1alpha1.ReasonTagMoved, meshv1alpha1.ReasonRevisionDraining))
		Eventually(func() ([]string, error) {
			return missingMetrics(`meshkeeper_revision_proxies{ready="true",revision="1-31-0",state="Draining",version="1.31.0"} 1`,
				`meshkeeper_revision_proxies{ready="true",revision="1-31-1",state="Active",version="1.31.1"} 0`)
		}, installTimeout, poll).Should(BeEmpty())

		By("upgrading only the releases that changed, once")
		Expect(releaseRevisions(ns, "istiod-1-31-0")).To(Equal([]int{1}))
		Expect(releaseRevisions(ns, "istiod-1-31-1")).To(Equal([]int{1}))
		Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1, 2}), "the default validator moved with the tag")
	})

	It("keeps each revision's mesh config record while the control-plane phase fails", func() {
		var recorded []meshv1alpha1.MeshConfigStatus
		Eventually(func(g Gomega) {
			recorded = getMesh().Status.MeshConfigs
			names := []string{}
			for _, config := range recorded {
				names = append(names, config.Name)
			}
			g.Expect(names).To(Equal([]string{"istio-1-31-0", "istio-1-31-1"}))
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"version":"1.30.2"}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionFalse))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() []meshv1alpha1.MeshConfigStatus { return getMesh().Status.MeshConfigs }, 2*time.Second, poll).
			Should(Equal(recorded), "a pass that does not know the installed revisions dropped their records")

		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(mesh.Status.MeshConfigs).To(Equal(recorded))
		}, installTimeout, poll).Should(Succeed())
	})

	It("keeps a revision some pod uses past the grace period, and writes nothing in steady state", func() {
		before := managedObjects()
		tagBefore := &admissionregistrationv1.MutatingWebhookConfiguration{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istio-revision-tag-default-rv-system"}, tagBefore)).To(Succeed())
		statusBefore := getMesh().ResourceVersion
		Consistently(func(g Gomega) {
			g.Expect(deploymentExists(ns, "istiod-1-31-0")).To(BeTrue())
			g.Expect(managedObjects()).To(Equal(before))
		}, 2*grace, 500*time.Millisecond).Should(Succeed())
		Expect(getMesh().ResourceVersion).To(Equal(statusBefore), "the ServiceMesh was written in steady state")
		Expect(revisionStates()).To(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionDraining))
	})

	It("rolls back at once while the old revision exists", func() {
		// At once: the tag moves to the running revision, which is neither installed again nor waited for.
		// A pod of 1-31-1 keeps it from being pruned while it drains.
		newPod := createPod(shop, "new-app", "1-31-1", "docker.io/istio/proxyv2:1.31.1", nil)
		defer func() { Expect(k8sClient.Delete(ctx, newPod)).To(Succeed()) }()
		// The base release's upgrade after the tag's move (the default validator follows the tag) is
		// refused by an admission policy of the cluster's: the phase fails with injection on 1-31-0.
		vap, binding := denial{
			name:       "frozen-default-validator",
			operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule: admissionregistrationv1.Rule{APIGroups: []string{"admissionregistration.k8s.io"}, APIVersions: []string{"*"},
				Resources: []string{"validatingwebhookconfigurations"}},
			resourceNames: []string{"istiod-default-validator"},
			expression:    "false",
			message:       "the default validator is frozen",
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, updateDryRun(&admissionregistrationv1.ValidatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "istiod-default-validator"}}))
		patchSpec(`{"version":"1.31.0"}`)
		Eventually(tagTarget, installTimeout, poll).Should(Equal("1-31-0"))
		By("reporting the revision the tag moved to while the phase fails after the move")
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Message).To(ContainSubstring("the default validator is frozen"))
			g.Expect(mesh.Status.ActiveRevision).To(Equal("1-31-0"))
			g.Expect(mesh.Status.Version).To(Equal("1.31.0"))
		}, installTimeout, poll).Should(Succeed())
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(revisionStates, installTimeout, poll).Should(Equal(map[string]meshv1alpha1.RevisionState{
			"1-31-1": meshv1alpha1.RevisionDraining, "1-31-0": meshv1alpha1.RevisionActive}))
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status },
			installTimeout, poll).Should(Equal(metav1.ConditionTrue))
		Expect(releaseRevisions(ns, "istiod-1-31-0")).To(Equal([]int{1}), "a rollback reinstalls nothing")
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(tagTarget, installTimeout, poll).Should(Equal("1-31-1"))
		Expect(releaseRevisions(ns, "istiod-1-31-1")).To(Equal([]int{1}), "a rollback and back reinstalls nothing")
	})

	It("keeps an unused revision while a revision tag someone else made points at it", func() {
		// As `istioctl tag set prod --revision 1-31-0` leaves it: namespaces labelled istio.io/rev=prod are
		// injected by istiod-1-31-0, and with no istiod behind it no pod of theirs could be created.
		failurePolicy, sideEffects := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone
		path := "/inject"
		prodTag := &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "istio-revision-tag-prod",
				Labels: map[string]string{"istio.io/tag": "prod", "istio.io/rev": "1-31-0"}},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "rev.namespace.sidecar-injector.istio.io",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{
					Service: &admissionregistrationv1.ServiceReference{Namespace: ns, Name: "istiod-1-31-0", Path: &path}},
				Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
					Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
				NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/rev": "prod"}},
				FailurePolicy:           &failurePolicy,
				SideEffects:             &sideEffects,
				AdmissionReviewVersions: []string{"v1"},
			}},
		}
		Expect(k8sClient.Create(ctx, prodTag)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, prodTag))).To(Succeed()) })
		Expect(k8sClient.Delete(ctx, drainingPod)).To(Succeed())
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonRevisionPruneBlocked))
		Consistently(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, 2*grace, poll).Should(Equal([]int{1}),
			"a revision a foreign tag points at was removed")
		Expect(deploymentExists(ns, "istiod-1-31-0")).To(BeTrue())
		Expect(revisionStates()).To(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionDraining))
		// Gone the tag, the revision goes too: nothing watches foreign webhooks, the blocked prune is looked
		// at again after the grace period.
		Expect(k8sClient.Delete(ctx, prodTag)).To(Succeed())
	})

	It("removes the old revision once its last pod is gone and the grace period passed", func() {
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeFalse())
		Eventually(func() []meshv1alpha1.RevisionStatus { return getMesh().Status.Revisions }, installTimeout, poll).Should(Equal(
			[]meshv1alpha1.RevisionStatus{{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true}}))
		Expect(eventReasons()).To(ContainElement(meshv1alpha1.ReasonRevisionPruned))
		Expect(tagTarget()).To(Equal("1-31-1"))
	})

	It("rolls back to a pruned revision by installing it again first", func() {
		patchSpec(`{"version":"1.31.0"}`)
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(Equal([]int{1}))
		Consistently(tagTarget, 2*time.Second, poll).Should(Equal("1-31-1"))
		markAvailable(ns, "istiod-1-31-0")
		Eventually(tagTarget, installTimeout, poll).Should(Equal("1-31-0"))
		By("the default validator follows the tag, with the base release's upgrade after it")
		Eventually(func(g Gomega) {
			validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, validator)).To(Succeed())
			g.Expect(validator.Webhooks[0].ClientConfig.Service.Name).To(Equal("istiod-1-31-0"))
		}, installTimeout, poll).Should(Succeed())
	})

	DescribeTable("refuses a version change Istio does not support, changing nothing",
		func(version, message string) {
			// The revision the rollback before left unused is pruned once its grace period ends; the
			// releases are compared from then on.
			Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeEmpty())
			releasesBefore := map[string][]int{}
			for _, release := range []string{"istio-base", "istiod-1-31-0", "istiod-1-31-1"} {
				releasesBefore[release] = releaseRevisions(ns, release)
			}
			patchSpec(`{"version":"` + version + `"}`)
			Eventually(func(g Gomega) {
				ready := conditionOf(meshv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUpgradeNotSupported))
				g.Expect(ready.Message).To(ContainSubstring(message))
			}, installTimeout, poll).Should(Succeed())
			for release, revisions := range releasesBefore {
				Expect(releaseRevisions(ns, release)).To(Equal(revisions), release)
			}
			Expect(tagTarget()).To(Equal("1-31-0"))
			patchSpec(`{"version":"1.31.0"}`)
			Eventually(func() string { return conditionOf(meshv1alpha1.ConditionReady).Reason }, installTimeout, poll).
				ShouldNot(Equal(meshv1alpha1.ReasonUpgradeNotSupported))
		},
		Entry("three minor versions up", "1.34.0", "upgrade through 1.33 first"),
		Entry("three minor versions down", "1.28.0", "set spec.version to 1.29.0 or newer"),
	)

	It("moves canary namespaces to the new revision first, keeps the tag, and moves them back when the canary is removed", func() {
		createNamespace("rv-pay", nil, nil)
		patchSpec(`{"injection":{"namespaces":["rv-shop","rv-pay"]}}`)
		Eventually(func() map[string]string { return namespaceLabels("rv-pay") }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))
		oldPod := createPod(shop, "old-canary-app", "1-31-0", "docker.io/istio/proxyv2:1.31.0", nil)
		defer func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, oldPod))).To(Succeed()) }()

		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["rv-shop"]}}}`)
		// 1-31-1 drained without pods since the rollback, so it may have been pruned and is installed
		// again: mark the istiod of this install available, not the one being removed.
		Eventually(revisionStates, installTimeout, poll).Should(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionCanary))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func(g Gomega) {
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-1": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive}))
			labels := namespaceLabels(shop)
			g.Expect(labels).To(HaveKeyWithValue("istio.io/rev", "1-31-1"))
			g.Expect(labels).NotTo(HaveKey("istio-injection"), "two injection labels would have two revisions match")
			g.Expect(namespaceLabels("rv-pay")).To(HaveKeyWithValue("istio-injection", "enabled"))
			mesh := getMesh()
			g.Expect(mesh.Status.Proxies.Outdated).To(BeEquivalentTo(1), "the canary namespace's pod of 1-31-0 is outdated")
			g.Expect(conditionOf(meshv1alpha1.ConditionNamespacesEnrolled).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		Consistently(tagTarget, 2*time.Second, poll).Should(Equal("1-31-0"), "the canary must hold the tag back")

		By("reporting the tagged revision's istiod, which serves every namespace outside the canary, when it goes down")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod-1-31-0"}, d); err != nil {
				return err
			}
			d.Status.AvailableReplicas = 0
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRollingOut))
			g.Expect(c.Message).To(ContainSubstring("Deployment rv-system/istiod-1-31-0"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}, installTimeout, poll).Should(Succeed())
		Expect(tagTarget()).To(Equal("1-31-0"), "the tag stays while the canary runs")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())

		By("keeping the canary namespace on the canary while its istiod rolls out, once pods run its proxies")
		canaryPod := createPod(shop, "canary-app", "1-31-1", "docker.io/istio/proxyv2:1.31.1", nil)
		defer func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, canaryPod))).To(Succeed()) }()
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(ContainElement(
				meshv1alpha1.RevisionStatus{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true, Proxies: 1}))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() error { // a rollout of the canary istiod: its new replica is not updated yet
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod-1-31-1"}, d); err != nil {
				return err
			}
			d.Status.UpdatedReplicas = 0
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(ContainElement(
				meshv1alpha1.RevisionStatus{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: false, Proxies: 1}))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() map[string]string { return namespaceLabels(shop) }, 3*time.Second, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"), "the canary namespace went back to the active revision during the canary's rollout")
		markAvailable(ns, "istiod-1-31-1")

		patchSpec(`{"updateStrategy":{"canary":null}}`)
		Eventually(tagTarget, installTimeout, poll).Should(Equal("1-31-1"))
		Eventually(func(g Gomega) {
			labels := namespaceLabels(shop)
			g.Expect(labels).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(labels).NotTo(HaveKey("istio.io/rev"))
			g.Expect(revisionStates()).To(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionActive))
		}, installTimeout, poll).Should(Succeed())
	})

	It("deletes every revision on uninstall", func() {
		deleteMesh()
		for _, release := range []string{"istiod-1-31-0", "istiod-1-31-1", "istio-base"} {
			Expect(releaseRevisions(ns, release)).To(BeEmpty(), release)
		}
		Expect(tagTarget()).To(BeEmpty())
		Expect(namespaceLabels(shop)).NotTo(HaveKey("istio-injection"))
	})
})

var _ = Describe("Switching a running mesh from InPlace to RevisionBased and back", long, Ordered, func() {
	const ns = "rs-system"
	legacyInjector := "istio-sidecar-injector-" + ns
	var pod *corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace("rs-shop", nil, nil)
		// A team's namespace enrolled by its own label, as Istio documents it: the default tag.
		createNamespace("rs-team", map[string]string{"istio.io/rev": "default"}, nil)
		createMesh("  namespace: rs-system\n  version: 1.31.0\n  injection:\n    namespaces: [rs-shop]\n")
		Eventually(func() []int { return releaseRevisions(ns, "istiod") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod")
		pod = createPod("rs-shop", "app", "default", "docker.io/istio/proxyv2:1.31.0", nil)
	})
	AfterAll(func() {
		deleteMesh()
	})

	injectorExists := func() bool {
		err := k8sClient.Get(ctx, client.ObjectKey{Name: legacyInjector}, &admissionregistrationv1.MutatingWebhookConfiguration{})
		if apierrors.IsNotFound(err) {
			return false
		}
		Expect(err).NotTo(HaveOccurred())
		return true
	}

	It("installs the revision beside the istiod without one, which keeps injecting until the revision is available", func() {
		patchSpec(`{"updateStrategy":{"type":"RevisionBased","inactiveRevisionDeletionGracePeriod":"3s"}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod-1-31-0")).To(Equal([]int{1}))
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-0": meshv1alpha1.RevisionCanary, "default": meshv1alpha1.RevisionActive}))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(BeEmpty())
			g.Expect(injectorExists()).To(BeTrue(), "the enrolled namespace must never be left without an injector")
		}, 2*time.Second, poll).Should(Succeed())
		Expect(namespaceLabels("rs-shop")).To(HaveKeyWithValue("istio-injection", "enabled"))
	})

	It("moves injection to the tag once the revision is available, and drains the istiod without a revision", func() {
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		Eventually(injectorExists, installTimeout, poll).Should(BeFalse(), "two injectors would match the namespace")
		Eventually(func(g Gomega) {
			// Pods of the suite's other meshes, injected by their revision "default", count too.
			g.Expect(getMesh().Status.Revisions).To(Equal([]meshv1alpha1.RevisionStatus{
				{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
				{Name: "default", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true, Proxies: podsOf("default")},
			}))
		}, installTimeout, poll).Should(Succeed())
		Expect(podsOf("default")).To(BeNumerically(">=", 1))
		Expect(istiodOrNil(ns)).NotTo(BeNil(), "its proxies still need it")
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}))
	})

	It("removes the istiod without a revision once its last pod is gone", func() {
		Expect(k8sClient.Delete(ctx, pod)).To(Succeed())
		// The suite's other meshes leave pods injected by their revision "default" behind.
		deletePodsOf("default")
		// rs-team's istio.io/rev=default names the default tag, which points at 1-31-0 now: it does
		// not keep the istiod without a revision.
		Eventually(func() []int { return releaseRevisions(ns, "istiod") }, installTimeout, poll).Should(BeEmpty(),
			"a namespace labelled istio.io/rev=default kept the istiod without a revision")
		Expect(k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "rs-team"}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"istio.io/rev":null}}}`)))).To(Succeed())
		Eventually(func() *appsv1.Deployment { return istiodOrNil(ns) }, installTimeout, poll).Should(BeNil())
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
		Eventually(revisionStates, installTimeout, poll).Should(Equal(map[string]meshv1alpha1.RevisionState{"1-31-0": meshv1alpha1.RevisionActive}))
	})

	It("switches back to InPlace: the istiod without a revision comes back, injects once available, and the revisions drain", func() {
		revPod := createPod("rs-shop", "rev-app", "1-31-0", "docker.io/istio/proxyv2:1.31.0", nil)
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, revPod))).To(Succeed()) })
		patchSpec(`{"updateStrategy":{"type":"InPlace"}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"default": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive}))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(Equal("1-31-0"), "the tag must stay until the istiod without a revision is available")
			g.Expect(injectorExists()).To(BeFalse(), "an injector whose istiod is not available would refuse pods")
		}, 2*time.Second, poll).Should(Succeed())

		markAvailable(ns, "istiod")
		Eventually(injectorExists, installTimeout, poll).Should(BeTrue())
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(BeEmpty())
		Eventually(revisionStates, installTimeout, poll).Should(Equal(map[string]meshv1alpha1.RevisionState{
			"default": meshv1alpha1.RevisionActive, "1-31-0": meshv1alpha1.RevisionDraining}))
		Expect(namespaceLabels("rs-shop")).To(HaveKeyWithValue("istio-injection", "enabled"))
		Expect(eventReasons()).To(ContainElement(meshv1alpha1.ReasonTagMoved))
		Consistently(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, 4*time.Second, poll).
			Should(BeTrue(), "a revision some pod uses is kept past the grace period")

		Expect(k8sClient.Delete(ctx, revPod)).To(Succeed())
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(BeEmpty())
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}),
			"installed without webhooks, then with them; the in-place path that follows upgrades nothing")
		Expect(injectorExists()).To(BeTrue())
	})
})

// agentImage is the image of the CNI agent's DaemonSet in namespace.
func agentImage(namespace string) string {
	GinkgoHelper()
	ds := &appsv1.DaemonSet{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istio-cni-node"}, ds)).To(Succeed())
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name == "install-cni" {
			return c.Image
		}
	}
	return ""
}
