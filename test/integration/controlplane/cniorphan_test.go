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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A ServiceMesh deleted with orphan propagation says which releases it left running. Its CNI agent's
// runs where status.cni.namespace says, which a status lost whole no longer says until a CNI phase finds
// the agent again (none runs while the control plane fails), and spec.cni.namespace may name another
// namespace meanwhile: the agent's DaemonSet tells where it runs.
var _ = Describe("A ServiceMesh deleted with orphan propagation whose status no longer names its CNI agent", func() {
	const ns, agentNs = "cniorphan-system", "kube-system"
	spec := "  namespace: " + ns + "\n  version: 1.31.0\n  cni:\n    enabled: true\n    namespace: " + agentNs + "\n"

	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("names the agent's release among those it left running", func() {
		createMesh(spec)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(agentNs))
			g.Expect(releaseStatus(agentNs, "istio-cni", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())

		By("a version the charts do not have, and the agent asked for in spec.namespace: the control plane fails before the CNI phase")
		patchSpec(`{"version": "1.30.2", "cni": {"namespace": null}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound), c.Message)
		}, installTimeout, poll).Should(Succeed())
		By("losing the status")
		loseStatus()
		mesh := getMesh()
		Expect(mesh.Status.CNI).To(BeNil())
		// The envtest tier runs no garbage collector to remove the orphan finalizer.
		DeferCleanup(func() {
			live := &meshv1alpha1.ServiceMesh{}
			if k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), live) == nil && live.UID == mesh.UID {
				Expect(k8sClient.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
			}
		})
		Expect(k8sClient.Delete(ctx, mesh, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		var notes []string
		Eventually(func(g Gomega) {
			notes = nil
			for _, e := range listEvents() {
				if e.Regarding.UID == mesh.UID && e.Reason == "Orphaned" {
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).NotTo(BeEmpty())
		}, installTimeout, poll).Should(Succeed())
		Expect(notes).To(ConsistOf(And(ContainSubstring(ns+"/istiod"), ContainSubstring(agentNs+"/istio-cni"),
			ContainSubstring("helm uninstall -n "+agentNs+" istio-cni"))), "the agent's release is left out")
		Expect(releaseRevisions(agentNs, "istio-cni")).To(Equal([]int{1}), "the agent's release record was deleted")

		By("letting the ServiceMesh go, as the garbage collector does, and creating it again, which takes the agent over and uninstalls it")
		Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
		deleteMesh()
		createMesh(spec)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
			g.Expect(getMesh().Status.CNI.Namespace).To(Equal(agentNs))
		}, installTimeout, poll).Should(Succeed())
		deleteMesh()
		Expect(releaseRevisions(agentNs, "istio-cni")).To(BeEmpty())
	})
})
