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
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// forgedObjects are what an attacker who may write Secrets in the control-plane namespace, but holds no
// cluster-wide rights, adds to a forged release revision: a binding of their ServiceAccount to
// cluster-admin (for meshkeeper to create), and someone else's ConfigMap (for meshkeeper to delete).
const forgedObjects = `
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata:
  name: forged-admin
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: ClusterRole
  name: cluster-admin
subjects:
- kind: ServiceAccount
  name: attacker
  namespace: team-a
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: precious
  namespace: forge-victim
data:
  owner: another-team
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: annotated
  namespace: forge-victim
data:
  owner: another-team
`

var _ = Describe("A forged release revision", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("is never applied by drift repair, and nothing it lists is deleted on uninstall", func() {
		const ns, victim = "forge-system", "forge-victim"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: victim}})).To(Succeed())
		precious := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "precious", Namespace: victim},
			Data: map[string]string{"owner": "another-team"}}
		Expect(k8sClient.Create(ctx, precious)).To(Succeed())
		// Another team's object that even carries Helm's marks of the istiod release (anyone who may write it
		// can set them), so Helm's own ownership check would let it go: only meshkeeper's owner reference
		// to the ServiceMesh tells it is not the release's.
		annotated := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "annotated", Namespace: victim,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "Helm"},
			Annotations: map[string]string{"meta.helm.sh/release-name": "istiod", "meta.helm.sh/release-namespace": ns}},
			Data: map[string]string{"owner": "another-team"}}
		Expect(k8sClient.Create(ctx, annotated)).To(Succeed())
		// A team's webhook configuration that carries meshkeeper's label, but no owner reference to the
		// ServiceMesh: uninstall's sweep of leftover webhooks must leave it.
		labelled := &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "team-labelled",
			Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "check.team.example.com",
				ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: ptr.To("https://team.example.com/check")},
				Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"team.example.com"}, APIVersions: []string{"v1"}, Resources: []string{"widgets"}}}},
				FailurePolicy:           ptr.To(admissionregistrationv1.Ignore),
				SideEffects:             ptr.To(admissionregistrationv1.SideEffectClassNone),
				AdmissionReviewVersions: []string{"v1"}}}}
		Expect(k8sClient.Create(ctx, labelled)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, labelled))).To(Succeed()) })

		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())

		By("writing a newer revision of istiod's release with the same digest label and a manifest of its own")
		forged := readRelease(ns, "istiod", 1)
		forged.Version = 2
		forged.Manifest += forgedObjects
		Expect(releaseDriver(ns).Create(releaseKey("istiod", 2), forged)).To(Succeed())

		By("making meshkeeper repair drift: istiod's Deployment deleted")
		Expect(k8sClient.Delete(ctx, istiod(ns))).To(Succeed())
		Eventually(func() bool { return istiodOrNil(ns) != nil }, installTimeout, poll).Should(BeTrue())
		Consistently(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: "forged-admin"}, &rbacv1.ClusterRoleBinding{}))
		}, 3*time.Second, 300*time.Millisecond).Should(BeTrue(), "meshkeeper applied a ClusterRoleBinding a forged release Secret listed")

		By("uninstalling")
		deleteMesh()
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(precious), precious)).To(Succeed(),
			"meshkeeper deleted an object it never created because a forged release Secret listed it")
		Expect(precious.Data).To(Equal(map[string]string{"owner": "another-team"}))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(labelled), labelled)).To(Succeed(),
			"meshkeeper deleted a webhook configuration it did not create because it carried meshkeeper's label")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(annotated), annotated)).To(Succeed(),
			"meshkeeper deleted an object with Helm's marks of the release but no owner reference to the ServiceMesh")
		Expect(istiodOrNil(ns)).To(BeNil())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
	})
})
