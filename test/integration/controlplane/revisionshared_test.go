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

// Another Istio installation may run an istiod of the same revision name as one of the mesh's, in a
// namespace of its own (istioctl install --revision 1-31-0): its injector selects the same istio.io/rev
// label, and which of the two injects a pod depends on the order of their webhooks. meshkeeper told the
// pods it injected apart (their discovery address names its istiod) and said nothing.
var _ = Describe("A revision whose name another installation's istiod shares", Ordered, func() {
	const (
		ns      = "rns-system"
		otherNS = "rns-other-istio" // the other installation's control plane
		apps    = "rns-apps"
	)
	warnings := func() []string {
		GinkgoHelper()
		return meshEvents(meshv1alpha1.ReasonRevisionNameShared)
	}
	controlPlaneReady := func(g Gomega) string {
		c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "ControlPlaneReady: %+v", c)
		return c.Message
	}
	// injectedElsewhere creates a pod as the other installation's injector leaves it: revision 1-31-0,
	// its proxy pointed at that installation's istiod-1-31-0.
	injectedElsewhere := func(name string) *corev1.Pod {
		GinkgoHelper()
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: apps, Name: name, Annotations: map[string]string{
				"sidecar.istio.io/status": `{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"1-31-0"}`}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{
				{Name: "app", Image: "registry.example.com/app:1.0"},
				{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.0", Env: []corev1.EnvVar{{Name: "PROXY_CONFIG",
					Value: `{"discoveryAddress":"istiod-1-31-0.` + otherNS + `.svc:15012"}`}}}}},
		}
		Expect(k8sClient.Create(ctx, pod)).To(Succeed())
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
		})
		return pod
	}

	BeforeAll(func() {
		deleteMesh()
		// Not labelled istio.io/rev: a namespace outlives the spec, and its label would keep revision 1-31-0
		// of the specs that follow. Where the pods run plays no part.
		createNamespace(apps, nil, nil)
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n")
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		DeferCleanup(deleteMesh)
	})

	It("is named in ControlPlaneReady's message and in a Warning Event on each change", func() {
		Eventually(controlPlaneReady, installTimeout, poll).ShouldNot(ContainSubstring("same revision name"))
		Expect(warnings()).To(BeEmpty())

		first := injectedElsewhere("first")
		Eventually(func(g Gomega) {
			g.Expect(controlPlaneReady(g)).To(And(ContainSubstring("another Istio installation runs an istiod of the same revision name"),
				ContainSubstring("revision 1-31-0 (istio.io/rev=1-31-0: istiod istiod-1-31-0 of namespace "+otherNS+" serves pods of "+apps+")")))
		}, installTimeout, poll).Should(Succeed())
		Eventually(warnings, installTimeout, poll).Should(HaveLen(1))
		Expect(warnings()[0]).To(And(HavePrefix("Another Istio installation"), ContainSubstring(otherNS), ContainSubstring(apps)))

		By("another pod of the same installation in the same namespace: nothing new is said")
		second := injectedElsewhere("second")
		Consistently(warnings, 3*time.Second, poll).Should(HaveLen(1), "the same revision was reported again")

		By("its pods gone: the message says no more")
		for _, pod := range []*corev1.Pod{first, second} {
			Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		}
		Eventually(controlPlaneReady, installTimeout, poll).ShouldNot(ContainSubstring("same revision name"))
		Consistently(warnings, 3*time.Second, poll).Should(HaveLen(1))
	})
})
