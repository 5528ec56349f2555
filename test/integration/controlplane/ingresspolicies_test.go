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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A broad namespaceSelector enrolls the ingress-nginx controller's own namespace. With Sidecar scoping on,
// the namespace-wide Sidecar there applies to the controller's sidecar too: scoped to its own namespace and
// the control plane, it would know none of the backends of the mesh Ingresses, and send to them in plain
// text (ALLOW_ANY), which STRICT refuses, or not at all (REGISTRY_ONLY).
var _ = Describe("Sidecar scoping of the ingress-nginx controller's namespace", Ordered, func() {
	const (
		controllerNS = "ingpol-nginx"
		movedNS      = "ingpol-edge"
		shopNS       = "ingpol-shop"
	)
	everywhere := []any{"*/*"}
	scoped := []any{"./*", "ingpol-system/*", "monitoring/*"}
	expectPoliciesApplied := func() {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "PoliciesApplied: %s: %s", c.Reason, c.Message)
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionPoliciesApplied).Status },
			2*time.Second, poll).Should(Equal(metav1.ConditionTrue), "PoliciesApplied flipped: the status pass wants another Sidecar than the one written")
	}

	BeforeAll(func() {
		deleteMesh()
		for _, ns := range []string{controllerNS, movedNS, shopNS} {
			createNamespace(ns, map[string]string{"ingpol": "in"}, nil)
		}
		createPlainController(controllerNS, nil)
		createMesh("  namespace: ingpol-system\n  injection:\n    namespaceSelector:\n      matchLabels:\n        ingpol: in\n" +
			"  mtls:\n    mode: STRICT\n  sidecarScoping:\n    enabled: true\n    egressHosts: [monitoring/*]\n" +
			"    outboundTrafficPolicy: REGISTRY_ONLY\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: ingpol-nginx, name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
		DeferCleanup(deleteMesh)
		// The Istio CRDs come with the control plane.
		Eventually(func() error {
			u := &unstructured.UnstructuredList{}
			u.SetGroupVersionKind(sidecarKind.GroupVersion().WithKind("SidecarList"))
			return k8sClient.List(ctx, u)
		}, installTimeout, poll).Should(Succeed())
	})

	It("lets the controller's sidecar reach every namespace, and scopes the others", func() {
		Eventually(func(g Gomega) {
			g.Expect(namespaceLabels(controllerNS)).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(sidecarHosts(controllerNS)).To(Equal(everywhere), "the controller's sidecar would know no backend of another namespace")
			g.Expect(specOf(sidecarKind, controllerNS)).To(HaveKeyWithValue("outboundTrafficPolicy", map[string]any{"mode": "REGISTRY_ONLY"}))
			g.Expect(sidecarHosts(shopNS)).To(Equal(scoped))
			g.Expect(sidecarHosts(movedNS)).To(Equal(scoped))
		}, installTimeout, poll).Should(Succeed())
		Expect(policyObject(sidecarKind, controllerNS).GetLabels()).To(HaveKeyWithValue(meshv1alpha1.ManagedByLabel, meshv1alpha1.ManagedByValue))
		expectPoliciesApplied()
	})

	It("follows the controller to another namespace", func() {
		patchSpec(`{"ingressNginx": {"controller": {"namespace": "` + movedNS + `"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(sidecarHosts(movedNS)).To(Equal(everywhere))
			g.Expect(sidecarHosts(controllerNS)).To(Equal(scoped))
			g.Expect(sidecarHosts(shopNS)).To(Equal(scoped))
		}, installTimeout, poll).Should(Succeed())
		expectPoliciesApplied()
		patchSpec(`{"ingressNginx": {"controller": {"namespace": "` + controllerNS + `"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(sidecarHosts(controllerNS)).To(Equal(everywhere))
			g.Expect(sidecarHosts(movedNS)).To(Equal(scoped))
		}, installTimeout, poll).Should(Succeed())
		expectPoliciesApplied()
	})

	It("scopes the namespace again once the integration is off", func() {
		before := policyObject(sidecarKind, controllerNS)
		patchSpec(`{"ingressNginx": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			g.Expect(sidecarHosts(controllerNS)).To(Equal(scoped))
			g.Expect(specOf(sidecarKind, controllerNS)).To(HaveKeyWithValue("outboundTrafficPolicy", map[string]any{"mode": "REGISTRY_ONLY"}))
		}, installTimeout, poll).Should(Succeed())
		Expect(policyObject(sidecarKind, controllerNS).GetUID()).To(Equal(before.GetUID()), "meshkeeper's own Sidecar is changed in place")
		Expect(sidecarHosts(shopNS)).To(Equal(scoped))
		expectPoliciesApplied()
	})
})
