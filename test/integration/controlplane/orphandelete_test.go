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
	"maps"
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// kubectl delete --cascade=orphan, and Argo CD's PrunePropagationPolicy=orphan, ask to keep what the
// ServiceMesh owns: the API server adds the orphan finalizer, and the garbage collector takes the owner
// references off the dependents. meshkeeper's uninstall used to race it, delete what was still owned,
// delete every release record, say Uninstalled, and leave the rest running with nothing that knew of
// it. The envtest tier runs no garbage collector, so the orphan finalizer stays for meshkeeper to see.
var _ = Describe("A ServiceMesh deleted with orphan propagation", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("leaves the control plane running with its release records, says so, lets the ServiceMesh go, and is taken over by a new one", func() {
		const ns = "orphan-system"
		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
			// A record exists from the start of its install (pending-install): the objects are all there
			// only once it is deployed.
			g.Expect(releaseStatus(ns, "istiod", 1)).To(Equal(rcommon.StatusDeployed))
			g.Expect(releaseStatus(ns, "istio-base", 1)).To(Equal(rcommon.StatusDeployed))
		}, installTimeout, poll).Should(Succeed())
		installed := slices.Sorted(maps.Keys(managedObjects()))

		mesh := getMesh()
		// The envtest tier runs no garbage collector to remove the orphan finalizer: the ServiceMesh would
		// stay, and hold every spec after this one.
		DeferCleanup(func() {
			live := &meshv1alpha1.ServiceMesh{}
			if k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), live) == nil && live.UID == mesh.UID {
				Expect(k8sClient.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
			}
		})
		Expect(k8sClient.Delete(ctx, mesh, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
			g.Expect(mesh.Finalizers).To(Equal([]string{metav1.FinalizerOrphanDependents}), "meshkeeper's finalizer is not released")
		}, installTimeout, poll).Should(Succeed())

		var notes, reasons []string
		for _, e := range listEvents() {
			if e.Regarding.UID != mesh.UID {
				continue
			}
			reasons = append(reasons, e.Reason)
			if e.Reason == "Orphaned" {
				Expect(e.Type).To(Equal(corev1.EventTypeWarning))
				notes = append(notes, e.Note)
			}
		}
		Expect(notes).To(ConsistOf(And(ContainSubstring(ns+"/istiod"), ContainSubstring(ns+"/istio-base"),
			ContainSubstring("helm uninstall -n "+ns+" istio-base "))))
		Expect(reasons).NotTo(ContainElement("Uninstalled"), "the deletion reported an uninstall that did not happen")
		Expect(istiodOrNil(ns)).NotTo(BeNil(), "istiod was uninstalled")
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}), "istiod's release record was deleted")
		Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}), "istio-base's release record was deleted")
		Expect(slices.Sorted(maps.Keys(managedObjects()))).To(Equal(installed), "objects of the control plane were deleted")

		By("letting the ServiceMesh go, as the garbage collector does, and creating it again")
		Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
		deleteMesh()
		createMesh("  namespace: " + ns + "\n")
		again := getMesh()
		Eventually(func(g Gomega) {
			d := istiodOrNil(ns)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.OwnerReferences).To(ContainElement(HaveField("UID", again.UID)), "the new ServiceMesh did not take istiod over")
		}, installTimeout, poll).Should(Succeed())
		deleteMesh()
		Expect(istiodOrNil(ns)).To(BeNil())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())
	})
})
