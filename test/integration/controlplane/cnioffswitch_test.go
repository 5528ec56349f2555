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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A switch from InPlace to RevisionBased leaves the istiod without a revision as it is until the default
// tag moves off it: it goes on injecting with the values it was installed with. Turning CNI off
// meanwhile must not take the agent from the pods it still injects for it.
var _ = Describe("Turning CNI off while a switch to RevisionBased waits for its first revision", Ordered, func() {
	const ns = "cnisw-system"

	BeforeAll(func() {
		startMeshWithAgent(ns, "  namespace: "+ns+"\n  version: 1.31.1\n  injection:\n    namespaces: [cnisw-shop]\n", "cnisw-shop")
	})

	injectsForAgent := func(g Gomega, configMap string) string {
		injector := &corev1.ConfigMap{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: configMap}, injector)).To(Succeed())
		return injector.Data["values"]
	}

	It("keeps the agent while the istiod without a revision injects for it, and removes it once the tag moves", func() {
		patchSpec(`{"updateStrategy": {"type": "RevisionBased"}, "cni": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod-1-31-1")).To(Equal([]int{1}))
			g.Expect(injectsForAgent(g, "istio-sidecar-injector-1-31-1")).To(MatchRegexp(`"cni": \{\s*"enabled": false`))
			c := conditionOf(meshv1alpha1.ConditionCNIReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonWaitingForControlPlane),
				"the agent was removed while the istiod without a revision injects for it")
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Message).To(ContainSubstring("the istiod without a revision"))
			g.Expect(c.Message).To(ContainSubstring("revision 1-31-1"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(tagTargetIn(ns)).To(BeEmpty())
			g.Expect(injectsForAgent(g, "istio-sidecar-injector")).To(MatchRegexp(`"cni": \{\s*"enabled": true`),
				"the istiod without a revision is left as it is")
			g.Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}))
			g.Expect(cniDaemonSetOf(ns).DeletionTimestamp).To(BeNil())
			cni := getMesh().Status.CNI
			g.Expect(cni.Enabled).To(BeFalse())
			g.Expect(cni.Namespace).To(Equal(ns), "the agent still runs there")
		}, 2*time.Second, poll).Should(Succeed())

		By("the first revision available: the tag moves to it, and the agent goes")
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
			err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-cni-node"}, &appsv1.DaemonSet{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the DaemonSet is left behind: %v", err)
			g.Expect(getMesh().Status.CNI).To(Equal(&meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIBySpec}))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Reason).To(Equal(meshv1alpha1.ReasonCNIDisabled))
		}, installTimeout, poll).Should(Succeed())
	})
})
