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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The status is lost whole (a ServiceMesh restored from a backup without it, or replaced) on a mesh
// that runs without the CNI agent while spec.cni.enabled is unset: with the status goes the decision
// recorded there, and the mesh looks new, which would get the agent. Its pods run with istio-init.
var _ = Describe("A mesh running without the CNI agent whose status is lost", Ordered, func() {
	const ns = "cnilostoff-system"

	BeforeAll(func() {
		deleteMesh()
		DeferCleanup(deleteMesh)
		createMesh("  namespace: " + ns + "\n  cni:\n    enabled: false\n")
		Eventually(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni).NotTo(BeNil())
			g.Expect(cni.Enabled).To(BeFalse())
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(ns, "istiod")
		By("unsetting spec.cni.enabled: the decision recorded in the status stands")
		patchSpec(`{"cni": {"enabled": null}}`)
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.CNI.Enabled).To(BeFalse())
		}, installTimeout, poll).Should(Succeed())
	})

	injector := func(g Gomega) string {
		cm := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}, cm)).To(Succeed())
		return cm.Data["values"]
	}

	It("keeps running without it", func() {
		Eventually(func() error {
			mesh := getMesh()
			mesh.Status = meshv1alpha1.ServiceMeshStatus{}
			return k8sClient.Status().Update(ctx, mesh)
		}, installTimeout, poll).Should(Succeed())
		By("waiting for a pass that read the lost status: it writes status.cni again")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.CNI).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni.Enabled).To(BeFalse(), "the mesh was taken for a new one and got the CNI agent")
			g.Expect(cni.EnabledBy).To(Equal(meshv1alpha1.CNIByExistingMesh))
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the CNI agent was installed: %v", err)
			g.Expect(injector(g)).To(MatchRegexp(`"cni": \{\s*"enabled": false`), "istiod injects for the CNI agent")
		}, 3*time.Second, poll).Should(Succeed())
	})
})
