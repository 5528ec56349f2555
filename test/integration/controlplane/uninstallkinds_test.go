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
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A user's objects in the namespace meshkeeper created, of kinds that are neither the charts' nor
// istiod's, with no CA Secret beside them (istiod never started, or an external CA signs): deleting the
// namespace would delete them, so the uninstall keeps it and says why. Once they are gone, a mesh
// installed into the namespace again deletes it on its uninstall.
var _ = Describe("An uninstall that leaves a user's objects of other kinds", Ordered, func() {
	const ns = "uk-system"
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uk-mesh-reader"},
		Rules: []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}}}}
	netpol := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "uk-deny-ingress"},
		Spec: networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}}}
	// A mesh-wide AuthorizationPolicy: in the root namespace, it applies to every workload of the mesh.
	authz := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
		"metadata": map[string]any{"namespace": ns, "name": "uk-deny-all"},
		"spec":     map[string]any{},
	}}
	userObjects := func() []client.Object { return []client.Object{role, netpol, authz} }

	waitInstalled := func() {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	}
	keptNotes := func() []string {
		GinkgoHelper()
		var notes []string
		for _, e := range listEvents() {
			if e.Reason == "NamespaceKept" {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n")
		waitInstalled()
		By("a Role, a NetworkPolicy and a mesh-wide AuthorizationPolicy of the user's, and no CA Secret")
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		Expect(k8sClient.Create(ctx, netpol)).To(Succeed())
		// The AuthorizationPolicy's kind is served once the base chart's CRDs are established.
		Eventually(func() error { return k8sClient.Create(ctx, authz) }, installTimeout, poll).Should(Succeed())
		Expect(apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-ca-secret"}, &corev1.Secret{}))).
			To(BeTrue(), "envtest runs no istiod, so no CA Secret")
	})
	AfterAll(func() {
		deleteMesh()
		for _, obj := range userObjects() {
			_ = client.IgnoreNotFound(k8sClient.Delete(ctx, obj))
		}
	})

	It("keeps the namespace and the user's objects, and names them", func() {
		deleteMesh()
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "the namespace was deleted with the user's objects in it")
		for _, obj := range userObjects() {
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
			Expect(obj.GetDeletionTimestamp().IsZero()).To(BeTrue())
		}
		Expect(keptNotes()).To(ContainElement(And(
			ContainSubstring("Kept namespace "+ns),
			ContainSubstring("Role.rbac.authorization.k8s.io/uk-mesh-reader"),
			ContainSubstring("NetworkPolicy.networking.k8s.io/uk-deny-ingress"),
			ContainSubstring("AuthorizationPolicy.security.istio.io/uk-deny-all"),
		)))
	})

	It("deletes the namespace once nothing of the user's is left in it", func() {
		for _, obj := range userObjects() {
			Expect(k8sClient.Delete(ctx, obj)).To(Succeed())
		}
		By("installing into the kept namespace again, and uninstalling")
		createMesh("  namespace: " + ns + "\n")
		waitInstalled()
		deleteMesh()
		// envtest runs no namespace controller: a deleted namespace stays Terminating.
		namespace := &corev1.Namespace{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)
		Expect(apierrors.IsNotFound(err) || !namespace.DeletionTimestamp.IsZero()).To(BeTrue(),
			"the namespace meshkeeper created was kept with nothing of anyone's in it (NamespaceKept: %q)", keptNotes())
	})
})
