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

var _ = Describe("A pod that claims a canary whose istiod was never available", Ordered, func() {
	const (
		ns   = "cf-system"
		shop = "cf-shop"
		dev  = "cf-dev"
	)
	var claim *corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createNamespace(dev, nil, nil)
		createMesh("  namespace: cf-system\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 1h\n  injection:\n    namespaces: [cf-shop]\n")
		DeferCleanup(func() {
			if claim != nil {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, claim))).To(Succeed())
			}
		})
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("keeps the canary namespace off the canary until its istiod is available", func() {
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		markAvailable(ns, "istiod-1-31-0")
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["cf-shop"]}}}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeTrue())

		// Whoever may create a pod in any namespace writes its annotations and containers: this one, in a
		// namespace outside the canary, says the canary's injector gave it its sidecar, which that
		// injector, never available, cannot have done. Moving the canary namespace onto that istiod on its
		// word would have its owner's new pods refused by a webhook without a backend.
		claim = createPod(dev, "claims-canary", "1-31-1", "docker.io/istio/proxyv2:1.31.1", nil)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Revisions).To(ContainElement(And(
				HaveField("Name", "1-31-1"), HaveField("State", meshv1alpha1.RevisionCanary), HaveField("Ready", false))))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() map[string]string { return namespaceLabels(shop) }, 3*time.Second, poll).
			ShouldNot(HaveKeyWithValue("istio.io/rev", "1-31-1"), "the canary namespace moved onto a canary that was never available")

		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() map[string]string { return namespaceLabels(shop) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio.io/rev", "1-31-1"))
		Expect(tagTargetIn(ns)).To(Equal("1-31-0"), "the canary must hold the tag back")
	})
})
