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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/controllers/ingress"
)

// An admission policy of the cluster's that keeps the ingress-nginx controller's pod template as it is
// refuses meshkeeper's write of its sidecar settings: a Warning Event on the Deployment and on the
// ServiceMesh says so with the API server's answer, once for an unchanged answer, and the write goes
// through once the policy allows it.
var _ = Describe("An ingress-nginx controller write the API server refuses", Ordered, func() {
	const controllerNS = "ingwlrefused-nginx"
	deployments := admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"*"}, Resources: []string{"deployments"}}
	controller := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}}

	// warnings returns the notes of the IngressNginxApplyFailed Warning Events about kind namespace/name.
	warnings := func(kind, namespace, name string) []string {
		var notes []string
		for _, e := range listEvents() {
			if e.Type == corev1.EventTypeWarning && e.Reason == ingress.ReasonWorkloadApplyFailed && e.Regarding.Kind == kind &&
				e.Regarding.Namespace == namespace && e.Regarding.Name == name {
				notes = append(notes, e.Note)
			}
		}
		return notes
	}

	// freezeControllerTemplate enforces an admission policy of the cluster's, name, that refuses every
	// change of the controller Deployment's pod template with message, and returns its objects.
	freezeControllerTemplate := func(name, message string) (*admissionregistrationv1.ValidatingAdmissionPolicy,
		*admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
		GinkgoHelper()
		vap, binding := denial{
			name:          name,
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          deployments,
			resourceNames: []string{"controller"},
			expression:    "object.spec.template == oldObject.spec.template",
			message:       message,
			namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": controllerNS}},
		}.objects()
		deleteAtCleanup(binding, vap)
		enforce(vap, binding, func() error {
			return k8sClient.Patch(ctx, controller.DeepCopy(), client.RawPatch(types.MergePatchType,
				[]byte(`{"spec":{"template":{"metadata":{"annotations":{"probe":"x"}}}}}`)), client.DryRunAll)
		})
		return vap, binding
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(controller.DeepCopy())
		createPlainController(controllerNS, nil)
	})

	It("says why the sidecar settings are not written, and writes them once the policy allows it", func() {
		By("enforcing a policy that keeps the controller's pod template")
		vap, binding := freezeControllerTemplate("ingwlrefused-frozen-template", "the edge team's change freeze keeps the ingress-nginx pod template")
		createMesh("  namespace: ingwlrefused-system\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")

		refusal := And(ContainSubstring("cannot put its sidecar settings on the pod template of Deployment "+controllerNS+"/controller"),
			ContainSubstring("the edge team's change freeze keeps the ingress-nginx pod template"))
		Eventually(func() []string { return warnings("Deployment", controllerNS, "controller") }, installTimeout, poll).
			Should(ContainElement(refusal), "the Deployment has no Warning Event that says why meshkeeper cannot configure it")
		Eventually(func() []string { return warnings("ServiceMesh", "", "default") }, installTimeout, poll).
			Should(ContainElement(refusal), "the ServiceMesh has no Warning Event that says why meshkeeper cannot configure the controller")
		// The retries with backoff meanwhile give the same answer: no new Event for it.
		Consistently(func() int { return len(warnings("Deployment", controllerNS, "controller")) }, "3s", poll).Should(Equal(1))

		By("lifting the policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(controller), d)).To(Succeed())
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("configures the controller the spec moves to while the old one refuses to give the settings back", func() {
		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/instance": "next"}
		next := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller-next"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: controllerPodSpec()}}}
		Expect(k8sClient.Create(ctx, next)).To(Succeed())
		deleteAtCleanup(next.DeepCopy())

		By("freezing the old controller's pod template, which holds meshkeeper's settings")
		vap, binding := freezeControllerTemplate("ingwlrefused-frozen-old", "the edge team's change freeze keeps the old controller's pod template")

		patchSpec(`{"ingressNginx": {"controller": {"name": "controller-next"}}}`)
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(next), d)).To(Succeed())
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"),
				"the controller the spec names was not configured while the old one refused its release")
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []string { return warnings("Deployment", controllerNS, "controller") }, installTimeout, poll).
			Should(ContainElement(And(ContainSubstring("take its sidecar settings back from the pod template of Deployment "+controllerNS+"/controller"),
				ContainSubstring("the edge team's change freeze keeps the old controller's pod template"))))

		By("lifting the policy")
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, vap)).To(Succeed())
		Eventually(func(g Gomega) {
			d := &appsv1.Deployment{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(controller), d)).To(Succeed())
			g.Expect(d.Spec.Template.Labels).NotTo(HaveKey("sidecar.istio.io/inject"))
		}, installTimeout, poll).Should(Succeed())
	})
})
