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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("A default tag made with istioctl by another installation", Ordered, func() {
	const ns = "rf-system"
	name := "istio-revision-tag-default-" + ns

	BeforeAll(func() {
		deleteMesh()
		// As `istioctl tag set default` writes it: without meshkeeper's label, so the manager's cache
		// does not hold it.
		foreignTagMesh(ns, map[string]string{"istio.io/tag": "default", "istio.io/rev": "other"})
	})

	It("is reported as Stalled, with the generation observed, since only its removal resolves it", func() {
		// Retrying cannot remove another installation's webhook: kstatus readers (Argo CD, Flux, helm
		// --wait) must see a mesh that needs a person, not one still working towards its spec.
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), c.Message)
			g.Expect(c.Message).To(ContainSubstring(name + " exists and is not meshkeeper's"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			stalled := conditionOf(meshv1alpha1.ConditionStalled)
			g.Expect(stalled.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(stalled.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed))
			g.Expect(conditionOf(meshv1alpha1.ConditionReconciling).Status).NotTo(Equal(metav1.ConditionTrue))
		}, 10*time.Second, poll).Should(Succeed())
		Expect(tagTargetIn(ns)).To(Equal("other"), "meshkeeper took the other installation's tag over")
	})
})
