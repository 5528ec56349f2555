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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var (
	peerAuthenticationKind = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}
	sidecarKind            = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Sidecar"}
)

// policyObject returns the object of that kind named default in namespace, or nil.
func policyObject(gvk schema.GroupVersionKind, namespace string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	err := k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "default"}, u)
	if apierrors.IsNotFound(err) {
		return nil
	}
	Expect(err).NotTo(HaveOccurred())
	return u
}

func specOf(gvk schema.GroupVersionKind, namespace string) map[string]any {
	GinkgoHelper()
	if u := policyObject(gvk, namespace); u != nil {
		spec, _ := u.Object["spec"].(map[string]any)
		return spec
	}
	return nil
}

func sidecarHosts(namespace string) []any {
	GinkgoHelper()
	u := policyObject(sidecarKind, namespace)
	if u == nil {
		return nil
	}
	egress, _, _ := unstructured.NestedSlice(u.Object, "spec", "egress")
	if len(egress) == 0 {
		return nil
	}
	hosts, _, _ := unstructured.NestedSlice(egress[0].(map[string]any), "hosts")
	return hosts
}

// createUserPolicy creates a user's policy object named as meshkeeper's, labelled owner=platform and with
// the extra labels given as key, value pairs.
func createUserPolicy(gvk schema.GroupVersionKind, namespace string, spec map[string]any, extraLabels ...string) *unstructured.Unstructured {
	GinkgoHelper()
	labels := map[string]string{"owner": "platform"}
	for i := 0; i+1 < len(extraLabels); i += 2 {
		labels[extraLabels[i]] = extraLabels[i+1]
	}
	return createPolicyNamed(gvk, namespace, "default", spec, labels)
}

// createPolicyNamed creates a user's policy object.
func createPolicyNamed(gvk schema.GroupVersionKind, namespace, name string, spec map[string]any, labels map[string]string) *unstructured.Unstructured {
	GinkgoHelper()
	u := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(name)
	u.SetLabels(labels)
	Expect(k8sClient.Create(ctx, u)).To(Succeed())
	return u
}

var _ = Describe("Mesh policies", Ordered, func() {
	var userSidecar, userPeerAuthentication *unstructured.Unstructured

	BeforeAll(func() {
		deleteMesh()
		createNamespace("pol-shop", nil, map[string]string{"mesh.meshkeeper.io/egress-hosts": "payments/*, not a host"})
		createNamespace("pol-legacy", nil, nil)
		createNamespace("pol-own", nil, nil)
		createNamespace("pol-out", nil, nil)
		createNamespace("pol-old", nil, nil)
		// pol-own joins once its owner's policies exist: meshkeeper would otherwise write its own first.
		createMesh("  namespace: pol-system\n  injection:\n    namespaces: [pol-shop, pol-legacy]\n" +
			"  mtls:\n    mode: STRICT\n    namespaces: {pol-legacy: PERMISSIVE}\n" +
			"  sidecarScoping:\n    enabled: true\n    egressHosts: [monitoring/*]\n")
		Eventually(func() error {
			u := &unstructured.UnstructuredList{}
			u.SetGroupVersionKind(sidecarKind.GroupVersion().WithKind("SidecarList"))
			return k8sClient.List(ctx, u)
		}, installTimeout, poll).Should(Succeed())
		// The user's Sidecar even carries meshkeeper's label: a label anyone can set does not make it meshkeeper's.
		userSidecar = createUserPolicy(sidecarKind, "pol-own", map[string]any{"egress": []any{map[string]any{"hosts": []any{"*/*"}}}},
			meshv1alpha1.ManagedByLabel, meshv1alpha1.ManagedByValue)
		userPeerAuthentication = createUserPolicy(peerAuthenticationKind, "pol-own", map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}})
		// pol-old (not in the mesh) holds what an earlier ServiceMesh's uninstall left behind when the
		// policy controller wrote after it (the garbage collector, absent here, would remove it):
		// meshkeeper's, by its owner reference to a ServiceMesh of the same name and meshkeeper's field manager.
		leftover := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{"mtls": map[string]any{"mode": "STRICT"}}}}
		leftover.SetGroupVersionKind(peerAuthenticationKind)
		leftover.SetNamespace("pol-old")
		leftover.SetName("default")
		leftover.SetLabels(map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue})
		leftover.SetOwnerReferences([]metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
			Name: "default", UID: "5e7b1a9c-0000-4000-8000-000000000001", Controller: ptr.To(true)}})
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(leftover), client.FieldOwner(meshv1alpha1.FieldManager))).To(Succeed())
		patchSpec(`{"injection": {"namespaces": ["pol-shop", "pol-legacy", "pol-own"]}, "mtls": {"namespaces": {"pol-own": "STRICT"}}}`)
	})
	AfterAll(deleteMesh)

	It("writes the mesh-wide PeerAuthentication and the per-namespace overrides", func() {
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, "pol-system")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			g.Expect(specOf(peerAuthenticationKind, "pol-legacy")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}))
		}, installTimeout, poll).Should(Succeed())
		Expect(policyObject(peerAuthenticationKind, "pol-shop")).To(BeNil(), "the mesh-wide default covers pol-shop")
		pa := policyObject(peerAuthenticationKind, "pol-system")
		Expect(pa.GetLabels()).To(HaveKeyWithValue("mesh.meshkeeper.io/managed-by", "meshkeeper"))
		Expect(pa.GetOwnerReferences()).To(ConsistOf(HaveField("UID", getMesh().UID)))
		By("removing what an earlier ServiceMesh left in a namespace this one does not want it in")
		Eventually(func() *unstructured.Unstructured { return policyObject(peerAuthenticationKind, "pol-old") }, installTimeout, poll).Should(BeNil())
	})

	It("scopes every enrolled namespace with a Sidecar, with the namespace's own hosts", func() {
		Eventually(func(g Gomega) {
			g.Expect(sidecarHosts("pol-shop")).To(Equal([]any{"./*", "pol-system/*", "monitoring/*", "payments/*"}))
			g.Expect(sidecarHosts("pol-legacy")).To(Equal([]any{"./*", "pol-system/*", "monitoring/*"}))
			g.Expect(specOf(sidecarKind, "pol-shop")).To(HaveKeyWithValue("outboundTrafficPolicy", map[string]any{"mode": "ALLOW_ANY"}))
		}, installTimeout, poll).Should(Succeed())
		Expect(policyObject(sidecarKind, "pol-out")).To(BeNil())
		Eventually(func() []string { return warningsAbout("Namespace", "pol-shop") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonMalformedEgressHosts))
	})

	It("leaves the user's own policies alone and reports them", func() {
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPolicyConflict))
			g.Expect(c.Message).To(ContainSubstring("PeerAuthentication pol-own/default"))
			g.Expect(c.Message).To(ContainSubstring("Sidecar pol-own/default"))
		}, installTimeout, poll).Should(Succeed())
		for _, user := range []*unstructured.Unstructured{userSidecar, userPeerAuthentication} {
			now := policyObject(user.GroupVersionKind(), "pol-own")
			Expect(now.GetResourceVersion()).To(Equal(user.GetResourceVersion()), "%s was written", user.GetKind())
		}
		Eventually(func() []string { return warningsAbout("Sidecar", "default") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonPolicyConflict))
	})

	It("converges on a changed annotation within seconds and writes nothing while nothing changes", func() {
		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "pol-shop"}, ns)).To(Succeed())
		patch := client.MergeFrom(ns.DeepCopy())
		ns.Annotations["mesh.meshkeeper.io/egress-hosts"] = "payments/*,search/search.search.svc.cluster.local"
		Expect(k8sClient.Patch(ctx, ns, patch)).To(Succeed())
		Eventually(func() []any { return sidecarHosts("pol-shop") }, 10*time.Second, poll).
			Should(Equal([]any{"./*", "pol-system/*", "monitoring/*", "payments/*", "search/search.search.svc.cluster.local"}))

		versions := func() []string {
			var out []string
			for _, ns := range []string{"pol-shop", "pol-legacy"} {
				out = append(out, policyObject(sidecarKind, ns).GetResourceVersion())
			}
			return append(out, policyObject(peerAuthenticationKind, "pol-system").GetResourceVersion())
		}
		before := versions()
		patchSpec(`{"proxy": {"dnsCapture": false}}`) // a spec change that does not bear on the policies
		Consistently(versions, 3*time.Second, 300*time.Millisecond).Should(Equal(before))
	})

	It("reports pods that STRICT mTLS would cut off, and applies the policy anyway", func() {
		createPod("pol-shop", "legacy-client", "", "", nil)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionMTLSReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPlaintextClients))
			g.Expect(c.Message).To(ContainSubstring("pol-shop (1 pod(s))"))
		}, installTimeout, poll).Should(Succeed())
		Expect(conditionOf(meshv1alpha1.ConditionMTLSReady).Message).NotTo(ContainSubstring("pol-legacy"))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonPlaintextClients))
		Expect(specOf(peerAuthenticationKind, "pol-system")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
	})

	It("removes what it wrote when it is no longer wanted, and only that", func() {
		patchSpec(`{"sidecarScoping": {"enabled": false}, "mtls": {"namespaces": {"pol-legacy": null}}}`)
		Eventually(func(g Gomega) {
			g.Expect(policyObject(sidecarKind, "pol-shop")).To(BeNil())
			g.Expect(policyObject(sidecarKind, "pol-legacy")).To(BeNil())
			g.Expect(policyObject(peerAuthenticationKind, "pol-legacy")).To(BeNil())
		}, installTimeout, poll).Should(Succeed())
		Expect(policyObject(sidecarKind, "pol-own").GetResourceVersion()).To(Equal(userSidecar.GetResourceVersion()))
		Expect(policyObject(peerAuthenticationKind, "pol-system")).NotTo(BeNil())
	})

	It("deletes its policies with the ServiceMesh and keeps the user's", func() {
		deleteMesh()
		Expect(policyObject(peerAuthenticationKind, "pol-system")).To(BeNil())
		Expect(policyObject(sidecarKind, "pol-own")).NotTo(BeNil())
		Expect(policyObject(peerAuthenticationKind, "pol-own")).NotTo(BeNil())
	})
})

var _ = Describe("Namespace-wide policies of someone else's", Ordered, func() {
	// createNamed creates a user's policy object of another name than meshkeeper's.
	createNamed := func(gvk schema.GroupVersionKind, namespace, name string, spec map[string]any) *unstructured.Unstructured {
		GinkgoHelper()
		return createPolicyNamed(gvk, namespace, name, spec, nil)
	}
	var permissive, team *unstructured.Unstructured

	BeforeAll(func() {
		deleteMesh()
		createNamespace("riv-shop", nil, nil)
		createNamespace("riv-web", nil, nil)
		createMesh("  namespace: riv-system\n  mtls:\n    mode: STRICT\n  sidecarScoping:\n    enabled: true\n")
		Eventually(func() error {
			u := &unstructured.UnstructuredList{}
			u.SetGroupVersionKind(sidecarKind.GroupVersion().WithKind("SidecarList"))
			return k8sClient.List(ctx, u)
		}, installTimeout, poll).Should(Succeed())
		// Older than anything meshkeeper would write: Istio would use these, not meshkeeper's.
		permissive = createNamed(peerAuthenticationKind, "riv-shop", "legacy-permissive", map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}})
		createNamed(peerAuthenticationKind, "riv-shop", "db-disable", map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "db"}}, "mtls": map[string]any{"mode": "DISABLE"}})
		team = createNamed(sidecarKind, "riv-web", "team", map[string]any{"egress": []any{map[string]any{"hosts": []any{"*/*"}}}})
		patchSpec(`{"injection": {"namespaces": ["riv-shop", "riv-web"]}, "mtls": {"namespaces": {"riv-shop": "STRICT", "riv-web": "STRICT"}}}`)
	})
	AfterAll(deleteMesh)

	It("writes none of its own beside a namespace-wide policy of someone else's and says why; one with a selector is no rival", func() {
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionPoliciesApplied)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonPolicyConflict))
			g.Expect(c.Message).To(ContainSubstring("PeerAuthentication riv-shop/legacy-permissive"))
			g.Expect(c.Message).To(ContainSubstring("Sidecar riv-web/team"))
			g.Expect(c.Message).NotTo(ContainSubstring("db-disable"))
			// Where nothing of someone else's applies to the whole namespace, meshkeeper's are written.
			g.Expect(specOf(peerAuthenticationKind, "riv-web")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			g.Expect(policyObject(sidecarKind, "riv-shop")).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(policyObject(peerAuthenticationKind, "riv-shop")).To(BeNil(), "meshkeeper wrote a second namespace-wide PeerAuthentication")
			g.Expect(policyObject(sidecarKind, "riv-web")).To(BeNil(), "meshkeeper wrote a second namespace-wide Sidecar")
		}, 2*time.Second, poll).Should(Succeed())
		Eventually(func() []string { return warningsAbout("PeerAuthentication", "legacy-permissive") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonPolicyConflict))

		By("giving the user's PeerAuthentication a selector and deleting the user's Sidecar")
		Expect(unstructured.SetNestedMap(permissive.Object, map[string]any{"matchLabels": map[string]any{"app": "legacy"}}, "spec", "selector")).To(Succeed())
		Expect(k8sClient.Update(ctx, permissive)).To(Succeed())
		Expect(k8sClient.Delete(ctx, team)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(specOf(peerAuthenticationKind, "riv-shop")).To(Equal(map[string]any{"mtls": map[string]any{"mode": "STRICT"}}))
			g.Expect(policyObject(sidecarKind, "riv-web")).NotTo(BeNil())
			g.Expect(conditionOf(meshv1alpha1.ConditionPoliciesApplied).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})
})
