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
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	coControllerNS = "co-nginx"
	coMeshSpec     = "  namespace: cokey-system\n  ingressNginx:\n    enabled: true\n" +
		"    controller: {namespace: co-nginx, name: controller, kind: Deployment}\n    serviceCIDRs: [10.96.0.0/12]\n"
)

// The ingress-nginx chart's podAnnotations, applied by Helm 4 (server-side apply, field manager helm,
// with force), may hold one of meshkeeper's keys with meshkeeper's value: both then own it.
var _ = Describe("a pod-template key the controller's owner applied with meshkeeper's value", Ordered, func() {
	controller := func() *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: coControllerNS, Name: "controller"}, d)).To(Succeed())
		return d
	}

	// helmApply applies spec as the whole of what Helm 4 sets on the controller: server-side, as field
	// manager helm, with force.
	helmApply := func(spec map[string]any) {
		GinkgoHelper()
		u := &unstructured.Unstructured{Object: map[string]any{}}
		if spec != nil {
			u.Object["spec"] = spec
		}
		u.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("Deployment"))
		u.SetNamespace(coControllerNS)
		u.SetName("controller")
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("helm"), client.ForceOwnership)).To(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(coControllerNS, nil, nil)
		createPlainController(coControllerNS, nil)
		createMesh(coMeshSpec)
	})
	AfterAll(deleteMesh)

	It("is reported as the owner's value, and not fought over, when meshkeeper's value changes", func() {
		Eventually(func() string { return controller().Spec.Template.Annotations[includeOutbound] }, installTimeout, poll).
			Should(Equal("10.96.0.0/12"))

		By("applying the chart's podAnnotations as Helm 4 does, with the value meshkeeper set")
		helmApply(map[string]any{"template": map[string]any{"metadata": map[string]any{"annotations": map[string]any{includeOutbound: "10.96.0.0/12"}}}})

		By("changing the ranges meshkeeper wants")
		patchSpec(`{"ingressNginx":{"serviceCIDRs":["10.96.0.0/12","10.250.0.0/16"]}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal("AnnotationConflict"), "IngressesConfigured: %s: %s", c.Status, c.Message)
			g.Expect(c.Message).To(ContainSubstring(includeOutbound))
			g.Expect(c.Message).To(ContainSubstring(`"helm"`))
		}, installTimeout, poll).Should(Succeed())

		d := controller()
		Expect(d.Spec.Template.Annotations[includeOutbound]).To(Equal("10.96.0.0/12"), "the owner's value was changed")
		Expect(d.Spec.Template.Labels).NotTo(HaveKey("sidecar.istio.io/inject"), "meshkeeper kept part of its settings")
		Expect(warningsAbout("Deployment", coControllerNS+"/controller")).To(ContainElement("AnnotationConflict"))

		By("writing nothing more to the controller once the conflict is reported")
		version := d.ResourceVersion
		Consistently(func() string { return controller().ResourceVersion }, 3*time.Second, 500*time.Millisecond).Should(Equal(version))

		By("configuring the controller again once the owner's chart no longer sets the key")
		helmApply(nil)
		Eventually(func(g Gomega) {
			d := controller()
			g.Expect(d.Spec.Template.Annotations[includeOutbound]).To(Equal("10.96.0.0/12,10.250.0.0/16"))
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		}, installTimeout, poll).Should(Succeed())
	})
})
