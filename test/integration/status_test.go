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

package integration

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("ServiceMesh status", func() {
	AfterEach(deleteMesh)

	getMesh := func() *meshv1alpha1.ServiceMesh {
		GinkgoHelper()
		mesh := &meshv1alpha1.ServiceMesh{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		return mesh
	}

	It("reports honestly, follows the generation, and then writes nothing", func() {
		Expect(k8sClient.Create(ctx, parse(meshYAML("  injection:\n    namespaces: [shop]\n")))).To(Succeed())

		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			ready := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonNotImplemented))
			g.Expect(ready.Message).To(ContainSubstring("does not install the Istio control plane yet"))
			g.Expect(meta.IsStatusConditionFalse(mesh.Status.Conditions, meshv1alpha1.ConditionControlPlaneReady)).To(BeTrue())
		}, 20*time.Second, 100*time.Millisecond).Should(Succeed())

		By("following a spec change")
		Expect(patchSpec(`{"mtls": {"mode": "STRICT"}}`)).To(Succeed())
		Expect(getMesh().Generation).To(BeEquivalentTo(2))
		Eventually(func() int64 { return getMesh().Status.ObservedGeneration }, 20*time.Second, 100*time.Millisecond).
			Should(BeEquivalentTo(2))
		ready := meta.FindStatusCondition(getMesh().Status.Conditions, meshv1alpha1.ConditionReady)
		Expect(ready.ObservedGeneration).To(BeEquivalentTo(2))

		By("writing nothing at steady state")
		settled := getMesh().ResourceVersion
		Consistently(func() string { return getMesh().ResourceVersion }, 3*time.Second, 200*time.Millisecond).
			Should(Equal(settled))

		By("owning nothing but its status, so GitOps tools never see a diff in the spec")
		var meshkeeperEntries int
		for _, entry := range getMesh().ManagedFields {
			if entry.Manager != meshv1alpha1.FieldManager {
				continue
			}
			meshkeeperEntries++
			Expect(entry.Operation).To(Equal(metav1.ManagedFieldsOperationApply))
			Expect(entry.Subresource).To(Equal("status"), "meshkeeper must write only the status subresource")
		}
		Expect(meshkeeperEntries).To(Equal(1))
	})
})
