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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("Proxies during a canary", Ordered, func() {
	const ns = "cp-system"

	BeforeAll(func() {
		// Other tests count the pods of these revisions cluster-wide: each deletion is a cleanup of its
		// own, which runs after the AfterAll even when the uninstall or the other one failed.
		DeferCleanup(deletePodsOf, "1-31-0")
		DeferCleanup(deletePodsOf, "1-31-1")
		deleteMesh()
		createNamespace("cp-canary", nil, nil)
		createNamespace("cp-stable", nil, nil)
		createMesh("  namespace: cp-system\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"  injection:\n    namespaces: [cp-canary, cp-stable]\n")
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-0")
		Eventually(revisionStates, installTimeout, poll).Should(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionActive))
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("judges a pod of a namespace the canary does not serve against its own revision's mesh config", func() {
		createPod("cp-stable", "app", "1-31-0", "docker.io/istio/proxyv2:1.31.0", nil)
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		// The canary revision's mesh config is written after the pod was created.
		time.Sleep(1100 * time.Millisecond)
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["cp-canary"]}}}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() map[string]string { return namespaceLabels("cp-canary") }, installTimeout, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"))
		Consistently(func(g Gomega) {
			g.Expect(getMesh().Status.Proxies.Outdated).To(BeZero())
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, 3*time.Second, poll).Should(Succeed(), "the pod of cp-stable runs the active revision with its current mesh config")
	})

	It("judges each pod against the revision serving its namespace while the control-plane phase of a new spec fails", func() {
		createPod("cp-canary", "app", "1-31-1", "docker.io/istio/proxyv2:1.31.1", nil)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Proxies.Current).To(BeEquivalentTo(2))
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"version":"1.35.0"}`) // too far from the running versions: refused before anything is installed
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonUpgradeNotSupported))
		// A pod created now wakes a status pass, which judges the proxies again.
		createPod("cp-stable", "later", "1-31-0", "docker.io/istio/proxyv2:1.31.0", nil)
		Eventually(func() int32 { return getMesh().Status.Proxies.Total }, installTimeout, poll).Should(BeEquivalentTo(3))
		Consistently(func(g Gomega) {
			proxies := getMesh().Status.Proxies
			g.Expect(proxies.Outdated).To(BeZero(), "a pod was judged against a revision that does not serve its namespace")
			g.Expect(proxies.Current).To(BeEquivalentTo(3))
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, 3*time.Second, poll).Should(Succeed())
		patchSpec(`{"version":"1.31.1"}`)
	})
})
