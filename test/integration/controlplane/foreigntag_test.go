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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Another Istio installation's default tag (istioctl tag set default) carries none of meshkeeper's
// labels, so meshkeeper's cache, which holds only the webhooks it labelled, does not show it. Its name
// is the one meshkeeper gives the tag of a control plane in that namespace: meshkeeper must see it and
// leave it alone, not take it over with its forced apply.
// foreignTagMesh creates, for the rest of the container, another installation's default tag for the
// control-plane namespace ns, with labels (it points at a revision other's istiod, and selects no object
// of the tests), then a RevisionBased ServiceMesh in ns.
func foreignTagMesh(ns string, labels map[string]string) {
	GinkgoHelper()
	w := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-revision-tag-default-" + ns, Labels: labels},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "rev.namespace.sidecar-injector.istio.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
				Namespace: "other-istio", Name: "istiod-other", Path: ptr.To("/inject")}},
			ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"foreign-tag-test": "never"}},
			FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
			SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	Expect(k8sClient.Create(ctx, w)).To(Succeed())
	DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, w))).To(Succeed()) })
	createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n")
	DeferCleanup(deleteMesh)
}

var _ = Describe("Another installation's default tag", long, Ordered, func() {
	const ns = "ft-system"
	name := "istio-revision-tag-default-" + ns
	foreign := func() *admissionregistrationv1.MutatingWebhookConfiguration {
		GinkgoHelper()
		w := &admissionregistrationv1.MutatingWebhookConfiguration{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, w)).To(Succeed())
		return w
	}

	BeforeAll(func() {
		deleteMesh()
		foreignTagMesh(ns, map[string]string{"istio.io/tag": "default"})
	})

	It("is left alone, and the mesh says why its tag is not in place", func() {
		before := foreign()
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInstallFailed), c.Message)
			g.Expect(c.Message).To(ContainSubstring(name + " exists and is not meshkeeper's"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			w := foreign()
			g.Expect(w.ResourceVersion).To(Equal(before.ResourceVersion), "meshkeeper wrote the other installation's tag")
			g.Expect(w.Labels).To(Equal(before.Labels))
			g.Expect(w.OwnerReferences).To(BeEmpty())
			g.Expect(w.Webhooks[0].ClientConfig.Service.Name).To(Equal("istiod-other"))
		}, 2*time.Second, poll).Should(Succeed())
	})

	It("points its own tag at its revision once the other is gone", func() {
		Expect(k8sClient.Delete(ctx, foreign())).To(Succeed())
		Eventually(func() string { return tagTargetIn(ns) }, 2*installTimeout, poll).Should(Equal("1-31-0"))
	})
})
