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
	"net/netip"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	cidrControllerNS = "cidr-nginx"
	includeOutbound  = "traffic.sidecar.istio.io/includeOutboundIPRanges"
	// cidrMeshSpec enables the integration without spec.ingressNginx.serviceCIDRs.
	cidrMeshSpec = "  namespace: cidr-system\n  ingressNginx:\n    enabled: true\n" +
		"    controller: {namespace: cidr-nginx, name: controller, kind: Deployment}\n"
	// extraRange is the range of the ServiceCIDR the tests add; it overlaps no range of the API server's.
	extraRange = "10.250.0.0/16"
)

// outboundRanges returns the ranges the ingress-nginx controller's sidecar captures, as meshkeeper set them.
func outboundRanges() string {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: cidrControllerNS, Name: "controller"}, d)).To(Succeed())
	return d.Spec.Template.Annotations[includeOutbound]
}

// setReady writes the Ready condition of a ServiceCIDR as kube-controller-manager's ServiceCIDR
// controller would; the envtest tier has none.
func setReady(name string, status metav1.ConditionStatus) {
	GinkgoHelper()
	Eventually(func() error {
		s := &networkingv1.ServiceCIDR{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Name: name}, s); err != nil {
			return err
		}
		meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{Type: networkingv1.ServiceCIDRConditionReady,
			Status: status, Reason: "Test", Message: "written by the test"})
		return k8sClient.Status().Update(ctx, s)
	}, installTimeout, poll).Should(Succeed())
}

var _ = Describe("Service ranges from the cluster's ServiceCIDRs", Ordered, func() {
	// apiServerRanges are the ranges of the API server's --service-cluster-ip-range, as its default
	// ServiceCIDR "kubernetes" tells them.
	var apiServerRanges string

	BeforeAll(func() {
		deleteMesh()
		createNamespace(cidrControllerNS, nil, nil)
		createPlainController(cidrControllerNS, nil)

		defaultCIDR := &networkingv1.ServiceCIDR{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "kubernetes"}, defaultCIDR)).To(Succeed())
			g.Expect(meta.IsStatusConditionTrue(defaultCIDR.Status.Conditions, networkingv1.ServiceCIDRConditionReady)).To(BeTrue())
		}, installTimeout, poll).Should(Succeed(), "the API server has no Ready default ServiceCIDR")
		Expect(defaultCIDR.Spec.CIDRs).NotTo(BeEmpty())
		apiServerRanges = strings.Join(defaultCIDR.Spec.CIDRs, ",")
		// That is the range the API server allocates ClusterIPs from: the kubernetes Service's is in it.
		kubernetesService := &corev1.Service{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: "default", Name: "kubernetes"}, kubernetesService)).To(Succeed())
		Expect(netip.MustParsePrefix(defaultCIDR.Spec.CIDRs[0]).Contains(netip.MustParseAddr(kubernetesService.Spec.ClusterIP))).To(BeTrue())
		Expect(apiServerRanges).NotTo(ContainSubstring(extraRange))

		createMesh(cidrMeshSpec)
	})
	AfterAll(func() {
		deleteMesh()
		Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"}}))).To(Succeed())
	})

	It("captures the API server's Service range when the spec lists none", func() {
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges))
		Expect(getMesh().Spec.IngressNginx.ServiceCIDRs).To(BeEmpty(), "meshkeeper wrote the ranges into the spec")
		markAvailable(cidrControllerNS, "controller") // its pods have the sidecar
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "IngressesConfigured: %s: %s", c.Reason, c.Message)
		}, installTimeout, poll).Should(Succeed())
	})

	It("follows a ServiceCIDR added to the cluster once it is Ready, and one removed", func() {
		Expect(k8sClient.Create(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"},
			Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{extraRange}}})).To(Succeed())
		// Not Ready yet: the API server allocates nothing from it, so it does not count.
		Consistently(outboundRanges, 3*time.Second, 300*time.Millisecond).Should(Equal(apiServerRanges))

		setReady("extra", metav1.ConditionTrue)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges + "," + extraRange))

		setReady("extra", metav1.ConditionFalse)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges))
		setReady("extra", metav1.ConditionTrue)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges + "," + extraRange))

		By("keeping the range of a ServiceCIDR being deleted, which Services may still hold ClusterIPs of")
		// kube-controller-manager's ServiceCIDR controller (not in this tier) keeps such a ServiceCIDR
		// with its protection finalizer and says so in its Ready condition.
		const protection = "networking.k8s.io/service-cidr-finalizer"
		setFinalizers := func(finalizers []string) {
			Eventually(func() error {
				s := &networkingv1.ServiceCIDR{}
				if err := k8sClient.Get(ctx, client.ObjectKey{Name: "extra"}, s); err != nil {
					return err
				}
				s.Finalizers = finalizers
				return k8sClient.Update(ctx, s)
			}, installTimeout, poll).Should(Succeed())
		}
		setFinalizers([]string{protection})
		Expect(k8sClient.Delete(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"}})).To(Succeed())
		setReady("extra", metav1.ConditionFalse)
		Consistently(outboundRanges, 3*time.Second, 300*time.Millisecond).Should(Equal(apiServerRanges+","+extraRange),
			"the range of a ServiceCIDR being deleted was dropped while Services may still hold its ClusterIPs")

		By("dropping the range once the ServiceCIDR is gone")
		setFinalizers(nil)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges))
	})

	It("captures the ranges the spec lists instead, whatever the cluster's ServiceCIDRs say", func() {
		patchSpec(`{"ingressNginx": {"serviceCIDRs": ["10.96.0.0/12"]}}`)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal("10.96.0.0/12"))

		Expect(k8sClient.Create(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"},
			Spec: networkingv1.ServiceCIDRSpec{CIDRs: []string{extraRange}}})).To(Succeed())
		setReady("extra", metav1.ConditionTrue)
		Consistently(outboundRanges, 3*time.Second, 300*time.Millisecond).Should(Equal("10.96.0.0/12"))

		By("reading the cluster's ranges again once the field is removed")
		patchSpec(`{"ingressNginx": {"serviceCIDRs": null}}`)
		Eventually(outboundRanges, installTimeout, poll).Should(Equal(apiServerRanges + "," + extraRange))
		Expect(k8sClient.Delete(ctx, &networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: "extra"}})).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: "extra"}, &networkingv1.ServiceCIDR{}))
		}, installTimeout, poll).Should(BeTrue())
	})
})
