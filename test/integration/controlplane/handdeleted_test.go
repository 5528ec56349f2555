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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Someone deletes the default revision tag or a revision's istiod Deployment by hand while an upgrade's
// new revision is installed but not ready: meshkeeper must put back what was there, not take the
// deletion for a first install and point the tag (which fails closed) at the revision that is not ready.
var _ = Describe("A revision's objects deleted by hand during an upgrade", Ordered, func() {
	const ns = "hd-system"
	tag := "istio-revision-tag-default-" + ns

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n")
		DeferCleanup(deleteMesh)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		// The new revision is installed and never becomes available.
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeTrue())
		Eventually(revisionStates, installTimeout, poll).Should(Equal(map[string]meshv1alpha1.RevisionState{
			"1-31-0": meshv1alpha1.RevisionActive, "1-31-1": meshv1alpha1.RevisionCanary}))
	})

	It("puts the default tag back on the revision it pointed at", func() {
		Expect(k8sClient.Delete(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: tag}})).To(Succeed())
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).ShouldNot(BeEmpty())
		Consistently(func() string { return tagTargetIn(ns) }, 2*time.Second, poll).Should(Equal("1-31-0"),
			"the tag came back on the revision that is not ready")
	})

	It("brings back the istiod Deployment of the active revision, which keeps the tag", func() {
		Expect(k8sClient.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istiod-1-31-0"}})).To(Succeed())
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue(),
			"the deleted istiod Deployment of the active revision was not brought back")
		Consistently(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(Equal("1-31-0"), "the tag left the revision whose Deployment was deleted for one that is not ready")
			g.Expect(revisionStates()).To(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionActive))
		}, 2*time.Second, poll).Should(Succeed())

		By("serving again once its istiod is available")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() []meshv1alpha1.RevisionStatus { return getMesh().Status.Revisions }, installTimeout, poll).Should(ContainElement(And(
			HaveField("Name", "1-31-0"), HaveField("State", meshv1alpha1.RevisionActive), HaveField("Ready", true))))
	})
})
