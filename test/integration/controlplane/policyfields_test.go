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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A field someone adds to meshkeeper's Sidecar with kubectl edit (a workloadSelector, which narrows the
// Sidecar to the pods it selects and leaves the rest of the namespace unscoped) stays: meshkeeper's
// server-side apply cannot remove a field another manager set. The status says so, with the field, and
// the mesh is not Ready, however the status pass and the policy controller's reconciles interleave.
var _ = Describe("A field added to meshkeeper's Sidecar", Ordered, func() {
	const ns = "pf-shop"
	sidecar := func() *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(sidecarKind)
		u.SetNamespace(ns)
		u.SetName("default")
		return u
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(ns, nil, nil)
		createMesh("  namespace: pf-system\n  injection:\n    namespaces: [" + ns + "]\n  sidecarScoping:\n    enabled: true\n")
		DeferCleanup(deleteMesh)
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionPoliciesApplied).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})

	It("is named in PoliciesApplied, and holds Ready back", func() {
		Expect(k8sClient.Patch(ctx, sidecar(), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"workloadSelector":{"labels":{"app":"checkout"}}}}`)), client.FieldOwner("kubectl-edit"))).To(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPolicyConflict), c.Message)
			g.Expect(c.Message).To(ContainSubstring("Sidecar " + ns + "/default (spec.workloadSelector)"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}, installTimeout, poll).Should(Succeed())
		Expect(specOf(sidecarKind, ns)).To(HaveKey("workloadSelector"), "meshkeeper removed someone else's field")
	})

	It("is in place again once the field is removed", func() {
		Expect(k8sClient.Patch(ctx, sidecar(), client.RawPatch(types.MergePatchType,
			[]byte(`{"spec":{"workloadSelector":null}}`)), client.FieldOwner("kubectl-edit"))).To(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
		}, installTimeout, poll).Should(Succeed())
	})
})
