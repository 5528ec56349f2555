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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Only an enrolled namespace is moved to the canary revision. A canary namespace that does not exist (a
// typo) or that spec.injection does not enroll was left out without a word: the canary served nothing,
// and nothing said why.
var _ = Describe("Canary namespaces that are not enrolled", Ordered, func() {
	const (
		ns       = "cne-system"
		enrolled = "cne-shop"
		other    = "cne-other" // exists, and spec.injection does not select it
		typo     = "cne-shpo"  // does not exist
	)
	// warnings are the notes of the CanaryNamespacesNotEnrolled Events on the current ServiceMesh.
	warnings := func() []string {
		GinkgoHelper()
		uid := getMesh().UID
		var notes []string
		for _, e := range listEvents() {
			if e.Regarding.UID == uid && e.Reason == meshv1alpha1.ReasonCanaryNamespacesNotEnrolled {
				Expect(e.Type).To(Equal("Warning"))
				notes = append(notes, e.Note)
			}
		}
		return notes
	}
	// controlPlaneReady is ControlPlaneReady's message, once it is True.
	controlPlaneReady := func(g Gomega) string {
		c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "ControlPlaneReady: %+v", c)
		return c.Message
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(enrolled, nil, nil)
		createNamespace(other, nil, nil)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"  injection:\n    namespaces: [" + enrolled + "]\n")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		DeferCleanup(deleteMesh)
	})

	It("are named in ControlPlaneReady's message and in a Warning Event on each change", func() {
		patchSpec(`{"updateStrategy":{"canary":{"namespaces":["` + enrolled + `","` + other + `","` + typo + `"]}}}`)
		Eventually(func(g Gomega) {
			message := controlPlaneReady(g)
			g.Expect(message).To(ContainSubstring(other + " (not selected by spec.injection)"))
			g.Expect(message).To(ContainSubstring(typo + " (does not exist)"))
			g.Expect(message).NotTo(ContainSubstring(enrolled))
		}, installTimeout, poll).Should(Succeed())
		Eventually(warnings, installTimeout, poll).Should(HaveLen(1))
		Expect(warnings()[0]).To(And(ContainSubstring(other), ContainSubstring(typo)))
		Consistently(warnings, 3*time.Second, poll).Should(HaveLen(1), "the same namespaces were reported again")

		By("creating the misspelt namespace and enrolling it: only the one not selected is left")
		createNamespace(typo, nil, nil)
		patchSpec(`{"injection":{"namespaces":["` + enrolled + `","` + typo + `"]}}`)
		Eventually(func(g Gomega) {
			message := controlPlaneReady(g)
			g.Expect(message).To(ContainSubstring(other + " (not selected by spec.injection)"))
			g.Expect(message).NotTo(ContainSubstring(typo))
		}, installTimeout, poll).Should(Succeed())
		Eventually(warnings, installTimeout, poll).Should(HaveLen(2))
		Expect(warnings()).To(ContainElement(And(ContainSubstring(other), Not(ContainSubstring(typo)))))

		By("enrolling the last one: nothing more is said")
		patchSpec(`{"injection":{"namespaces":["` + enrolled + `","` + typo + `","` + other + `"]}}`)
		Eventually(func(g Gomega) {
			g.Expect(controlPlaneReady(g)).NotTo(ContainSubstring("not enrolled"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(warnings, 3*time.Second, poll).Should(HaveLen(2))
	})
})
