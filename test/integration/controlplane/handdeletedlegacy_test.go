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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Objects deleted by hand while an istiod runs beside the revisions: the istiod without a revision of a
// mesh switched from InPlace (still draining), or a revision still draining after a switch back to
// InPlace. meshkeeper must put back what was there: the default tag on the active revision, not the old
// istiod's own injector; the draining revision's Deployment, not a release left behind whose injector
// (failurePolicy Fail) has no istiod.
var _ = Describe("Hand-deleted objects beside the istiod without a revision", long, Ordered, func() {
	const (
		ns   = "hdl-system"
		shop = "hdl-shop"
		pin  = "hdl-pin"
	)
	tag := "istio-revision-tag-default-" + ns
	legacyInjector := "istio-sidecar-injector-" + ns

	injectorExists := func() bool {
		GinkgoHelper()
		err := k8sClient.Get(ctx, client.ObjectKey{Name: legacyInjector}, &admissionregistrationv1.MutatingWebhookConfiguration{})
		if apierrors.IsNotFound(err) {
			return false
		}
		Expect(err).NotTo(HaveOccurred())
		return true
	}
	// pinTo sets (or, with "", removes) pin's istio.io/rev label, as a user pins a namespace to a revision.
	pinTo := func(rev string) {
		GinkgoHelper()
		value := `null`
		if rev != "" {
			value = `"` + rev + `"`
		}
		Expect(k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: pin}},
			client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"istio.io/rev":`+value+`}}}`)))).To(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createNamespace(pin, nil, nil)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n")
		DeferCleanup(deleteMesh)
		Eventually(func() []int { return releaseRevisions(ns, "istiod") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod")
		// A pod the istiod without a revision injected: it keeps that istiod draining once the tag takes
		// over. meshkeeper counts pods and namespace labels cluster-wide: both go with the specs.
		legacyPod := createPod(shop, "legacy-app", "default", "docker.io/istio/proxyv2:1.31.0", nil)
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, legacyPod))).To(Succeed()) })
		DeferCleanup(func() { pinTo("") })
	})

	It("puts the default tag back on the active revision, not on the draining istiod without a revision", func() {
		patchSpec(`{"updateStrategy":{"type":"RevisionBased","inactiveRevisionDeletionGracePeriod":"3s"}}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
			g.Expect(injectorExists()).To(BeFalse())
			g.Expect(getMesh().Status.ActiveRevision).To(Equal("1-31-0"))
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-0": meshv1alpha1.RevisionActive, "default": meshv1alpha1.RevisionDraining}))
		}, installTimeout, poll).Should(Succeed())
		// An upgrade whose new revision is installed and never becomes available.
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(revisionStates, installTimeout, poll).Should(Equal(map[string]meshv1alpha1.RevisionState{
			"1-31-1": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive, "default": meshv1alpha1.RevisionDraining}))

		Expect(k8sClient.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: tag}})).To(Succeed())
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"),
			"the deleted default tag was not put back on the active revision")
		Consistently(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
			g.Expect(injectorExists()).To(BeFalse(), "the injector of the draining istiod without a revision came back")
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-1": meshv1alpha1.RevisionCanary, "1-31-0": meshv1alpha1.RevisionActive, "default": meshv1alpha1.RevisionDraining}))
			g.Expect(getMesh().Status.ActiveRevision).To(Equal("1-31-0"))
		}, 4*time.Second, poll).Should(Succeed(), "the mesh fell back to the istiod without a revision")
	})

	It("brings back the Deployment of a revision draining after the switch back to InPlace, and removes it once unused", func() {
		// A namespace its team pinned to the revision keeps it after the switch back.
		pinTo("1-31-0")
		patchSpec(`{"version":"1.31.0","updateStrategy":{"type":"InPlace"}}`)
		Eventually(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(BeEmpty())
			g.Expect(injectorExists()).To(BeTrue())
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"default": meshv1alpha1.RevisionActive, "1-31-0": meshv1alpha1.RevisionDraining}))
			g.Expect(releaseRevisions(ns, "istiod-1-31-1")).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed())

		Expect(k8sClient.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-1-31-0"}})).To(Succeed())
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue(),
			"the deleted istiod Deployment of the draining revision was not brought back")
		Consistently(func(g Gomega) {
			g.Expect(deploymentExists(ns, "istiod-1-31-0")).To(BeTrue())
			g.Expect(releaseRevisions(ns, "istiod-1-31-0")).NotTo(BeEmpty())
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"default": meshv1alpha1.RevisionActive, "1-31-0": meshv1alpha1.RevisionDraining}))
			g.Expect(tagTargetIn(ns)).To(BeEmpty())
		}, 4*time.Second, poll).Should(Succeed(), "a revision the pinned namespace uses was dropped")

		By("removing it once nothing uses it, as any draining revision")
		pinTo("")
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeFalse())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(BeEmpty())
			g.Expect(getMesh().Status.ActiveRevision).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed())
		Expect(injectorExists()).To(BeTrue())
		Expect(eventReasons()).To(ContainElement(meshv1alpha1.ReasonRevisionPruned))
	})
})
