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

// The default tag moves to a revision that is ready before the base chart's upgrade, which points the
// default validator at it. When that upgrade fails, the tag has moved all the same, and injection with
// it: the TagMoved Event says so, although the reconcile ends in InstallFailed and the next one finds
// the tag where it is.
var _ = Describe("A default tag moved while the base chart's upgrade fails", Ordered, func() {
	const ns = "te-system"
	policy, binding := denial{
		name:       "te-freeze-base",
		operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"secrets"}},
		expression: `!object.metadata.name.startsWith('sh.helm.release.v1.istio-base.')`,
		message:    "the istio-base release is frozen",
		namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}.objects()
	// tagMoved counts the TagMoved Events on the current ServiceMesh.
	tagMoved := func() int {
		GinkgoHelper()
		uid := getMesh().UID
		n := 0
		for _, e := range listEvents() {
			if e.Regarding.UID == uid && e.Reason == meshv1alpha1.ReasonTagMoved && e.Action == "MoveTag" {
				n++
			}
		}
		return n
	}

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		markAvailable(ns, "istiod-1-31-0")
		DeferCleanup(deleteMesh)
	})

	It("records TagMoved when the tag moved and the base chart's upgrade then failed", func() {
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod-1-31-1")).To(Equal([]int{1}))
			g.Expect(revisionStates()).To(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionCanary))
		}, installTimeout, poll).Should(Succeed())
		moved := tagMoved()
		enforce(policy, binding, func() error {
			probe := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sh.helm.release.v1.istio-base.v99"}}
			return k8sClient.Create(ctx, probe, client.DryRunAll)
		})
		deleteAtCleanup(binding, policy)

		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(c.Message).To(ContainSubstring("istio-base"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(tagMoved, 10*time.Second, poll).Should(Equal(moved+1), "the tag moved to 1-31-1 without a TagMoved Event")
	})
})
