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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
)

var _ = Describe("A policy change the API server refuses", Ordered, func() {
	const ns = "refuse-shop"
	// An admission policy of the cluster's refuses STRICT PeerAuthentications in ns: the policy
	// controller's apply of the changed spec fails for as long as it is in force.
	vap, binding := denial{
		name:       "no-strict-in-refuse-shop",
		operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
		rule: admissionregistrationv1.Rule{APIGroups: []string{"security.istio.io"}, APIVersions: []string{"*"},
			Resources: []string{"peerauthentications"}},
		expression: "!has(object.spec.mtls) || !has(object.spec.mtls.mode) || object.spec.mtls.mode != 'STRICT'",
		message:    "STRICT is not allowed in refuse-shop",
		namespaces: &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}},
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createNamespace(ns, nil, nil)
		createMesh("  namespace: refuse-system\n  mtls:\n    namespaces: {" + ns + ": PERMISSIVE}\n")
		// The Istio CRDs come with the control plane.
		Eventually(func() error {
			u := &unstructured.UnstructuredList{}
			u.SetGroupVersionKind(peerAuthenticationKind.GroupVersion().WithKind("PeerAuthenticationList"))
			return k8sClient.List(ctx, u)
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, ns)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}))
			g.Expect(conditionOf(meshv1alpha1.ConditionPoliciesApplied).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})
	AfterAll(func() {
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vap))).To(Succeed())
		deleteMesh()
	})

	It("reports the policy as not written while the API server refuses it, and as applied once written", func() {
		Expect(k8sClient.Create(ctx, vap)).To(Succeed())
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		// The admission policy is in force once it refuses a STRICT PeerAuthentication of the test's own.
		Eventually(func() error {
			probe := &unstructured.Unstructured{Object: map[string]any{
				"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication",
				"metadata": map[string]any{"name": "probe", "namespace": ns},
				"spec":     map[string]any{"mtls": map[string]any{"mode": "STRICT"}},
			}}
			return k8sClient.Create(ctx, probe, client.DryRunAll)
		}, installTimeout, poll).Should(MatchError(ContainSubstring("STRICT is not allowed in refuse-shop")))

		patchSpec(`{"mtls": {"namespaces": {"` + ns + `": "STRICT"}}}`)
		notWritten := func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "PoliciesApplied: %s: %s", c.Reason, c.Message)
			g.Expect(c.Message).To(ContainSubstring("PeerAuthentication " + ns + "/default"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
			g.Expect(specOf(peerAuthenticationKind, ns)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}))
		}
		Eventually(notWritten, installTimeout, poll).Should(Succeed())
		Consistently(notWritten, 2*time.Second, poll).Should(Succeed())
		Eventually(func() []string { return warningsAbout("ServiceMesh", meshv1alpha1.ServiceMeshName) }, installTimeout, poll).
			Should(ContainElement(policy.ReasonApplyFailed))

		By("lifting the admission policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, ns)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "PoliciesApplied: %s: %s", c.Reason, c.Message)
		}, installTimeout, poll).Should(Succeed())
	})
})
