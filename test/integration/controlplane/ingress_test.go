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
	"fmt"
	"maps"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	ingNamespace       = "ing-shop"
	ingOther           = "ing-other"
	ingControllerNS    = "ing-nginx"
	serviceUpstream    = "nginx.ingress.kubernetes.io/service-upstream"
	upstreamVhost      = "nginx.ingress.kubernetes.io/upstream-vhost"
	meshIngressSpecFmt = "  namespace: ing-system\n  injection:\n    namespaces: [ing-shop]\n" +
		"  ingressNginx:\n    enabled: true\n    controller: {namespace: ing-nginx, name: %s, kind: %s}\n" +
		"    serviceCIDRs: [10.96.0.0/12, fd00:10:96::/112]\n"
)

// sidecarTemplate is what meshkeeper adds to the ingress-nginx controller's pod template.
var (
	sidecarLabels      = map[string]string{"sidecar.istio.io/inject": "true"}
	sidecarAnnotations = map[string]string{
		"traffic.sidecar.istio.io/includeInboundPorts":     "",
		"traffic.sidecar.istio.io/includeOutboundIPRanges": "10.96.0.0/12,fd00:10:96::/112",
		"proxy.istio.io/config":                            `{"holdApplicationUntilProxyStarts": true}`,
	}
)

func union(a, b map[string]string) map[string]string {
	out := maps.Clone(a)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, b)
	return out
}

func ingressBackend(service string) networkingv1.IngressBackend {
	return networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{
		Name: service, Port: networkingv1.ServiceBackendPort{Number: 80}}}
}

func rule(host string, paths map[string]string) networkingv1.IngressRule {
	r := networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{}}}
	prefix := networkingv1.PathTypePrefix
	for path, service := range paths {
		r.HTTP.Paths = append(r.HTTP.Paths, networkingv1.HTTPIngressPath{Path: path, PathType: &prefix, Backend: ingressBackend(service)})
	}
	return r
}

func createIngress(namespace, name string, mutate func(*networkingv1.Ingress)) *networkingv1.Ingress {
	GinkgoHelper()
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		Annotations: map[string]string{"owner": name}}}
	mutate(ing)
	Expect(k8sClient.Create(ctx, ing)).To(Succeed())
	return ing
}

// updateIngress changes an Ingress's spec as its user would, retrying on conflicts with meshkeeper's writes.
func updateIngress(name string, mutate func(*networkingv1.Ingress)) {
	GinkgoHelper()
	Eventually(func() error {
		ing := &networkingv1.Ingress{}
		if err := k8sClient.Get(ctx, client.ObjectKey{Namespace: ingNamespace, Name: name}, ing); err != nil {
			return err
		}
		mutate(ing)
		return k8sClient.Update(ctx, ing)
	}, installTimeout, poll).Should(Succeed())
}

func ingressAnnotations(namespace, name string) map[string]string {
	GinkgoHelper()
	ing := &networkingv1.Ingress{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, ing)).To(Succeed())
	return ing.Annotations
}

func createService(namespace, name string, mutate func(*corev1.Service)) {
	GinkgoHelper()
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, Selector: map[string]string{"app": name}}}
	if mutate != nil {
		mutate(svc)
	}
	Expect(k8sClient.Create(ctx, svc)).To(Succeed())
}

func controllerPodSpec() corev1.PodSpec {
	return corev1.PodSpec{Containers: []corev1.Container{{Name: "controller",
		Image: "registry.k8s.io/ingress-nginx/controller:v1.13.0", Args: []string{"/nginx-ingress-controller"}}}}
}

// createPlainController creates the Deployment "controller" of ingress-nginx in namespace, with the
// given replicas (nil: the API server's default) and nothing else of its own.
func createPlainController(namespace string, replicas *int32) {
	GinkgoHelper()
	labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
	Expect(k8sClient.Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "controller"},
		Spec: appsv1.DeploymentSpec{
			Replicas: replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: controllerPodSpec()},
		},
	})).To(Succeed())
}

func createControllerDeployment(name string) *appsv1.Deployment {
	GinkgoHelper()
	labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx", "app.kubernetes.io/component": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ingControllerNS, Name: name,
			Labels: map[string]string{"app.kubernetes.io/part-of": "ingress-nginx"}, Annotations: map[string]string{"team": "edge"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{"prometheus.io/scrape": "true"}},
				Spec:       controllerPodSpec(),
			},
		},
	}
	Expect(k8sClient.Create(ctx, d)).To(Succeed())
	return d
}

// setControllerArgs sets the args of the ingress-nginx controller container of the Deployment
// "controller", as its owner would, retrying on conflicts with meshkeeper's writes.
func setControllerArgs(args ...string) {
	GinkgoHelper()
	Eventually(func() error {
		d := getDeployment("controller")
		d.Spec.Template.Spec.Containers[0].Args = args
		return k8sClient.Update(ctx, d)
	}, installTimeout, poll).Should(Succeed())
}

func getDeployment(name string) *appsv1.Deployment {
	GinkgoHelper()
	d := &appsv1.Deployment{}
	Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ingControllerNS, Name: name}, d)).To(Succeed())
	return d
}

// warningsAbout returns the reasons of the Warning Events about the object of kind named name, or
// namespace/name. Events outlive the specs that caused them, and other specs use the same names in
// their own namespaces: a check that an Event is absent names the namespace.
func warningsAbout(kind, name string) []string {
	GinkgoHelper()
	namespace, name, namespaced := strings.Cut(name, "/")
	if !namespaced {
		namespace, name = "", namespace
	}
	var reasons []string
	for _, e := range listEvents() {
		if e.Type == corev1.EventTypeWarning && e.Regarding.Kind == kind && e.Regarding.Name == name &&
			(!namespaced || e.Regarding.Namespace == namespace) {
			reasons = append(reasons, e.Reason)
		}
	}
	return reasons
}

var _ = Describe("ingress-nginx integration", long, Ordered, func() {
	// The Ingresses and the controller as their users wrote them, as the API server returned them.
	originals := map[string]map[string]string{}
	var controller *appsv1.Deployment

	expectIngressesAsWritten := func(names ...string) {
		GinkgoHelper()
		for _, name := range names {
			Expect(ingressAnnotations(ingNamespace, name)).To(Equal(originals[name]), "Ingress %s", name)
		}
	}
	expectControllerAsWritten := func(name string, want *appsv1.Deployment) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			d := getDeployment(name)
			g.Expect(d.Spec.Template.Labels).To(Equal(want.Spec.Template.Labels))
			g.Expect(d.Spec.Template.Annotations).To(Equal(want.Spec.Template.Annotations))
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(ingNamespace, map[string]string{"team": "shop"}, nil)
		createNamespace(ingOther, nil, nil)
		createNamespace(ingControllerNS, nil, nil)
		controller = createControllerDeployment("controller")

		Expect(k8sClient.Create(ctx, &networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: "nginx", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
			Spec:       networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"},
		})).To(Succeed())
		Expect(k8sClient.Create(ctx, &networkingv1.IngressClass{
			ObjectMeta: metav1.ObjectMeta{Name: "internal"}, Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/internal-nginx"},
		})).To(Succeed())

		createService(ingNamespace, "web", nil)
		createService(ingNamespace, "api", nil)
		createService(ingNamespace, "admin", nil)
		createService(ingNamespace, "db", func(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone })
		createService(ingNamespace, "partner", func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "api.partner.example.com"}
		})
		createService(ingOther, "web", nil)

		nginx := ptr.To("nginx")
		for name, mutate := range map[string]func(*networkingv1.Ingress){
			// Two hosts, TLS, several paths, one Service, plus a user's own nginx annotation.
			"web": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Annotations["nginx.ingress.kubernetes.io/proxy-body-size"] = "8m"
				i.Spec.TLS = []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com", "www.shop.example.com"}, SecretName: "shop-tls"}}
				i.Spec.Rules = []networkingv1.IngressRule{
					rule("shop.example.com", map[string]string{"/": "web", "/static": "web"}),
					rule("www.shop.example.com", map[string]string{"/": "web"}),
				}
			},
			// The class from the legacy annotation, and only a default backend.
			"legacy": func(i *networkingv1.Ingress) {
				i.Annotations["kubernetes.io/ingress.class"] = "nginx"
				i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
			},
			// No class at all: the cluster's default IngressClass is nginx.
			"defaulted": func(i *networkingv1.Ingress) {
				i.Spec.Rules = []networkingv1.IngressRule{rule("api.example.com", map[string]string{"/": "api"})}
			},
			// So many Services that the Warning naming them is longer than an Event's note may be: it
			// is recorded all the same, cut. None of them is another mesh Ingress's, which would be
			// held back with it (SharedUpstream).
			"split": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				paths := map[string]string{"/": "cart", "/api": "checkout"}
				for n := range 40 {
					paths[fmt.Sprintf("/catalogue/%d", n)] = fmt.Sprintf("storefront-catalogue-backend-%02d", n)
				}
				i.Spec.Rules = []networkingv1.IngressRule{rule("shop.example.com", paths)}
			},
			"headless": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Spec.DefaultBackend = ptr.To(ingressBackend("db"))
			},
			"external": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Spec.DefaultBackend = ptr.To(ingressBackend("partner"))
			},
			"missing": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Spec.DefaultBackend = ptr.To(ingressBackend("later"))
			},
			"bucket": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
					APIGroup: ptr.To("storage.example.com"), Kind: "Bucket", Name: "assets"}}
			},
			"user-vhost": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = nginx
				i.Annotations[upstreamVhost] = "admin.example.internal"
				i.Spec.DefaultBackend = ptr.To(ingressBackend("admin"))
			},
			"internal": func(i *networkingv1.Ingress) {
				i.Spec.IngressClassName = ptr.To("internal")
				i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
			},
		} {
			originals[name] = createIngress(ingNamespace, name, mutate).Annotations
		}
		createIngress(ingOther, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = nginx
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		controller = getDeployment("controller") // as the API server defaulted it
		createMesh(fmtSpec("controller", "Deployment"))
	})
	AfterAll(func() {
		deleteMesh()
		for _, name := range []string{"nginx", "internal"} {
			Expect(k8sClient.Delete(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
		}
	})

	It("gives the controller's pod template the sidecar settings, and changes nothing else of it", func() {
		Eventually(func(g Gomega) {
			d := getDeployment("controller")
			g.Expect(d.Spec.Template.Labels).To(Equal(union(controller.Spec.Template.Labels, sidecarLabels)))
			g.Expect(d.Spec.Template.Annotations).To(Equal(union(controller.Spec.Template.Annotations, sidecarAnnotations)))
		}, installTimeout, poll).Should(Succeed())
		d := getDeployment("controller")
		Expect(d.Labels).To(Equal(controller.Labels))
		Expect(d.Annotations).To(Equal(controller.Annotations))
		Expect(d.Spec.Template.Spec).To(Equal(controller.Spec.Template.Spec))
		Expect(d.Spec.Selector).To(Equal(controller.Spec.Selector))
	})

	It("reads the controller workload when it changes, not on every status pass", func() {
		path := "/apis/apps/v1/namespaces/" + ingControllerNS + "/deployments/controller"
		reconciles := func(controller string) float64 {
			GinkgoHelper()
			n, err := metricSum(`controller_runtime_reconcile_total{`, `controller="`+controller+`"`)
			Expect(err).NotTo(HaveOccurred())
			return n
		}
		// Settled: the controller carries its sidecar settings (the spec before), and the status reports the Ingresses.
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Ingresses).NotTo(BeNil())
			g.Expect(getDeployment("controller").Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		}, installTimeout, poll).Should(Succeed())
		gets, passes, workloadPasses := managerGets.Of(path), reconciles("servicemesh"), reconciles("ingressnginx")
		// Nor is the control-plane namespace read around the cache on a status pass.
		namespacePath := "/api/v1/namespaces/" + getMesh().Spec.Namespace
		namespaceGets := managerGets.Of(namespacePath)
		// Pods of an enrolled namespace each wake the status pass.
		var pods []*corev1.Pod
		for i := range 5 {
			before := reconciles("servicemesh")
			pods = append(pods, createPod(ingNamespace, fmt.Sprintf("churn-%d", i), "", "", nil))
			Eventually(func() float64 { return reconciles("servicemesh") }, installTimeout, poll).Should(BeNumerically(">", before))
		}
		DeferCleanup(func() {
			for _, pod := range pods {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
			}
		})
		Expect(reconciles("servicemesh") - passes).To(BeNumerically(">=", 5))
		// At most one read more than the workload reconciler's own: a status pass that ran before the
		// reconciler saw the controller's last change.
		Expect(float64(managerGets.Of(path)-gets)).To(BeNumerically("<=", reconciles("ingressnginx")-workloadPasses+1),
			"the controller Deployment was read %d times in %v status passes", managerGets.Of(path)-gets, reconciles("servicemesh")-passes)
		Expect(managerGets.Of(namespacePath)-namespaceGets).To(BeZero(),
			"the control-plane namespace was read around the cache in %v status passes", reconciles("servicemesh")-passes)
	})

	It("routes every mesh Ingress through the mesh and leaves every other as written", func() {
		Eventually(func(g Gomega) {
			for _, name := range []string{"web", "legacy"} {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(union(originals[name],
					map[string]string{serviceUpstream: "true", upstreamVhost: "web.ing-shop.svc"})), "Ingress %s", name)
			}
			g.Expect(ingressAnnotations(ingNamespace, "defaulted")).To(Equal(union(originals["defaulted"],
				map[string]string{serviceUpstream: "true", upstreamVhost: "api.ing-shop.svc"})))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			for _, name := range []string{"split", "headless", "external", "missing", "bucket", "user-vhost", "internal"} {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(originals[name]), "Ingress %s", name)
			}
			g.Expect(ingressAnnotations(ingOther, "web")).To(Equal(map[string]string{"owner": "web"}))
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())
	})

	It("counts and reports the mesh Ingresses it cannot configure", func() {
		Eventually(func(g Gomega) {
			status := getMesh().Status.Ingresses
			g.Expect(status.Configured).To(BeEquivalentTo(3))
			g.Expect(status.Skipped).To(BeEquivalentTo(6))
			g.Expect(status.SkippedByReason).To(Equal(map[string]int32{
				"MultipleBackendServices": 1, "ServiceHeadless": 1, "ServiceExternalName": 1,
				"ServiceMissing": 1, "ResourceBackend": 1, "AnnotationConflict": 1,
			}))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonIngressesSkipped))
			g.Expect(c.Message).To(ContainSubstring("MultipleBackendServices: ing-shop/split"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(warningsAbout("Ingress", "split")).To(ContainElement("MultipleBackendServices"))
			g.Expect(warningsAbout("Ingress", "headless")).To(ContainElement("ServiceHeadless"))
			g.Expect(warningsAbout("Ingress", "user-vhost")).To(ContainElement("AnnotationConflict"))
		}, installTimeout, poll).Should(Succeed())
		Expect(warningsAbout("Ingress", ingNamespace+"/web")).To(BeEmpty())
		Expect(warningsAbout("Ingress", ingNamespace+"/internal")).To(BeEmpty())
		Eventually(func() ([]string, error) {
			return missingMetrics(
				"meshkeeper_ingresses_configured 3",
				`meshkeeper_ingresses_skipped{reason="MultipleBackendServices"} 1`,
				`meshkeeper_ingresses_skipped{reason="AnnotationConflict"} 1`,
				`controller_runtime_reconcile_time_seconds_count{controller="ingress"}`,
				`controller_runtime_reconcile_time_seconds_count{controller="ingressnginx"}`,
			)
		}, installTimeout, poll).Should(BeEmpty())
	})

	It("converges when a case no longer applies, and gives back its annotations when an Ingress leaves", func() {
		By("creating the missing Service")
		createService(ingNamespace, "later", nil)
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "missing") }, installTimeout, poll).
			Should(Equal(union(originals["missing"], map[string]string{serviceUpstream: "true", upstreamVhost: "later.ing-shop.svc"})))

		By("splitting the Ingress that sent to two Services")
		updateIngress("split", func(ing *networkingv1.Ingress) {
			ing.Spec.Rules = []networkingv1.IngressRule{rule("shop.example.com", map[string]string{"/": "web"})}
		})
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "split") }, installTimeout, poll).
			Should(Equal(union(originals["split"], map[string]string{serviceUpstream: "true", upstreamVhost: "web.ing-shop.svc"})))

		By("moving an Ingress to a class the controller does not serve")
		updateIngress("web", func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = ptr.To("internal") })
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "web") }, installTimeout, poll).
			Should(Equal(originals["web"]))
		updateIngress("web", func(ing *networkingv1.Ingress) { ing.Spec.IngressClassName = ptr.To("nginx") })

		Eventually(func(g Gomega) {
			status := getMesh().Status.Ingresses
			g.Expect(status.Configured).To(BeEquivalentTo(5))
			g.Expect(status.SkippedByReason).NotTo(HaveKey("ServiceMissing"))
			g.Expect(status.SkippedByReason).NotTo(HaveKey("MultipleBackendServices"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("serves an Ingress without a class exactly while the controller runs with --watch-ingress-without-class", func() {
		// ingress-nginx never reads the cluster's default IngressClass: the API server's admission gives it
		// to Ingresses as they are created, and one created before a class was marked default has none.
		Expect(k8sClient.Patch(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}}, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"ingressclass.kubernetes.io/is-default-class":null}}}`)))).To(Succeed())
		// The API server's admission reads IngressClasses from a cache of its own, which may still see the
		// class as the default for a moment after the patch: an Ingress it gave the class is made again.
		var classless *networkingv1.Ingress
		Eventually(func(g Gomega) {
			ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ingNamespace, Name: "classless",
				Annotations: map[string]string{"owner": "classless"}}}
			ing.Spec.Rules = []networkingv1.IngressRule{rule("old.example.com", map[string]string{"/": "web"})}
			g.Expect(k8sClient.Create(ctx, ing)).To(Succeed())
			if ing.Spec.IngressClassName != nil {
				g.Expect(k8sClient.Delete(ctx, ing)).To(Succeed())
				g.Eventually(func() bool {
					return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{}))
				}, installTimeout, poll).Should(BeTrue())
			}
			g.Expect(ing.Spec.IngressClassName).To(BeNil(), "the API server's admission still took nginx for the default class")
			classless = ing
		}, installTimeout, poll).Should(Succeed())
		Expect(k8sClient.Patch(ctx, &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "nginx"}}, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}}}`)))).To(Succeed())
		DeferCleanup(func() {
			setControllerArgs("/nginx-ingress-controller")
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, classless))).To(Succeed())
		})
		meshed := union(classless.Annotations, map[string]string{serviceUpstream: "true", upstreamVhost: "web.ing-shop.svc"})

		By("a controller that serves only Ingresses of its classes: the default IngressClass does not make it a mesh Ingress")
		Consistently(func() map[string]string { return ingressAnnotations(ingNamespace, "classless") }, 3*time.Second, 300*time.Millisecond).
			Should(Equal(classless.Annotations))

		By("the controller watching Ingresses without a class")
		setControllerArgs("/nginx-ingress-controller", "--watch-ingress-without-class=true")
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "classless") }, installTimeout, poll).
			Should(Equal(meshed))

		By("the controller no longer watching them")
		setControllerArgs("/nginx-ingress-controller", "--watch-ingress-without-class=false")
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "classless") }, installTimeout, poll).
			Should(Equal(classless.Annotations))
	})

	It("configures neither the controller nor any Ingress while the controller reads its annotations under another prefix, and says why", func() {
		// Configured whatever the specs before did to the others.
		meshed := []string{"web", "legacy", "defaulted"}
		var configuredBefore int32
		configured := func() {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				d := getDeployment("controller")
				g.Expect(d.Spec.Template.Labels).To(Equal(union(controller.Spec.Template.Labels, sidecarLabels)))
				g.Expect(d.Spec.Template.Annotations).To(Equal(union(controller.Spec.Template.Annotations, sidecarAnnotations)))
				for _, name := range meshed {
					g.Expect(ingressAnnotations(ingNamespace, name)).To(HaveKeyWithValue(serviceUpstream, "true"), "Ingress %s", name)
				}
				configuredBefore = getMesh().Status.Ingresses.Configured
				g.Expect(configuredBefore).To(BeNumerically(">=", len(meshed)))
			}, installTimeout, poll).Should(Succeed())
		}
		configured()
		// The count once it has settled: the status follows the Ingresses in batches, and the spec before
		// may have just taken an Ingress out of it (one without a class, say).
		var want int32
		Eventually(func(g Gomega) {
			want = getMesh().Status.Ingresses.Configured
			g.Consistently(func() int32 { return getMesh().Status.Ingresses.Configured }, 3*time.Second, poll).Should(Equal(want))
		}, installTimeout, poll).Should(Succeed())
		DeferCleanup(func() { setControllerArgs("/nginx-ingress-controller") })

		By("the controller reading its annotations under custom.example.com: nginx would ignore meshkeeper's")
		// As two arguments, after one of the default prefix: the last one counts.
		setControllerArgs("/nginx-ingress-controller", "--annotations-prefix=nginx.ingress.kubernetes.io", "--annotations-prefix", "custom.example.com")
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonCustomAnnotationsPrefix))
			g.Expect(c.Message).To(ContainSubstring(`Deployment ing-nginx/controller runs with --annotations-prefix="custom.example.com"`))
			status := getMesh().Status.Ingresses
			g.Expect(status.Configured).To(BeZero())
			g.Expect(status.SkippedByReason).To(HaveKeyWithValue(meshv1alpha1.ReasonControllerWithoutSidecar, BeEquivalentTo(9)))
			d := getDeployment("controller")
			g.Expect(d.Spec.Template.Labels).To(Equal(controller.Spec.Template.Labels))
			g.Expect(d.Spec.Template.Annotations).To(Equal(controller.Spec.Template.Annotations))
			for name, want := range originals {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(want), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []string { return warningsAbout("ServiceMesh", meshv1alpha1.ServiceMeshName) }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonCustomAnnotationsPrefix))
		Eventually(func() []string { return warningsAbout("Deployment", ingControllerNS+"/controller") }, installTimeout, poll).
			Should(ContainElement(meshv1alpha1.ReasonCustomAnnotationsPrefix))

		By("the controller back on the default prefix")
		setControllerArgs("/nginx-ingress-controller", "--annotations-prefix", "custom.example.com", "--annotations-prefix=nginx.ingress.kubernetes.io")
		configured()
		Eventually(func() int32 { return getMesh().Status.Ingresses.Configured }, installTimeout, poll).Should(Equal(want))
	})

	It("leaves an ingress-nginx canary as written and says why, and configures its main Ingress", func() {
		// nginx merges the canary into the main Ingress's location, whose upstream-vhost names the main
		// Service: through the mesh the canary's share would reach the main Service.
		canary := createIngress(ingNamespace, "web-canary", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Annotations["nginx.ingress.kubernetes.io/canary"] = "true"
			i.Annotations["nginx.ingress.kubernetes.io/canary-weight"] = "10"
			i.Spec.Rules = []networkingv1.IngressRule{rule("shop.example.com", map[string]string{"/": "api"})}
		})
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Ingresses.SkippedByReason).To(HaveKeyWithValue("CanaryIngress", BeEquivalentTo(1)))
			g.Expect(warningsAbout("Ingress", "web-canary")).To(ContainElement("CanaryIngress"))
		}, installTimeout, poll).Should(Succeed())
		Expect(ingressAnnotations(ingNamespace, "web-canary")).To(Equal(canary.Annotations))
		Expect(ingressAnnotations(ingNamespace, "web")).To(HaveKeyWithValue(upstreamVhost, "web.ing-shop.svc"))

		Expect(k8sClient.Delete(ctx, canary)).To(Succeed())
		Eventually(func() map[string]int32 { return getMesh().Status.Ingresses.SkippedByReason }, installTimeout, poll).
			ShouldNot(HaveKey("CanaryIngress"))
	})

	It("counts and reports an Ingress of a class the controller serves but ingressClassNames does not list, while its IngressClass names the controller", func() {
		// Without the annotations nginx sends the Ingress's requests to the pods' IPs in plaintext, past
		// the controller's sidecar. Created before its IngressClass, which wakes it.
		private := createIngress(ingNamespace, "private", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("private")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("api"))
		})
		Consistently(func() map[string]int32 { return getMesh().Status.Ingresses.SkippedByReason }, "2s", poll).
			ShouldNot(HaveKey(meshv1alpha1.ReasonClassNotListed))

		class := &networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: "private"},
			Spec: networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"}}
		Expect(k8sClient.Create(ctx, class)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Ingresses.SkippedByReason).To(HaveKeyWithValue(meshv1alpha1.ReasonClassNotListed, BeEquivalentTo(1)))
			g.Expect(warningsAbout("Ingress", ingNamespace+"/private")).To(ContainElement(meshv1alpha1.ReasonClassNotListed))
		}, installTimeout, poll).Should(Succeed())
		Expect(ingressAnnotations(ingNamespace, "private")).To(Equal(private.Annotations))

		By("deleting the IngressClass, after which the controller serves the Ingress no more")
		Expect(k8sClient.Delete(ctx, class)).To(Succeed())
		Eventually(func() map[string]int32 { return getMesh().Status.Ingresses.SkippedByReason }, installTimeout, poll).
			ShouldNot(HaveKey(meshv1alpha1.ReasonClassNotListed))
		Expect(k8sClient.Delete(ctx, private)).To(Succeed())
	})

	It("leaves the Ingresses of a namespace being deleted as they are, and counts them nowhere", func() {
		const doomed = "ing-doomed"
		createNamespace(doomed, nil, nil)
		createService(doomed, "web", nil)
		createIngress(doomed, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		patchSpec(`{"injection": {"namespaces": ["ing-shop", "ing-doomed"]}}`)
		meshed := map[string]string{"owner": "web", serviceUpstream: "true", upstreamVhost: "web.ing-doomed.svc"}
		Eventually(func() map[string]string { return ingressAnnotations(doomed, "web") }, installTimeout, poll).Should(Equal(meshed))
		Eventually(func() int32 { return getMesh().Status.Ingresses.Configured }, installTimeout, poll).Should(BeEquivalentTo(6))

		// No namespace controller runs against this API server, so the namespace stays Terminating, as one
		// held by a finalizer does. Its pods would still serve through their sidecars.
		Expect(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: doomed}})).To(Succeed())
		Eventually(func(g Gomega) {
			ns := &corev1.Namespace{}
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: doomed}, ns)).To(Succeed())
			g.Expect(ns.DeletionTimestamp).NotTo(BeNil())
		}, installTimeout, poll).Should(Succeed())
		// Neither configured (the namespace no longer counts as enrolled) nor pending nor skipped.
		expectStatus := func(g Gomega) {
			status := getMesh().Status.Ingresses
			g.Expect(status.Configured).To(BeEquivalentTo(5))
			g.Expect(status.Skipped).To(BeEquivalentTo(4))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonIngressesSkipped))
			g.Expect(c.Message).NotTo(ContainSubstring(doomed))
		}
		Eventually(expectStatus, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(ingressAnnotations(doomed, "web")).To(Equal(meshed), "the Ingress of the Terminating namespace was rewritten")
			expectStatus(g)
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())
		patchSpec(`{"injection": {"namespaces": ["ing-shop"]}}`)
	})

	It("gives back exactly its annotations when the namespace leaves the mesh", func() {
		patchSpec(`{"injection": {"namespaces": []}}`)
		Eventually(func(g Gomega) {
			for name, want := range originals {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(want), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() int32 { return getMesh().Status.Ingresses.Configured }, installTimeout, poll).Should(BeEquivalentTo(0))
		patchSpec(`{"injection": {"namespaces": ["ing-shop"]}}`)
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "web") }, installTimeout, poll).
			Should(HaveKeyWithValue(serviceUpstream, "true"))
	})

	It("removes exactly its fields from the controller and the Ingresses when the integration is disabled", func() {
		patchSpec(`{"ingressNginx": {"enabled": false}}`)
		expectControllerAsWritten("controller", controller)
		Eventually(func(g Gomega) {
			for name, want := range originals {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(want), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal("IngressNginxDisabled"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("leaves a hostNetwork controller alone and says why, and releases the controller it configured before", func() {
		patchSpec(`{"ingressNginx": {"enabled": true}}`)
		Eventually(func() map[string]string { return getDeployment("controller").Spec.Template.Labels }, installTimeout, poll).
			Should(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		meshed := []string{"web", "legacy", "defaulted", "split", "missing"}
		Eventually(func(g Gomega) {
			for _, name := range meshed {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(HaveKeyWithValue(serviceUpstream, "true"), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())

		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx-host"}
		ds := &appsv1.DaemonSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: ingControllerNS, Name: "host"},
			Spec: appsv1.DaemonSetSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: controllerPodSpec()},
			},
		}
		ds.Spec.Template.Spec.HostNetwork = true
		Expect(k8sClient.Create(ctx, ds)).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), ds)).To(Succeed())
		patchSpec(`{"ingressNginx": {"controller": {"kind": "DaemonSet", "name": "host"}}}`)

		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal("HostNetwork"))
			g.Expect(c.Message).To(ContainSubstring("DaemonSet ing-nginx/host runs with hostNetwork: true"))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		}, installTimeout, poll).Should(Succeed())
		expectControllerAsWritten("controller", controller)
		Eventually(func() []string { return warningsAbout("DaemonSet", "host") }, installTimeout, poll).Should(ContainElement("HostNetwork"))
		Eventually(func() []string { return warningsAbout("ServiceMesh", meshv1alpha1.ServiceMeshName) }, installTimeout, poll).
			Should(ContainElement("HostNetwork"))
		after := &appsv1.DaemonSet{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ds), after)).To(Succeed())
		Expect(after.ResourceVersion).To(Equal(ds.ResourceVersion), "meshkeeper wrote to the hostNetwork DaemonSet")

		By("taking back the Ingresses' annotations: a controller without a sidecar would send them plaintext")
		// The user's own upstream-vhost of user-vhost stays.
		Eventually(func(g Gomega) {
			for name, want := range originals {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(want), "Ingress %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		Eventually(func(g Gomega) {
			status := getMesh().Status.Ingresses
			g.Expect(status.Configured).To(BeZero())
			// Every mesh Ingress of ing-shop; not internal (another class), ing-other's (not enrolled) nor
			// ing-doomed's (being deleted).
			g.Expect(status.SkippedByReason).To(Equal(map[string]int32{meshv1alpha1.ReasonControllerWithoutSidecar: 9}))
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal("HostNetwork"))
			g.Expect(c.Message).To(ContainSubstring("meshkeeper puts service-upstream and upstream-vhost on no mesh Ingress and takes back those it set (9 Ingress(es)"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			for _, name := range meshed {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(originals[name]), "Ingress %s", name)
			}
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())
		// Reported once, on the ServiceMesh and the DaemonSet, not on every Ingress.
		Expect(warningsAbout("Ingress", ingNamespace+"/web")).NotTo(ContainElement(meshv1alpha1.ReasonControllerWithoutSidecar))
	})

	It("reports a controller that does not exist, and configures it once it does", func() {
		patchSpec(`{"ingressNginx": {"controller": {"kind": "Deployment", "name": "later"}}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal("ControllerNotFound"))
			g.Expect(c.Message).To(ContainSubstring("Deployment ing-nginx/later"))
		}, installTimeout, poll).Should(Succeed())
		Expect(ingressAnnotations(ingNamespace, "web")).To(Equal(originals["web"]))
		later := createControllerDeployment("later")
		Eventually(func() map[string]string { return getDeployment("later").Spec.Template.Annotations }, installTimeout, poll).
			Should(Equal(union(later.Spec.Template.Annotations, sidecarAnnotations)))
		// Nothing but the workload changed: its new decision wakes the Ingresses.
		Eventually(func(g Gomega) {
			for _, name := range []string{"web", "legacy", "defaulted", "split", "missing"} {
				g.Expect(ingressAnnotations(ingNamespace, name)).To(HaveKeyWithValue(serviceUpstream, "true"), "Ingress %s", name)
			}
			g.Expect(getMesh().Status.Ingresses.Configured).To(BeEquivalentTo(5))
		}, installTimeout, poll).Should(Succeed())
	})

	It("gives the controller no sidecar settings while its namespace keeps the injector out or rejects istio-init, and says why", func() {
		meshed := []string{"web", "legacy", "defaulted", "split", "missing"}
		configured := func() {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				d := getDeployment("later")
				g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
				g.Expect(d.Spec.Template.Annotations).To(Equal(union(map[string]string{"prometheus.io/scrape": "true"}, sidecarAnnotations)))
				for _, name := range meshed {
					g.Expect(ingressAnnotations(ingNamespace, name)).To(HaveKeyWithValue(serviceUpstream, "true"), "Ingress %s", name)
				}
				g.Expect(conditionOf(meshv1alpha1.ConditionIngressesConfigured).Reason).To(Equal(meshv1alpha1.ReasonIngressesSkipped))
			}, installTimeout, poll).Should(Succeed())
		}
		// The controller's pods would get no sidecar: its pod template and the Ingresses are left as their users wrote them.
		withoutSidecar := func(reason, message string) {
			GinkgoHelper()
			Eventually(func(g Gomega) {
				c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(reason))
				g.Expect(c.Message).To(ContainSubstring(message))
				d := getDeployment("later")
				g.Expect(d.Spec.Template.Labels).NotTo(HaveKey("sidecar.istio.io/inject"))
				g.Expect(d.Spec.Template.Annotations).To(Equal(map[string]string{"prometheus.io/scrape": "true"}))
				for _, name := range meshed {
					g.Expect(ingressAnnotations(ingNamespace, name)).To(Equal(originals[name]), "Ingress %s", name)
				}
				g.Expect(getMesh().Status.Ingresses.SkippedByReason).To(HaveKeyWithValue(meshv1alpha1.ReasonControllerWithoutSidecar, BeEquivalentTo(9)))
			}, installTimeout, poll).Should(Succeed())
			Eventually(func() []string { return warningsAbout("ServiceMesh", meshv1alpha1.ServiceMeshName) }, installTimeout, poll).
				Should(ContainElement(reason))
			Eventually(func() []string { return warningsAbout("Deployment", "later") }, installTimeout, poll).Should(ContainElement(reason))
		}
		labelNamespace := func(key, value string) {
			GinkgoHelper()
			ns := &corev1.Namespace{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ingControllerNS}, ns)).To(Succeed())
			patch := client.MergeFrom(ns.DeepCopy())
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			if value == "" {
				delete(ns.Labels, key)
			} else {
				ns.Labels[key] = value
			}
			Expect(k8sClient.Patch(ctx, ns, patch)).To(Succeed())
		}
		configured()

		By("istio-injection=disabled on the controller's namespace: Istio's injector skips its pods, whatever their label")
		labelNamespace("istio-injection", "disabled")
		withoutSidecar(meshv1alpha1.ReasonNamespaceInjectionDisabled, "namespace ing-nginx has label istio-injection=disabled")
		labelNamespace("istio-injection", "")
		configured()

		By("without the CNI agent, a namespace enforcing baseline would reject the controller's pods with istio-init")
		labelNamespace("pod-security.kubernetes.io/enforce", "baseline")
		Consistently(func() string { return conditionOf(meshv1alpha1.ConditionIngressesConfigured).Reason }, 2*time.Second, poll).
			Should(Equal(meshv1alpha1.ReasonIngressesSkipped), "with the CNI agent, baseline admits the injected pods (only the Ingresses meshkeeper cannot route are skipped)")
		patchSpec(`{"cni": {"enabled": false}}`)
		withoutSidecar(meshv1alpha1.ReasonPodSecurityRejectsSidecar, `namespace ing-nginx enforces the Pod Security level "baseline"`)
		labelNamespace("pod-security.kubernetes.io/enforce", "")
		configured()
		patchSpec(`{"cni": {"enabled": true}}`)
	})

	It("gives everything back when the ServiceMesh is deleted", func() {
		Eventually(func() map[string]string { return ingressAnnotations(ingNamespace, "web") }, installTimeout, poll).
			Should(HaveKeyWithValue(serviceUpstream, "true"))
		deleteMesh()
		expectIngressesAsWritten("web", "legacy", "defaulted", "split", "missing", "user-vhost")
		d := getDeployment("later")
		Expect(d.Spec.Template.Annotations).To(Equal(map[string]string{"prometheus.io/scrape": "true"}))
		Expect(d.Spec.Template.Labels).NotTo(HaveKey("sidecar.istio.io/inject"))
	})
})

func fmtSpec(name, kind string) string {
	return fmt.Sprintf(meshIngressSpecFmt, name, kind)
}
