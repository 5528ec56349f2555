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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	lifecycleNS       = "life-nginx"
	lifecycleApps     = "life-shop"
	lifecycleMeshSpec = "  namespace: life-system\n  injection:\n    namespaces: [life-shop]\n  ingressNginx:\n    enabled: true\n" +
		"    controller: {namespace: life-nginx, name: controller, kind: Deployment}\n    serviceCIDRs: [10.96.0.0/12]\n"
)

// The ingress-nginx installation is its platform team's: Helm reinstalls it, replaces its pod template,
// turns its Deployment into a DaemonSet. meshkeeper follows each change with the writes it needs and no
// more, and IngressesConfigured says what the controller's pods run with. The envtest tier has no
// Deployment controller, so the test writes the workloads' status as theirs would.
var _ = Describe("the ingress-nginx controller through its own lifecycle", Ordered, func() {
	key := client.ObjectKey{Namespace: lifecycleNS, Name: "controller"}
	meshed := map[string]string{"owner": "web", serviceUpstream: "true", upstreamVhost: "web.life-shop.svc"}
	get := func() *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
		return d
	}
	writeStatus := func(replicas int32) {
		GinkgoHelper()
		Eventually(func() error {
			d := get()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
				ReadyReplicas: replicas, AvailableReplicas: replicas}
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}
	expectCondition := func(status metav1.ConditionStatus, reason string, mentions ...string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(status), "IngressesConfigured: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(reason), c.Message)
			for _, m := range mentions {
				g.Expect(c.Message).To(ContainSubstring(m))
			}
		}, installTimeout, poll).Should(Succeed())
	}
	configured := func() {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			d := get()
			g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
			g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(includeOutbound, "10.96.0.0/12"))
			g.Expect(ingressAnnotations(lifecycleApps, "web")).To(Equal(meshed))
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(lifecycleNS, nil, nil)
		createNamespace(lifecycleApps, nil, nil)
		createService(lifecycleApps, "web", nil)
		createIngress(lifecycleApps, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		createPlainController(lifecycleNS, ptr.To[int32](2))
		writeStatus(2)
		createMesh(lifecycleMeshSpec)
		DeferCleanup(deleteMesh)
		configured()
		writeStatus(2)
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonConfigured)
	})

	It("puts its keys back once after helm upgrade --force replaces the pod template, and then writes nothing", func() {
		// helm upgrade --force replaces the Deployment with the chart's manifest (a PUT), which knows
		// nothing of meshkeeper's keys.
		Eventually(func() error {
			d := get()
			d.Spec.Template.Labels = map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
			d.Spec.Template.Annotations = nil
			d.Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/ingress-nginx/controller:v1.13.1"
			return k8sClient.Update(ctx, d, client.FieldOwner("helm"))
		}, installTimeout, poll).Should(Succeed())
		configured()
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "not seen yet")
		writeStatus(2)
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonConfigured)
		version := get().ResourceVersion
		Consistently(func() string { return get().ResourceVersion }, 3*time.Second, poll).Should(Equal(version))
	})

	It("writes nothing while the controller is scaled to 0 and back, and stays configured", func() {
		scale := func(replicas int32) int64 {
			GinkgoHelper()
			var generation int64
			Eventually(func() error {
				d := get()
				d.Spec.Replicas = ptr.To(replicas)
				err := k8sClient.Update(ctx, d)
				generation = d.Generation
				return err
			}, installTimeout, poll).Should(Succeed())
			writeStatus(replicas)
			return generation
		}
		for _, replicas := range []int32{0, 2} {
			generation := scale(replicas)
			// A write of meshkeeper's to the pod template would move the generation.
			Consistently(func(g Gomega) {
				g.Expect(get().Generation).To(Equal(generation))
				g.Expect(conditionOf(meshv1alpha1.ConditionIngressesConfigured).Reason).To(Equal(meshv1alpha1.ReasonConfigured))
				g.Expect(ingressAnnotations(lifecycleApps, "web")).To(Equal(meshed))
			}, 2*time.Second, poll).Should(Succeed(), "scaled to %d", replicas)
		}
	})

	It("configures a reinstalled controller again, and the Ingress follows", func() {
		Expect(k8sClient.Delete(ctx, get())).To(Succeed())
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonControllerNotFound, "Deployment life-nginx/controller")
		Eventually(func() map[string]string { return ingressAnnotations(lifecycleApps, "web") }, installTimeout, poll).
			Should(Equal(map[string]string{"owner": "web"}))
		createPlainController(lifecycleNS, ptr.To[int32](2))
		configured()
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "not seen yet")
		writeStatus(2)
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonConfigured)
	})

	It("follows the controller from a Deployment to a DaemonSet of the same name", func() {
		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: lifecycleNS, Name: "controller"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: controllerPodSpec()},
			},
		}
		// helm upgrade --set controller.kind=DaemonSet: the Deployment goes, a DaemonSet of the same
		// name comes, and the spec still names the Deployment.
		Expect(k8sClient.Delete(ctx, get())).To(Succeed())
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonControllerNotFound, "Deployment life-nginx/controller")
		Expect(k8sClient.Create(ctx, ds)).To(Succeed())
		// ingress-nginx is installed there: the condition says which kind to name, not to install it.
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonControllerNotFound,
			"Deployment life-nginx/controller, named by spec.ingressNginx.controller, does not exist, but DaemonSet life-nginx/controller does",
			"set spec.ingressNginx.controller.kind to DaemonSet")
		Expect(conditionOf(meshv1alpha1.ConditionIngressesConfigured).Message).NotTo(ContainSubstring("install ingress-nginx there"))
		Eventually(func() []string { return warningsAbout("DaemonSet", lifecycleNS+"/controller") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonControllerNotFound))
		patchSpec(`{"ingressNginx": {"controller": {"kind": "DaemonSet"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, ds)).To(Succeed())
			g.Expect(ds.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() map[string]string { return ingressAnnotations(lifecycleApps, "web") }, installTimeout, poll).Should(Equal(meshed))
	})

	It("says that the controller's namespace is being deleted once the controller is gone from it", func() {
		// No namespace controller runs against this API server, so the namespace stays Terminating, as
		// one held by a finalizer does; nothing can be created in it until it is gone.
		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: lifecycleNS}})).To(Succeed())
		Expect(k8sClient.Delete(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: lifecycleNS, Name: "controller"}})).To(Succeed())
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonControllerNotFound,
			"DaemonSet life-nginx/controller, named by spec.ingressNginx.controller, does not exist, and namespace life-nginx is being deleted")
		Expect(conditionOf(meshv1alpha1.ConditionIngressesConfigured).Message).NotTo(ContainSubstring("install ingress-nginx there"))
		Eventually(func() map[string]string { return ingressAnnotations(lifecycleApps, "web") }, installTimeout, poll).
			Should(Equal(map[string]string{"owner": "web"}))
	})
})
