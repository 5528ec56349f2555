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
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Argo CD with ServerSideApply (Helm 4 and Flux alike) applies an Ingress's manifest server-side, and
// the manifest may hold one of meshkeeper's annotations with meshkeeper's value: both then own it.
// When meshkeeper's value moves (the backend Service changes, and upstream-vhost with it), the owner's
// stays.
var _ = Describe("an Ingress annotation the Ingress's owner applied with meshkeeper's value", Ordered, func() {
	const (
		shopNS       = "coing-shop"
		controllerNS = "coing-nginx"
		argo         = "argocd-controller"
		// ingressName is this spec's own: Warning Events outlive it, and other specs count those of
		// their Ingresses by name.
		ingressName = "coowned-storefront"
	)
	ingress := func() *networkingv1.Ingress {
		GinkgoHelper()
		ing := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: shopNS, Name: ingressName}, ing)).To(Succeed())
		return ing
	}
	// argoApply applies the Ingress's manifest as Argo CD's server-side sync does: the whole of what it
	// sets, as field manager argocd-controller, with force; the backend Service and its annotations.
	argoApply := func(service string, annotations map[string]any) {
		GinkgoHelper()
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{
			"ingressClassName": "nginx",
			"defaultBackend":   map[string]any{"service": map[string]any{"name": service, "port": map[string]any{"number": int64(80)}}},
		}}}
		u.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("Ingress"))
		u.SetNamespace(shopNS)
		u.SetName(ingressName)
		u.SetLabels(map[string]string{"app.kubernetes.io/instance": "shop"})
		if annotations != nil {
			u.Object["metadata"].(map[string]any)["annotations"] = annotations
		}
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(argo), client.ForceOwnership)).To(Succeed())
	}
	ingressNotes := func(reason string) []string {
		GinkgoHelper()
		var notes []string
		for _, e := range listEvents() {
			if e.Type == corev1.EventTypeWarning && e.Regarding.Kind == "Ingress" && e.Regarding.Namespace == shopNS &&
				e.Regarding.Name == ingressName && e.Reason == reason {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		// Cleanups run last registered first: the objects go before the ServiceMesh. Namespaces cannot
		// be deleted here (no namespace controller runs), so nothing of this spec stays in them.
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: ingressName}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web-v2"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		createService(shopNS, "web", nil)
		createService(shopNS, "web-v2", nil)
		argoApply("web", nil)
		createMesh("  namespace: coing-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("is reported as the owner's value, and not fought over, when meshkeeper's value changes", func() {
		oldHost, newHost := "web."+shopNS+".svc", "web-v2."+shopNS+".svc"
		Eventually(func() map[string]string { return ingress().Annotations }, installTimeout, poll).
			Should(HaveKeyWithValue(upstreamVhost, oldHost))

		By("syncing the manifest with the upstream-vhost meshkeeper set, as Argo CD's server-side apply does")
		argoApply("web", map[string]any{upstreamVhost: oldHost})

		By("moving the Ingress to another Service in the manifest, which still holds the old upstream-vhost")
		argoApply("web-v2", map[string]any{upstreamVhost: oldHost})
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses.SkippedByReason).To(HaveKeyWithValue("AnnotationConflict", BeEquivalentTo(1)))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal("AnnotationConflict"), "IngressesConfigured: %s: %s", c.Status, c.Message)
			g.Expect(c.Message).To(ContainSubstring(shopNS + "/" + ingressName))
			notes := ingressNotes("AnnotationConflict")
			g.Expect(notes).NotTo(BeEmpty(), "no AnnotationConflict Warning on the Ingress")
			note := notes[len(notes)-1]
			g.Expect(note).To(ContainSubstring(upstreamVhost))
			g.Expect(note).To(ContainSubstring(`"` + oldHost + `"`))
			g.Expect(note).To(ContainSubstring(`"` + argo + `"`))
		}, installTimeout, poll).Should(Succeed())

		ing := ingress()
		Expect(ing.Annotations).To(HaveKeyWithValue(upstreamVhost, oldHost), "the owner's value was changed")
		Expect(ing.Annotations).NotTo(HaveKey(serviceUpstream), "meshkeeper kept half of its annotations")

		By("writing nothing more to the Ingress once the conflict is reported")
		version := ing.ResourceVersion
		Consistently(func() string { return ingress().ResourceVersion }, 3*time.Second, 500*time.Millisecond).Should(Equal(version))

		By("configuring the Ingress again once the owner's manifest no longer sets the annotation")
		argoApply("web-v2", nil)
		Eventually(func(g Gomega) {
			a := ingress().Annotations
			g.Expect(a).To(HaveKeyWithValue(upstreamVhost, newHost))
			g.Expect(a).To(HaveKeyWithValue(serviceUpstream, "true"))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Message).NotTo(ContainSubstring(shopNS+"/"+ingressName), "IngressesConfigured: %s: %s", c.Reason, c.Message)
		}, installTimeout, poll).Should(Succeed())
	})
})
