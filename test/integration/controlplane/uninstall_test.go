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
	"crypto/rand"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("Uninstall keeps what is not meshkeeper's", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	waitInstalled := func(ns string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	}
	notDeleted := func(ns string) {
		GinkgoHelper()
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "namespace %s was deleted", ns)
	}

	It("keeps the namespace it created while istiod's CA is in it, so a reinstalled mesh has the same root CA", func() {
		const ns = "ca-system"
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)

		By("istiod's self-signed root CA, which istiod writes at its first start (envtest runs no istiod)")
		key := make([]byte, 64)
		_, _ = rand.Read(key)
		ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-secret", Namespace: ns},
			Type: "istio.io/ca-root", Data: map[string][]byte{"ca-cert.pem": []byte("root"), "ca-key.pem": key}}
		Expect(k8sClient.Create(ctx, ca)).To(Succeed())

		deleteMesh()
		notDeleted(ns)
		Expect(managedObjects()).To(BeEmpty())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		var kept []string
		for _, e := range listEvents() {
			if e.Reason == "NamespaceKept" {
				kept = append(kept, e.Note)
			}
		}
		Expect(kept).To(ContainElement(ContainSubstring("Secret/istio-ca-secret")))

		By("installing again into the kept namespace")
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		again := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ca), again)).To(Succeed())
		Expect(again.Data).To(Equal(ca.Data), "the mesh's root CA changed across uninstall and reinstall")
	})

	It("deletes the namespace it created once nothing but the cluster's own objects is left", func() {
		const ns = "empty-system"
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		By("what the cluster and istiod put in every namespace, which does not keep it")
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}})).
			To(Or(Succeed(), WithTransform(apierrors.IsAlreadyExists, BeTrue())))

		deleteMesh()
		namespace := &corev1.Namespace{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)
		Expect(apierrors.IsNotFound(err) || !namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "the namespace meshkeeper created was kept")
	})

	It("does not delete a namespace someone else labelled as created by meshkeeper", func() {
		const ns = "marked-system"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"mesh.meshkeeper.io/created-by": "meshkeeper"}}})).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		deleteMesh()
		notDeleted(ns)
	})

	It("removes its finalizer when another field manager also lists it", func() {
		const ns = "gitops-system"
		By("a ServiceMesh applied server-side by a GitOps tool, with meshkeeper's finalizer in git")
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "ServiceMesh",
			"metadata": map[string]any{"name": meshv1alpha1.ServiceMeshName, "finalizers": []any{meshv1alpha1.Finalizer}},
			"spec":     map[string]any{"namespace": ns},
		}}
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("argocd-controller"))).To(Succeed())
		waitInstalled(ns)
		var owners []string
		for _, entry := range getMesh().ManagedFields {
			if strings.Contains(string(entry.FieldsV1.GetRawBytes()), meshv1alpha1.Finalizer) {
				owners = append(owners, entry.Manager)
			}
		}
		Expect(owners).To(ContainElement("argocd-controller"), "the finalizer is not the GitOps tool's too")

		By("deleting it: giving up meshkeeper's own claim on the finalizer does not remove an entry another manager owns")
		deleteMesh()
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
	})
})
