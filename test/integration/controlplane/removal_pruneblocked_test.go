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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A revision kept past its grace period by a webhook meshkeeper does not own is a state that lasts
// until a person acts: the metrics say so for as long as it lasts, so an alert can ask for that person.
var _ = Describe("A revision whose pruning another webhook blocks", Ordered, func() {
	const ns = "rpb-system"
	var tag *admissionregistrationv1.MutatingWebhookConfiguration

	BeforeAll(func() {
		deleteMesh()
		// As `istioctl tag set prod --revision 1-31-0` leaves it, but selecting no object of the tests.
		tag = &admissionregistrationv1.MutatingWebhookConfiguration{
			ObjectMeta: metav1.ObjectMeta{Name: "rpb-istio-revision-tag-prod",
				Labels: map[string]string{"istio.io/tag": "prod", "istio.io/rev": "1-31-0"}},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{
				Name: "rev.namespace.sidecar-injector.istio.io",
				ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{
					Namespace: ns, Name: "istiod-1-31-0", Path: ptr.To("/inject")}},
				ObjectSelector:          &metav1.LabelSelector{MatchLabels: map[string]string{"prune-blocked-test": "never"}},
				FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1"},
			}},
		}
		Expect(k8sClient.Create(ctx, tag)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, tag))).To(Succeed()) })
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"    inactiveRevisionDeletionGracePeriod: 2s\n")
		DeferCleanup(deleteMesh)
	})

	It("is counted in meshkeeper_revisions_prune_blocked while it is kept, and no longer once it goes", func() {
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-0")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-0"))
		patchSpec(`{"version":"1.31.1"}`)
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-1") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-1-31-1")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))

		Eventually(func() ([]string, error) {
			return missingMetrics("\nmeshkeeper_revisions_prune_blocked 1\n")
		}, installTimeout, poll).Should(BeEmpty(), "the revision kept for the other webhook is not in the metrics")
		Expect(releaseRevisions(ns, "istiod-1-31-0")).To(Equal([]int{1}))

		Expect(k8sClient.Delete(ctx, tag)).To(Succeed())
		Eventually(func() []int { return releaseRevisions(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeEmpty())
		Eventually(func() ([]string, error) {
			return missingMetrics("\nmeshkeeper_revisions_prune_blocked 0\n")
		}, installTimeout, poll).Should(BeEmpty(), "a revision removed is still counted as kept")
	})
})
