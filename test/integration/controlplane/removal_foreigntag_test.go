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
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Another installation's default tag that carries meshkeeper's label (copied from a manifest of a mesh
// meshkeeper once installed) is in meshkeeper's cache, so its deletion wakes the ServiceMesh. The
// failure it caused cannot be retried away, but it must not be held for the control plane's longest
// backoff either: the wake-up its removal brings is the one that mends it.
var _ = Describe("Another installation's default tag with meshkeeper's label", Ordered, func() {
	const ns = "rlt-system"
	name := "istio-revision-tag-default-" + ns

	BeforeAll(func() {
		deleteMesh()
		foreignTagMesh(ns, map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "istio.io/tag": "default", "istio.io/rev": "other"})
	})

	It("is noticed gone as soon as it is deleted", func() {
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), c.Message)
			g.Expect(c.Message).To(ContainSubstring(name + " exists and is not meshkeeper's"))
		}, installTimeout, poll).Should(Succeed())
		w := &admissionregistrationv1.MutatingWebhookConfiguration{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, w)).To(Succeed())
		Expect(k8sClient.Delete(ctx, w)).To(Succeed())
		// The deletion's wake-up installs the revision at once; a failure held for the control plane's
		// longest backoff would keep the old message for 5 minutes. The minute allowed is the install's
		// own time on a loaded machine (23 s once, with every tier running beside it).
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Message).NotTo(ContainSubstring(name+" exists and is not meshkeeper's"),
				"the removal of the other installation's tag was not noticed")
		}, time.Minute, poll).Should(Succeed())
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
	})
})
