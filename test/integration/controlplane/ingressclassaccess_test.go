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
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ingressClassReaders is the ClusterRole, and the ClusterRoleBinding, that let every service account
// read IngressClasses: the specs' ingress-nginx controllers run as their namespace's default, and the
// ingress-nginx chart's ClusterRole grants its controller as much.
const ingressClassReaders = "ingress-nginx-ingressclasses"

// grantIngressClasses lets every service account get, list and watch IngressClasses, unless it does.
func grantIngressClasses() {
	GinkgoHelper()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: ingressClassReaders}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{networkingv1.GroupName}, Resources: []string{"ingressclasses"}, Verbs: []string{"get", "list", "watch"}}}}
	if err := k8sClient.Create(ctx, role); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ingressClassReaders},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: ingressClassReaders},
		Subjects: []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:serviceaccounts"}},
	}
	if err := k8sClient.Create(ctx, binding); !apierrors.IsAlreadyExists(err) {
		Expect(err).NotTo(HaveOccurred())
	}
}

// mayListIngressClasses tells whether the API server lets service account name of namespace list
// IngressClasses.
func mayListIngressClasses(namespace, name string) bool {
	GinkgoHelper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:               "system:serviceaccount:" + namespace + ":" + name,
		Groups:             []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Group: networkingv1.GroupName, Resource: "ingressclasses"},
	}}
	Expect(k8sClient.Create(ctx, review)).To(Succeed())
	return review.Status.Allowed
}

// An ingress-nginx controller whose service account may not list IngressClasses (installed with
// namespace-scoped RBAC only, the chart's rbac.scope, or with an old ClusterRole) turns its
// IngressClass support off as it starts: it ignores spec.ingressClassName, and serves an Ingress by its
// legacy annotation alone, or as one without a class. meshkeeper asks the API server what the
// controller's service account may do, and configures exactly the Ingresses such a controller serves.
var _ = Describe("an ingress-nginx controller that may not list IngressClasses", Ordered, func() {
	const (
		shopNS       = "ingclass-shop"
		controllerNS = "ingclass-nginx"
	)
	// The Ingresses' annotations as their users wrote them.
	originals := map[string]map[string]string{}
	asWritten := func(name string) map[string]string { return originals[name] }
	meshed := func(name, service string) map[string]string {
		return union(originals[name], map[string]string{serviceUpstream: "true", upstreamVhost: service + "." + shopNS + ".svc"})
	}
	expectIngresses := func(want map[string]map[string]string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			for name, annotations := range want {
				g.Expect(ingressAnnotations(shopNS, name)).To(Equal(annotations), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
	}
	// restartController restarts the controller's pods as kubectl rollout restart does: they ask again,
	// as they start, whether they may list IngressClasses.
	restartController := func() {
		GinkgoHelper()
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, d); err != nil {
				return err
			}
			if d.Spec.Template.Annotations == nil {
				d.Spec.Template.Annotations = map[string]string{}
			}
			d.Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] = time.Now().Format(time.RFC3339Nano)
			return k8sClient.Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}
	setArgs := func(args ...string) {
		GinkgoHelper()
		Eventually(func() error {
			d := &appsv1.Deployment{}
			if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, d); err != nil {
				return err
			}
			d.Spec.Template.Spec.Containers[0].Args = args
			return k8sClient.Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(shopNS, nil, nil)
		createNamespace(controllerNS, nil, nil)
		DeferCleanup(deleteMesh)
		deleteAtCleanup(
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "named"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "annotated"}},
			&networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "traefik"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "web"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "api"}},
			&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: shopNS, Name: "admin"}},
			&appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller"}},
			&networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "ingclass-traefik"}},
		)
		Expect(k8sClient.Create(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "ingclass-traefik"},
			Spec: networkingv1.IngressClassSpec{Controller: "traefik.io/ingress-controller"}})).To(Succeed())
		createPlainController(controllerNS, nil)
		for _, name := range []string{"web", "api", "admin"} {
			createService(shopNS, name, nil)
		}
		originals["named"] = createIngress(shopNS, "named", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		}).Annotations
		originals["annotated"] = createIngress(shopNS, "annotated", func(i *networkingv1.Ingress) {
			i.Annotations["kubernetes.io/ingress.class"] = "nginx"
			i.Spec.DefaultBackend = ptr.To(ingressBackend("api"))
		}).Annotations
		originals["traefik"] = createIngress(shopNS, "traefik", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("ingclass-traefik")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("admin"))
		}).Annotations
		createMesh("  namespace: ingclass-system\n  injection:\n    namespaces: [" + shopNS + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
	})

	It("configures the Ingresses by spec.ingressClassName while the controller may list IngressClasses", func() {
		Expect(mayListIngressClasses(controllerNS, "default")).To(BeTrue())
		expectIngresses(map[string]map[string]string{
			"named": meshed("named", "web"), "annotated": meshed("annotated", "api"), "traefik": asWritten("traefik")})
	})

	It("configures only those the controller serves once it may not: by the annotation, or without a class", func() {
		By("taking the controller's right to list IngressClasses away, and restarting it")
		Expect(k8sClient.Delete(ctx, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: ingressClassReaders}})).To(Succeed())
		DeferCleanup(grantIngressClasses)
		Eventually(func() bool { return mayListIngressClasses(controllerNS, "default") }, installTimeout, poll).Should(BeFalse())
		restartController()
		// spec.ingressClassName counts for nothing: the annotated Ingress alone is served.
		expectIngresses(map[string]map[string]string{
			"named": asWritten("named"), "annotated": meshed("annotated", "api"), "traefik": asWritten("traefik")})
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Ingresses.Configured).To(BeEquivalentTo(1))
			g.Expect(mesh.Status.Ingresses.Skipped).To(BeEquivalentTo(0))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Message).To(ContainSubstring("may not list IngressClasses"), "IngressesConfigured: %s", c.Reason)
		}, installTimeout, poll).Should(Succeed())

		By("running it with --watch-ingress-without-class: every Ingress without the annotation is served, whatever its spec.ingressClassName")
		setArgs("/nginx-ingress-controller", "--watch-ingress-without-class")
		expectIngresses(map[string]map[string]string{
			"named": meshed("named", "web"), "annotated": meshed("annotated", "api"), "traefik": meshed("traefik", "admin")})

		By("giving the right back, and restarting the controller: spec.ingressClassName counts again")
		grantIngressClasses()
		Eventually(func() bool { return mayListIngressClasses(controllerNS, "default") }, installTimeout, poll).Should(BeTrue())
		restartController()
		expectIngresses(map[string]map[string]string{
			"named": meshed("named", "web"), "annotated": meshed("annotated", "api"), "traefik": asWritten("traefik")})
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Message).NotTo(ContainSubstring("may not list IngressClasses"))
		}, installTimeout, poll).Should(Succeed())
	})
})
