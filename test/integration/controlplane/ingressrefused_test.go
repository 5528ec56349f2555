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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
)

// warningNotes returns the notes of the Warning Events of reason about the Ingress namespace/name.
func warningNotes(namespace, name, reason string) []string {
	GinkgoHelper()
	var notes []string
	for _, e := range listEvents() {
		if e.Type == corev1.EventTypeWarning && e.Reason == reason && e.Regarding.Kind == "Ingress" &&
			e.Regarding.Namespace == namespace && e.Regarding.Name == name {
			notes = append(notes, e.Note)
		}
	}
	return notes
}

// expectIngressesConfigured waits for IngressesConfigured to be True with reason Configured: no
// Ingress is reported refused once its write went through. envtest runs no Deployment controller, so
// the status of the ingress-nginx controller Deployment namespace/controller is written as rolled out
// for whatever generation meshkeeper's settings brought it to.
func expectIngressesConfigured(namespace string) {
	GinkgoHelper()
	Eventually(func(g Gomega) {
		d := &appsv1.Deployment{}
		g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "controller"}, d)).To(Succeed())
		if d.Status.ObservedGeneration != d.Generation {
			replicas := ptr.Deref(d.Spec.Replicas, 1)
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
				ReadyReplicas: replicas, AvailableReplicas: replicas}
			g.Expect(k8sClient.Status().Update(ctx, d)).To(Succeed())
		}
		c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
		g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonConfigured), "IngressesConfigured: %s: %s", c.Status, c.Message)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	}, installTimeout, poll).Should(Succeed())
}

// An admission policy of the cluster's (an annotations allow-list, a policy that requires
// upstream-vhost) refuses meshkeeper's write of one Ingress's annotations: the Ingress's Warning Event
// says so with the API server's answer, the other Ingresses are configured meanwhile, and the write
// goes through once the policy allows it.
var _ = Describe("An Ingress write the API server refuses", Ordered, func() {
	const (
		shopNS       = "ingrefused-shop"
		controllerNS = "ingrefused-nginx"
	)
	inShop := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": shopNS}}
	ingresses := admissionregistrationv1.Rule{APIGroups: []string{"networking.k8s.io"}, APIVersions: []string{"*"},
		Resources: []string{"ingresses"}}
	blocked := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "blocked"}}
	meshedWeb := map[string]string{"owner": "web", serviceUpstream: "true", upstreamVhost: "web." + shopNS + ".svc"}
	meshedBlocked := map[string]string{"owner": "blocked", serviceUpstream: "true", upstreamVhost: "blocked." + shopNS + ".svc"}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		// Cleanups run last registered first: the objects go before the ServiceMesh, whose deletion
		// takes meshkeeper's label off the namespace.
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "blocked"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "blocked"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
		)
		createPlainController(controllerNS, nil)
		for _, name := range []string{"web", "blocked"} {
			createService(shopNS, name, nil)
			createIngress(shopNS, name, func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = ptr.To("nginx")
				i.Spec.DefaultBackend = ptr.To(ingressBackend(name))
			})
		}
	})

	It("reports the refused Ingress with the API server's answer, configures the others, and retries", func() {
		By("enforcing an annotations allow-list that refuses upstream-vhost on the Ingress blocked")
		vap, binding := denial{
			name:          "ingrefused-no-vhost",
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          ingresses,
			resourceNames: []string{"blocked"},
			expression:    "!has(object.metadata.annotations) || !('" + upstreamVhost + "' in object.metadata.annotations)",
			message:       "upstream-vhost is not on the annotations allow-list",
			namespaces:    inShop,
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error {
			return k8sClient.Patch(ctx, blocked.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"`+upstreamVhost+`":"probe"}}}`)), client.DryRunAll)
		})
		createMesh("  namespace: ingrefused-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")

		// One refusal does not hold back the other Ingresses.
		Eventually(func() map[string]string { return ingressAnnotations(shopNS, "web") }, installTimeout, poll).Should(Equal(meshedWeb))
		Expect(ingressAnnotations(shopNS, "blocked")).To(Equal(map[string]string{"owner": "blocked"}))
		Eventually(func() []string { return warningNotes(shopNS, "blocked", ingress.ReasonApplyFailed) }, installTimeout, poll).
			Should(ContainElement(And(
				ContainSubstring("cannot put nginx.ingress.kubernetes.io/service-upstream and upstream-vhost on the Ingress"),
				ContainSubstring("upstream-vhost is not on the annotations allow-list"))),
				"the Ingress has no Warning Event that says why meshkeeper cannot configure it")
		Expect(warningNotes(shopNS, "web", ingress.ReasonApplyFailed)).To(BeEmpty())
		// Waiting does not configure it: the condition says that the API server refuses the write, with
		// its answer, and what to change.
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "IngressesConfigured: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonIngressWriteRefused), "IngressesConfigured: %s", c.Message)
			g.Expect(c.Message).To(ContainSubstring("1 Ingress(es): " + shopNS + "/blocked"))
			g.Expect(c.Message).To(ContainSubstring("upstream-vhost is not on the annotations allow-list"))
			g.Expect(c.Message).To(ContainSubstring("allow meshkeeper's change"))
			g.Expect(c.Message).NotTo(ContainSubstring(shopNS + "/web"))
		}, installTimeout, poll).Should(Succeed())

		By("lifting the allow-list")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func() map[string]string { return ingressAnnotations(shopNS, "blocked") }, installTimeout, poll).
			Should(Equal(meshedBlocked))
		expectIngressesConfigured(controllerNS)
	})

	It("reports the Ingress whose annotations the API server refuses to give back when it leaves the mesh", func() {
		By("enforcing a policy that requires upstream-vhost on the Ingress blocked")
		vap, binding := denial{
			name:          "ingrefused-vhost-required",
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          ingresses,
			resourceNames: []string{"blocked"},
			expression:    "has(object.metadata.annotations) && '" + upstreamVhost + "' in object.metadata.annotations",
			message:       "upstream-vhost is required",
			namespaces:    inShop,
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error {
			return k8sClient.Patch(ctx, blocked.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"metadata":{"annotations":{"`+upstreamVhost+`":null}}}`)), client.DryRunAll)
		})

		By("taking the namespace out of the mesh; no pod there runs a sidecar")
		patchSpec(`{"injection": {"namespaces": []}}`)
		Eventually(func() map[string]string { return ingressAnnotations(shopNS, "web") }, installTimeout, poll).
			Should(Equal(map[string]string{"owner": "web"}))
		Expect(ingressAnnotations(shopNS, "blocked")).To(Equal(meshedBlocked))
		Eventually(func() []string { return warningNotes(shopNS, "blocked", ingress.ReasonApplyFailed) }, installTimeout, poll).
			Should(ContainElement(And(
				ContainSubstring("cannot take its nginx.ingress.kubernetes.io/service-upstream and upstream-vhost back from the Ingress"),
				ContainSubstring("upstream-vhost is required"))),
				"the Ingress has no Warning Event that says why meshkeeper cannot take its annotations back")

		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "IngressesConfigured: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonIngressWriteRefused), "IngressesConfigured: %s", c.Message)
			g.Expect(c.Message).To(ContainSubstring("taking them back"))
			g.Expect(c.Message).To(ContainSubstring("1 Ingress(es): " + shopNS + "/blocked"))
			g.Expect(c.Message).To(ContainSubstring("upstream-vhost is required"))
		}, installTimeout, poll).Should(Succeed())

		By("lifting the policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func() map[string]string { return ingressAnnotations(shopNS, "blocked") }, installTimeout, poll).
			Should(Equal(map[string]string{"owner": "blocked"}))
		expectIngressesConfigured(controllerNS)
	})
})
