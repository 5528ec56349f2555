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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A Gateway API Gateway gets its pods from the istiod of its revision (the chart's kube-gateway
// template): they run istio-proxy, are labelled sidecar.istio.io/inject=false and carry the revision in
// their istio.io/rev annotation, but no sidecar.istio.io/status, since nothing injects them. Counted by
// that annotation alone, a revision serving only gateways was pruned under them, and they lost their
// configuration and certificate renewal.
var _ = Describe("Gateway pods of a revision", Ordered, func() {
	const (
		ns       = "gwp-system"
		gateways = "gwp-gateways"
	)
	var gateway *corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace(gateways, nil, nil)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 0s\n")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		// As istiod-1-31-0 deploys it for a Gateway labelled istio.io/rev=1-31-0.
		gateway = &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: gateways, Name: "web-istio-0",
				Labels: map[string]string{"sidecar.istio.io/inject": "false", "gateway.istio.io/managed": "istio.io-gateway-controller",
					"gateway.networking.k8s.io/gateway-name": "web", "service.istio.io/canonical-name": "web-istio"},
				Annotations: map[string]string{"istio.io/rev": "1-31-0", "prometheus.io/scrape": "true"}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.0",
				Args: []string{"proxy", "router"}}}},
		}
		Expect(k8sClient.Create(ctx, gateway)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, gateway))).To(Succeed()) })
	})
	AfterAll(func() {
		deleteMesh()
	})

	It("keep the revision that deployed them after the tag moves, and it goes once they are gone", func() {
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))
		Eventually(func() []meshv1alpha1.RevisionStatus { return getMesh().Status.Revisions }, installTimeout, poll).Should(ContainElement(
			meshv1alpha1.RevisionStatus{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true, Proxies: 1}))
		Consistently(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, 3*time.Second, poll).Should(Equal([]int{1}),
			"the revision serving a gateway's pod was removed")

		Expect(k8sClient.Delete(ctx, gateway)).To(Succeed())
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
	})
})
