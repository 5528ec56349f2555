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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A canary that ends leaves its namespaces labelled istio.io/rev=<canary> by meshkeeper until the
// namespace controller moves them, after the status says the canary is over; its revision, unused by any
// pod, was removed in the same pass when its grace period was zero, and at once after it whenever the
// move was refused: the namespace's new pods then matched no injector and started without a sidecar.
var _ = Describe("A canary revision a namespace still names", Ordered, func() {
	const (
		ns       = "clh-system"
		canaryNs = "clh-canary"
	)
	// An admission policy of the cluster's refuses every change of the canary namespace.
	vap, binding := denial{
		name:          "frozen-clh-canary",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"*"}, Resources: []string{"namespaces"}},
		resourceNames: []string{canaryNs},
		expression:    "false",
		message:       "namespace clh-canary is frozen",
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createNamespace(canaryNs, nil, nil)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 0s\n  injection:\n    namespaces: [" + canaryNs + "]\n")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
	})
	AfterAll(func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vap))).To(Succeed())
		deleteMesh()
	})

	It("is kept until the namespace is moved off it, whatever the grace period", func() {
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["` + canaryNs + `"]}}}`)
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() map[string]string { return namespaceLabels(canaryNs) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"))

		By("rolling the canary back while the namespace cannot be moved off it")
		enforce(vap, binding, updateDryRun(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: canaryNs}}))
		patchSpec(`{"version":"1.31.0","updateStrategy":{"canary":null}}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(revisionStates()).To(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionDraining))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, 3*time.Second, poll).Should(Equal([]int{1}),
			"the revision a namespace still names was removed")
		Expect(namespaceLabels(canaryNs)).To(HaveKeyWithValue("istio.io/rev", "1-31-1"))

		By("lifting the policy: the namespace moves to the tag, and then the revision goes")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func(g Gomega) {
			labels := namespaceLabels(canaryNs)
			g.Expect(labels).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(labels).NotTo(HaveKey("istio.io/rev"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeEmpty())
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))
	})
})
