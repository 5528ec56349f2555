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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// warningsRecorded counts the Warnings of reason recorded about the object of that kind, namespace and
// name: an Event the recorder repeats within its series counts as often as its series says.
func warningsRecorded(kind, namespace, name, reason string) int32 {
	GinkgoHelper()
	var n int32
	for _, e := range listEvents() {
		if e.Type != corev1.EventTypeWarning || e.Reason != reason || e.Regarding.Kind != kind ||
			e.Regarding.Namespace != namespace || e.Regarding.Name != name {
			continue
		}
		if e.Series != nil {
			n += e.Series.Count
		} else {
			n++
		}
	}
	return n
}

// awaitPolicyKinds waits until the API server serves the policy kinds, which come with istio-base.
func awaitPolicyKinds() {
	GinkgoHelper()
	Eventually(func() error {
		u := &unstructured.UnstructuredList{}
		u.SetGroupVersionKind(sidecarKind.GroupVersion().WithKind("SidecarList"))
		return k8sClient.List(ctx, u)
	}, installTimeout, poll).Should(Succeed())
}

// The mTLS policies do not depend on which namespaces are enrolled: a namespaceSelector the API server
// accepts but that is no valid label selector stops enrollment (NamespacesEnrolled=False, InvalidSpec),
// and must not stop a platform engineer's change of spec.mtls, such as STRICT back to PERMISSIVE while
// clients are being cut off. Which namespaces are scoped is unknown meanwhile, so their Sidecars stay.
var _ = Describe("mTLS while the namespaceSelector is invalid", Ordered, func() {
	const system, shop, legacy = "atm-system", "atm-shop", "atm-legacy"

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shop, nil, nil)
		createNamespace(legacy, nil, nil)
		createMesh("  namespace: " + system + "\n  injection:\n    namespaces: [" + shop + "]\n" +
			"  mtls:\n    mode: STRICT\n  sidecarScoping:\n    enabled: true\n")
		DeferCleanup(deleteMesh)
		awaitPolicyKinds()
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, system)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			g.Expect(policyObject(sidecarKind, shop)).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
	})

	It("applies a change of spec.mtls and leaves the Sidecars as they are", func() {
		patchSpec(`{"injection": {"namespaceSelector": {"matchExpressions": [{"key": "team", "operator": "In", "values": []}]}}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionNamespacesEnrolled)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInvalidSpec), c.Message)
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"mtls": {"mode": "PERMISSIVE", "namespaces": {"` + legacy + `": "PERMISSIVE"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, system)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}),
				"the mesh-wide PeerAuthentication keeps the mode of before")
			g.Expect(specOf(peerAuthenticationKind, legacy)).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}),
				"the override of a namespace added to spec.mtls.namespaces is not written")
		}, 20*time.Second, poll).Should(Succeed())
		Consistently(func() any { return policyObject(sidecarKind, shop) }, 2*time.Second, poll).ShouldNot(BeNil())
	})
})

// A team's own Sidecar "default" is reported with a Warning whenever meshkeeper would write its own
// there: also when the namespace leaves the mesh and joins it again, so that the team, whose Events
// expire after an hour, is told again what to change.
var _ = Describe("A team's own Sidecar when its namespace rejoins the mesh", Ordered, func() {
	const system, team = "atr-system", "atr-team"

	BeforeAll(func() {
		deleteMesh()
		createNamespace(team, nil, nil)
		createMesh("  namespace: " + system + "\n  sidecarScoping:\n    enabled: true\n")
		DeferCleanup(deleteMesh)
		awaitPolicyKinds()
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, system)).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		createUserPolicy(sidecarKind, team, map[string]any{"egress": []any{map[string]any{"hosts": []any{"*/*"}}}})
	})

	It("warns again each time the namespace joins", func() {
		patchSpec(`{"injection": {"namespaces": ["` + team + `"]}}`)
		Eventually(func() int32 { return warningsRecorded("Sidecar", team, "default", meshv1alpha1.ReasonPolicyConflict) },
			installTimeout, poll).Should(BeNumerically("==", 1))

		patchSpec(`{"injection": {"namespaces": null}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		}, installTimeout, poll).Should(Succeed())

		patchSpec(`{"injection": {"namespaces": ["` + team + `"]}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPolicyConflict), c.Message)
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() int32 { return warningsRecorded("Sidecar", team, "default", meshv1alpha1.ReasonPolicyConflict) },
			10*time.Second, poll).Should(BeNumerically("==", 2), "no Warning tells the team again about its Sidecar")
	})
})
