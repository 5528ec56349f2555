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
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("A second canary started while a canary serves its namespaces", Ordered, func() {
	const (
		ns   = "rr-system"
		shop = "rr-shop"
	)
	var canaryPod *corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createMesh("  namespace: rr-system\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 1h\n  injection:\n    namespaces: [rr-shop]\n")
		DeferCleanup(func() {
			if canaryPod != nil {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, canaryPod))).To(Succeed())
			}
		})
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("serves the canary namespace with the first canary, whose proxies it runs", func() {
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		markAvailable(ns, "istiod-1-31-0")
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["rr-shop"]}}}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() map[string]string { return namespaceLabels(shop) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"))
		canaryPod = createPod(shop, "canary-app", "1-31-1", "docker.io/istio/proxyv2:1.31.1", nil)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(ContainElement(
				meshv1alpha1.RevisionStatus{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true, Proxies: 1}))
		}, installTimeout, poll).Should(Succeed())
	})

	It("keeps the canary namespace on the first canary until the second one is available, then moves it there", func() {
		// A newer canary (a patch release that came out during the canary) is not available yet: sending
		// the canary namespace back to the active revision meanwhile would inject its new pods with the
		// older Istio it already left, and with automatic restarts roll its workloads back and then
		// forward again.
		patchSpec(`{"version":"1.31.2"}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-2") }, installTimeout, poll).Should(BeTrue())
		Consistently(func() map[string]string { return namespaceLabels(shop) }, 3*time.Second, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"), "the canary namespace went back to the active revision")
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"))

		markAvailable(ns, "istiod-1-31-2")
		Eventually(func() map[string]string { return namespaceLabels(shop) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-2"))
		Eventually(func(g Gomega) {
			g.Expect(revisionStates()).To(Equal(map[string]meshv1alpha1.RevisionState{
				"1-31-2": meshv1alpha1.RevisionCanary, "1-31-1": meshv1alpha1.RevisionDraining, "1-31-0": meshv1alpha1.RevisionActive}))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() string { return tagTargetIn(ns) }, 2*time.Second, poll).Should(Equal("1-31-0"), "the canary must hold the tag back")
	})
})
