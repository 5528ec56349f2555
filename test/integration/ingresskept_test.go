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

package integration

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// An Ingress of a namespace that left the mesh keeps meshkeeper's annotations while pods there still
// run a sidecar, and its upstream-vhost follows a new backend Service. The Ingress reconciler runs here
// on its own against the API server, reading around any cache.
var _ = Describe("The Ingress controller, for an Ingress kept for its namespace's sidecars", func() {
	const (
		shopNS       = "ikept-shop"
		controllerNS = "ikept-nginx"
	)
	AfterEach(deleteMesh)

	// The owner's manifest (Argo CD with ServerSideApply) applied meshkeeper's upstream-vhost too. When
	// the backend moves, the owner's value stays: meshkeeper's apply of the new one is refused by the
	// API server (a conflict with the owner's field manager) at every retry, and was reported as a
	// refusal of an admission webhook's. It is left to the owner, and reported as a conflict, as in the
	// mesh.
	It("leaves an upstream-vhost the owner applied too when the backend moves", func() {
		for _, name := range []string{shopNS, controllerNS} {
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		}
		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
		controller := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "controller",
						Image: "registry.k8s.io/ingress-nginx/controller:v1.13.0", Args: []string{"/nginx-ingress-controller"}}}}}}}
		var cidrs []string
		objects := []client.Object{controller}
		for _, name := range []string{"web", "api"} {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: name},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
			objects = append(objects, svc)
		}
		// Injected while the namespace was in the mesh, and still running.
		pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web-sidecar", Annotations: map[string]string{
			"sidecar.istio.io/status": `{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"default"}`}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"},
				{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"}}}}
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"},
			Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"), DefaultBackend: &networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}}
		objects = append(objects, pod, ing)
		for _, obj := range objects {
			Expect(k8sClient.Create(ctx, obj)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj))).To(Succeed()) })
			if svc, ok := obj.(*corev1.Service); ok {
				cidrs = append(cidrs, svc.Spec.ClusterIP+"/32")
			}
		}
		// The namespace is no longer listed in spec.injection.
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
		mesh.Spec.IngressNginx = meshv1alpha1.IngressNginxSpec{Enabled: ptr.To(true), IngressClassNames: []string{"nginx"}, ServiceCIDRs: cidrs,
			Controller: meshv1alpha1.WorkloadReference{Namespace: controllerNS, Name: "controller", Kind: "Deployment"}}
		Expect(k8sClient.Create(ctx, mesh)).To(Succeed())

		vhost := "web." + shopNS + ".svc"
		Expect(apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{
			policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: vhost})).To(Succeed())
		owner := &unstructured.Unstructured{}
		owner.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("Ingress"))
		owner.SetNamespace(shopNS)
		owner.SetName("web")
		owner.SetAnnotations(map[string]string{policy.AnnotationUpstreamVhost: vhost})
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(owner), client.FieldOwner("argocd-controller"))).To(Succeed())

		By("pointing the Ingress at Service api")
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
		ing.Spec.DefaultBackend.Service.Name = "api"
		Expect(k8sClient.Update(ctx, ing)).To(Succeed())

		recorder := events.NewFakeRecorder(20)
		r := &ingress.Reconciler{Client: k8sClient, Recorder: recorder,
			Controller: ingress.ControllerSource{APIReader: k8sClient, Namespaces: k8sClient}}
		for range 2 { // a retry meets the same answer
			_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)})
			Expect(err).NotTo(HaveOccurred())
		}
		close(recorder.Events)
		var recorded []string
		for e := range recorder.Events {
			recorded = append(recorded, e)
		}
		// Warned about once, as a conflict with the owner, not as a refusal of the API server's.
		Expect(recorded).To(ConsistOf(And(HavePrefix("Warning "+policy.AnnotationConflict+" "),
			ContainSubstring(`(field manager "argocd-controller")`), ContainSubstring(`"api.`+shopNS+`.svc"`))))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), ing)).To(Succeed())
		Expect(ing.Annotations).To(Equal(map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: vhost}))
	})
})
