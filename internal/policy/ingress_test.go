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

package policy

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// The Services of namespace "shop", where the Ingresses of these tests live.
var shopServices = map[string]*corev1.Service{
	"web":      {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.10.1"}},
	"api":      {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.10.2"}},
	"edge":     {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, ClusterIP: "10.96.10.3"}},
	"payments": {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "payments.example.net"}},
	"catalog":  {Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: corev1.ClusterIPNone}},
}

func lookupShop(name string) (*corev1.Service, bool) {
	svc, ok := shopServices[name]
	return svc, ok
}

var nginxClass = ptr.To("nginx")

func ingress(spec networkingv1.IngressSpec, annotations map[string]string) *networkingv1.Ingress {
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "storefront", Annotations: annotations},
		Spec:       spec,
	}
}

func toService(name string, port any) *networkingv1.IngressBackend {
	b := &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: name}}
	switch p := port.(type) {
	case int:
		b.Service.Port.Number = int32(p)
	case string:
		b.Service.Port.Name = p
	}
	return b
}

func toResource(kind, name string) *networkingv1.IngressBackend {
	return &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{
		APIGroup: ptr.To("storage.example.com"), Kind: kind, Name: name}}
}

func path(p string, b *networkingv1.IngressBackend) networkingv1.HTTPIngressPath {
	return networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix), Backend: *b}
}

func rule(host string, paths ...networkingv1.HTTPIngressPath) networkingv1.IngressRule {
	return networkingv1.IngressRule{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
		HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}
}

func rules(r ...networkingv1.IngressRule) []networkingv1.IngressRule { return r }

// meshPair is what a mesh Ingress to Service web in namespace shop carries.
var meshPair = map[string]string{
	AnnotationServiceUpstream: "true",
	AnnotationUpstreamVhost:   "web.shop.svc",
}

var bothKeys = sets.New(AnnotationServiceUpstream, AnnotationUpstreamVhost)

// controllerInjected is the decision about an ingress-nginx controller that gets its sidecar.
var controllerInjected = PodTemplateDecision{Configured: true, Reason: Configured}

// withoutSidecar is the decision about a controller that gets none, for reason.
func withoutSidecar(reason string) PodTemplateDecision {
	return PodTemplateDecision{Labels: map[string]string{}, Annotations: map[string]string{}, Reason: reason}
}

func TestIngress(t *testing.T) {
	tests := map[string]struct {
		ingress *networkingv1.Ingress
		// changes to the defaults: integration on, class nginx served, namespace enrolled, controller injected
		input func(*IngressInput)

		wantAnnotations map[string]string
		wantConfigured  bool
		wantSkipped     bool
		wantKept        bool
		wantReason      string
		wantMessage     []string
	}{
		"several paths to one Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/cart", toService("web", 80))),
			)}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
			wantMessage: []string{"Ingress shop/storefront", "Service web", "web.shop.svc"},
		},
		"several hosts to one Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80))),
				rule("www.shop.example.com", path("/", toService("web", 80))),
			)}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"TLS sections make no difference": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				TLS:   []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
				Rules: rules(rule("shop.example.com", path("/", toService("web", 443)))),
			}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"a defaultBackend only": {
			ingress:         ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("web", 80)}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"a defaultBackend and rules to the same Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("web", 80),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"the Service's port by name or by number is one Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", "http")), path("/metrics", toService("web", 9090))),
			)}, nil),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"a LoadBalancer Service has a ClusterIP too": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("", path("/", toService("edge", 80))))}, nil),
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "edge.shop.svc"},
			wantConfigured:  true, wantReason: Configured,
		},
		"the owner's other annotations are no concern": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{"nginx.ingress.kubernetes.io/rewrite-target": "/", "cert-manager.io/cluster-issuer": "letsencrypt"}),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"meshkeeper's own annotations are kept": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"meshkeeper's own upstream-vhost follows a change of backend Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "web-v1.shop.svc"}),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"fan-out to two Services: neither annotation, and split the Ingress": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", 8080))),
			)}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: MultipleBackendServices,
			wantMessage: []string{"Ingress shop/storefront", "2 Services (api and web)", "Split it into one Ingress per Service"},
		},
		"a defaultBackend to one Service and rules to another is a fan-out": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("api", 8080),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: MultipleBackendServices,
		},
		"a configured Ingress that became a fan-out loses meshkeeper's annotations": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80))),
				rule("api.shop.example.com", path("/", toService("api", 8080))),
			)}, meshPair),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: MultipleBackendServices,
		},
		"the legacy class annotation": {
			ingress: ingress(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationIngressClass: "nginx"}),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"the legacy class annotation naming another class": {
			ingress: ingress(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationIngressClass: "traefik"}),
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
			wantMessage: []string{"Ingress shop/storefront", `class "traefik"`, "annotation kubernetes.io/ingress.class", `use class "nginx"`},
		},
		"spec.ingressClassName comes before the legacy annotation": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationIngressClass: "nginx"}),
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
			wantMessage: []string{`class "traefik" (from spec.ingressClassName)`},
		},
		"no class, and the controller serves Ingresses without a class": {
			ingress: ingress(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input: func(in *IngressInput) {
				in.Controller = controllerInjected
				in.Controller.ServesIngressesWithoutClass = true
			},
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"no class, and the controller serves only Ingresses of a class": {
			ingress:         ingress(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
			wantMessage: []string{"Ingress shop/storefront has no class", "--watch-ingress-without-class", `set spec.ingressClassName to "nginx"`},
		},
		"no class, configured before, and the controller no longer serves Ingresses without a class": {
			ingress:         ingress(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
		},
		"any of the served classes": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("nginx-internal"),
				Rules: rules(rule("shop.internal", path("/", toService("web", 80))))}, nil),
			input:           func(in *IngressInput) { in.IngressNginx.IngressClassNames = []string{"nginx", "nginx-internal"} },
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"an Ingress moved to another class loses meshkeeper's annotations": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
		},
		"a namespace outside the mesh": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled = false
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: NamespaceNotEnrolled,
			wantMessage: []string{"Ingress shop/storefront", "namespace shop", "spec.injection"},
		},
		"an Ingress of a namespace that left the mesh keeps meshkeeper's annotations while pods there run a sidecar": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 2
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: nil, wantKept: true, wantReason: NamespaceNotEnrolled,
			wantMessage: []string{"Ingress shop/storefront", "namespace shop, which is no longer in the mesh", "2 pod(s)",
				"until none does", "STRICT mTLS"},
		},
		"an Ingress of a namespace that left the mesh keeps even one of meshkeeper's annotations as it is": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 1
				in.OwnedAnnotations = sets.New(AnnotationServiceUpstream)
			},
			wantAnnotations: nil, wantKept: true, wantReason: NamespaceNotEnrolled,
		},
		"an Ingress of a namespace that left the mesh keeps meshkeeper's upstream-vhost alone as it is": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 1
				in.OwnedAnnotations = sets.New(AnnotationUpstreamVhost)
			},
			wantAnnotations: nil, wantKept: true, wantReason: NamespaceNotEnrolled,
		},
		// Its owner pointed it at another Service since: the kept upstream-vhost would have the sidecar
		// route to the old one.
		"an Ingress of a namespace that left the mesh, whose backend changed, keeps its annotations with the new Service's": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("api", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 2
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "api.shop.svc"},
			wantKept:        true, wantReason: NamespaceNotEnrolled,
		},
		"an Ingress without a class is not served by an empty class name": {
			ingress: ingress(networkingv1.IngressSpec{
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input:           func(in *IngressInput) { in.IngressNginx.IngressClassNames = []string{""} },
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
			wantMessage: []string{"has no class"},
		},
		"an Ingress of a namespace that left the mesh loses meshkeeper's annotations once no pod there runs a sidecar": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 0
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: NamespaceNotEnrolled,
			wantMessage: []string{"spec.injection"},
		},
		"sidecars of a namespace outside the mesh give an Ingress without meshkeeper's annotations none": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input:           func(in *IngressInput) { in.NamespaceEnrolled, in.NamespaceProxies = false, 3 },
			wantAnnotations: map[string]string{}, wantReason: NamespaceNotEnrolled,
		},
		"sidecars of a namespace that left the mesh do not keep the annotations of a controller without sidecar": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 2
				in.Controller = withoutSidecar(HostNetwork)
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: NamespaceNotEnrolled,
		},
		"sidecars of a namespace that left the mesh do not keep the annotations of an Ingress moved to another class": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 2
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
		},
		"sidecars of a namespace that left the mesh do not keep the annotations once the integration is off": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceEnrolled, in.NamespaceProxies = false, 2
				in.IngressNginx.Enabled = ptr.To(false)
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: IngressNginxDisabled,
		},
		"the sidecars of an enrolled namespace change nothing": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.NamespaceProxies = 2
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"the integration turned off": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.IngressNginx.Enabled = ptr.To(false)
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantReason: IngressNginxDisabled,
		},
		"an Ingress being deleted is left alone": {
			ingress: func() *networkingv1.Ingress {
				ing := ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
					Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair)
				ing.DeletionTimestamp = &metav1.Time{}
				return ing
			}(),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: nil, wantReason: Terminating,
		},
		"an Ingress being deleted after the integration was turned off is left alone": {
			ingress: func() *networkingv1.Ingress {
				ing := ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
					Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair)
				ing.DeletionTimestamp = &metav1.Time{}
				return ing
			}(),
			input: func(in *IngressInput) {
				in.IngressNginx.Enabled = ptr.To(false)
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: nil, wantReason: Terminating,
		},
		"an Ingress of a namespace being deleted keeps meshkeeper's annotations": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				// The namespace decision of a namespace being deleted does not enroll it.
				in.NamespaceEnrolled, in.NamespaceTerminating = false, true
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: nil, wantReason: Terminating,
			wantMessage: []string{"Ingress shop/storefront", "namespace shop, which is being deleted"},
		},
		"an Ingress of a namespace being deleted gets nothing it lacks, whatever else applies": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input: func(in *IngressInput) {
				in.NamespaceTerminating = true
				in.IngressNginx.Enabled = ptr.To(false)
			},
			wantAnnotations: nil, wantReason: Terminating,
		},
		"a hostNetwork controller: meshkeeper's annotations are taken back": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.Controller = withoutSidecar(HostNetwork)
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ControllerWithoutSidecar,
			wantMessage: []string{"Ingress shop/storefront", "Deployment ingress-nginx/ingress-nginx-controller gets no sidecar (HostNetwork)",
				"STRICT mTLS"},
		},
		"a controller whose pod template conflicts: none added": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input:           func(in *IngressInput) { in.Controller = withoutSidecar(AnnotationConflict) },
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ControllerWithoutSidecar,
			wantMessage: []string{"(AnnotationConflict)"},
		},
		"a controller that does not exist: meshkeeper owns none, and the owner's own stay theirs": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input:           func(in *IngressInput) { in.Controller = withoutSidecar(ControllerNotFound) },
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ControllerWithoutSidecar,
		},
		"a controller without sidecar does not make an Ingress outside the mesh a skipped one": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input: func(in *IngressInput) {
				in.Controller = withoutSidecar(HostNetwork)
				in.NamespaceEnrolled = false
			},
			wantAnnotations: map[string]string{}, wantReason: NamespaceNotEnrolled,
		},
		"another class in a namespace outside the mesh is reported as another class": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input:           func(in *IngressInput) { in.NamespaceEnrolled = false },
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
		},
		"the owner's upstream-vhost of another value is kept, and meshkeeper adds neither": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "shop.example.com"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: AnnotationConflict,
			wantMessage: []string{"Ingress shop/storefront",
				`nginx.ingress.kubernetes.io/upstream-vhost: "shop.example.com"`, `"web.shop.svc"`, "Remove the conflicting annotation"},
		},
		"the owner's service-upstream=false is kept, and meshkeeper adds neither": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationServiceUpstream: "false"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: AnnotationConflict,
			wantMessage: []string{`nginx.ingress.kubernetes.io/service-upstream: "false"`},
		},
		"the owner's upstream-vhost of the same value: meshkeeper adds only service-upstream": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "web.shop.svc"}),
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true"},
			wantConfigured:  true, wantReason: Configured,
		},
		// The sidecar routes every name Istio gives the Service: the full name with the cluster domain,
		// and <service>.<namespace>, as well as meshkeeper's <service>.<namespace>.svc.
		"the owner's upstream-vhost with the cluster domain: meshkeeper adds only service-upstream": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "web.shop.svc.cluster.local"}),
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true"},
			wantConfigured:  true, wantReason: Configured, wantMessage: []string{"with Host web.shop.svc.cluster.local"},
		},
		"the owner's upstream-vhost of the short name: meshkeeper adds only service-upstream": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "web.shop"}),
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true"},
			wantConfigured:  true, wantReason: Configured,
		},
		"the owner's upstream-vhost naming another Service's full name is a conflict": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "web.shop.svc.cluster.local.evil.example.com/x"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: AnnotationConflict,
		},
		"the owner's upstream-vhost naming the same Service in another namespace is a conflict": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationUpstreamVhost: "web.shop2.svc.cluster.local"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: AnnotationConflict,
		},
		"the owner set both to meshkeeper's values: configured, with nothing of meshkeeper's": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			wantAnnotations: map[string]string{}, wantConfigured: true, wantReason: Configured,
		},
		"an ExternalName Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("pay.example.com", path("/", toService("payments", 443))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceExternalName,
			wantMessage: []string{"Ingress shop/storefront", "Service shop/payments", "ExternalName", "ClusterIP Service"},
		},
		// The cluster's Services are in 10.43.0.0/16 (k3s) while the spec still lists 10.96.0.0/12: nginx's
		// connection to the ClusterIP would pass the sidecar by.
		"a Service outside the captured ranges": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input: func(in *IngressInput) {
				in.IngressNginx.ServiceCIDRs = []string{"10.43.0.0/16", "fd00:10:43::/108"}
			},
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceNotCaptured,
			wantMessage: []string{"Service shop/web", "ClusterIP 10.96.10.1", "10.43.0.0/16, fd00:10:43::/108", "spec.ingressNginx.serviceCIDRs"},
		},
		"a Service inside the second captured range": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input: func(in *IngressInput) {
				in.IngressNginx.ServiceCIDRs = []string{"fd00:10:96::/108", "10.96.0.0/16"}
			},
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "web.shop.svc"},
			wantConfigured:  true, wantReason: Configured,
		},
		"a headless Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("catalog", 80))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceHeadless,
			wantMessage: []string{"Service shop/catalog", "headless", "with a ClusterIP"},
		},
		"a missing Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("checkout", 80))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceMissing,
			wantMessage: []string{"Service shop/checkout", "does not exist"},
		},
		"a configured Ingress whose Service was deleted loses meshkeeper's annotations": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair),
			input: func(in *IngressInput) {
				in.Service = func(string) (*corev1.Service, bool) { return nil, false }
				in.OwnedAnnotations = bothKeys
			},
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceMissing,
		},
		"no Service lookup finds no Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			input:           func(in *IngressInput) { in.Service = nil },
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceMissing,
		},
		"a resource backend": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("static.example.com", path("/", toResource("StorageBucket", "assets"))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ResourceBackend,
			wantMessage: []string{"Ingress shop/storefront", `StorageBucket "assets"`, "its own Ingress"},
		},
		"a resource defaultBackend beside rules to a Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toResource("StorageBucket", "assets"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ResourceBackend,
		},
		"a resource backend beside two Services is reported as a resource backend": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", 8080)),
					path("/static", toResource("StorageBucket", "assets"))),
			)}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ResourceBackend,
		},
		"rules with hosts but no paths name no backend": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: []networkingv1.IngressRule{
				{Host: "shop.example.com"}}}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: NoBackend,
			wantMessage: []string{"Ingress shop/storefront names no backend", "backend Service"},
		},
		"an Ingress with nothing but a class names no backend": {
			ingress:         ingress(networkingv1.IngressSpec{IngressClassName: nginxClass}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: NoBackend,
		},
		"a fan-out is reported before a missing Service": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/cart", toService("cart", 8080))),
			)}, nil),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: MultipleBackendServices,
			wantMessage: []string{"(cart and web)"},
		},
		"a canary Ingress: neither annotation, and split the traffic in the mesh instead": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("api", 8080))))},
				map[string]string{AnnotationCanary: "true", "nginx.ingress.kubernetes.io/canary-weight": "10"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: CanaryIngress,
			wantMessage: []string{"Ingress shop/storefront", "canary", "main Ingress", "no traffic",
				"VirtualService", "subsets", "behind one Ingress", "spec.ingressNginx.ingressClassNames"},
		},
		"a configured Ingress that became a canary loses meshkeeper's annotations": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationCanary: "true", "nginx.ingress.kubernetes.io/canary-by-header": "X-Canary",
					AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "web.shop.svc"}),
			input:           func(in *IngressInput) { in.OwnedAnnotations = bothKeys },
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: CanaryIngress,
		},
		"canary \"True\" is a canary, as ingress-nginx parses it": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationCanary: "True", "nginx.ingress.kubernetes.io/canary-by-cookie": "canary"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: CanaryIngress,
		},
		"a canary is reported before a fan-out": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", 8080))),
			)}, map[string]string{AnnotationCanary: "true"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: CanaryIngress,
		},
		"canary \"false\" is the main Ingress and is configured": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationCanary: "false"}),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"a canary value ingress-nginx does not read as true is no canary": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationCanary: "yes"}),
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured,
		},
		"a canary of a class not served is outside the mesh, not skipped": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: ptr.To("traefik"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationCanary: "true"}),
			wantAnnotations: map[string]string{}, wantReason: ClassNotServed,
		},
		"an unusable Service is reported before a conflicting annotation": {
			ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("catalog", 80))))},
				map[string]string{AnnotationUpstreamVhost: "catalog.example.com"}),
			wantAnnotations: map[string]string{}, wantSkipped: true, wantReason: ServiceHeadless,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			in := IngressInput{
				Ingress:           tc.ingress,
				IngressNginx:      ingressNginx(),
				NamespaceEnrolled: true,
				Controller:        controllerInjected,
				Service:           lookupShop,
			}
			if tc.input != nil {
				tc.input(&in)
			}
			got := Ingress(in)

			if got.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q (message: %s)", got.Reason, tc.wantReason, got.Message)
			}
			if got.Configured != tc.wantConfigured {
				t.Errorf("Configured = %v, want %v", got.Configured, tc.wantConfigured)
			}
			if got.Skipped() != tc.wantSkipped {
				t.Errorf("Skipped() = %v, want %v", got.Skipped(), tc.wantSkipped)
			}
			if got.KeptForSidecars != tc.wantKept {
				t.Errorf("KeptForSidecars = %v, want %v", got.KeptForSidecars, tc.wantKept)
			}
			if !maps.Equal(got.Annotations, tc.wantAnnotations) || (got.Annotations == nil) != (tc.wantAnnotations == nil) {
				t.Errorf("Annotations = %#v, want %#v", got.Annotations, tc.wantAnnotations)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}

			// The cache keeps only IngressSpecRead of each Ingress's spec, and only its annotations of
			// IngressAnnotationsRead: the decision on them is the same.
			read := *tc.ingress
			read.Spec = IngressSpecRead(tc.ingress.Spec)
			read.Annotations = nil
			for _, key := range IngressAnnotationsRead {
				if value, ok := tc.ingress.Annotations[key]; ok {
					if read.Annotations == nil {
						read.Annotations = map[string]string{}
					}
					read.Annotations[key] = value
				}
			}
			in.Ingress = &read
			if fromRead := Ingress(in); !reflect.DeepEqual(fromRead, got) {
				t.Errorf("decision on what the cache keeps of the Ingress:\n got %+v\nwant %+v", fromRead, got)
			}
		})
	}
}

func TestRunsProxy(t *testing.T) {
	now := metav1.Now()
	tests := map[string]struct {
		pod  ProxyPod
		want bool
	}{
		"running with a sidecar":         {pod: ProxyPod{Phase: corev1.PodRunning, HasProxy: true}, want: true},
		"pending with a sidecar":         {pod: ProxyPod{Phase: corev1.PodPending, HasProxy: true}, want: true},
		"without a proxy":                {pod: ProxyPod{Phase: corev1.PodRunning}},
		"the injector's annotation only": {pod: ProxyPod{Phase: corev1.PodRunning, Injected: true, InjectedRevision: "default"}},
		"finished":                       {pod: ProxyPod{Phase: corev1.PodSucceeded, HasProxy: true}},
		"failed":                         {pod: ProxyPod{Phase: corev1.PodFailed, HasProxy: true}},
		"being deleted": {pod: ProxyPod{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Phase: corev1.PodRunning, HasProxy: true}},
		"on the node's network": {pod: ProxyPod{Phase: corev1.PodRunning, HasProxy: true, HostNetwork: true}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := RunsProxy(&tc.pod); got != tc.want {
				t.Errorf("RunsProxy = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestIngressSpecRead(t *testing.T) {
	spec := networkingv1.IngressSpec{IngressClassName: nginxClass,
		TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com", "www.shop.example.com"}, SecretName: "shop-tls"}},
		Rules: rules(
			rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", "http")),
				path("/files", toResource("Bucket", "files"))),
			rule("www.shop.example.com", path("/", toService("web", "http")), path("/api", toService("api", 8080)),
				path("/files", toResource("Bucket", "files")), path("/old", toResource("Bucket", "archive"))),
			networkingv1.IngressRule{Host: "empty.example.com"},
		)}
	// A Service's port is kept as written: with the Service, it names the upstream ingress-nginx shares.
	want := networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("",
		networkingv1.HTTPIngressPath{Backend: *toService("web", 80)},
		networkingv1.HTTPIngressPath{Backend: *toService("api", "http")},
		networkingv1.HTTPIngressPath{Backend: *toResource("Bucket", "files")},
		networkingv1.HTTPIngressPath{Backend: *toService("web", "http")},
		networkingv1.HTTPIngressPath{Backend: *toService("api", 8080)},
		networkingv1.HTTPIngressPath{Backend: *toResource("Bucket", "archive")},
	))}
	if got := IngressSpecRead(spec); !reflect.DeepEqual(got, want) {
		t.Errorf("IngressSpecRead:\n got %+v\nwant %+v", got, want)
	}
	// The same kind and name in another API group is another backend.
	other := toResource("Bucket", "files")
	other.Resource.APIGroup = ptr.To("archive.example.com")
	spec = networkingv1.IngressSpec{DefaultBackend: toService("web", 80),
		Rules: rules(rule("shop.example.com", path("/", toResource("Bucket", "files")), path("/b", other)))}
	got := IngressSpecRead(spec)
	if got.DefaultBackend != spec.DefaultBackend || len(got.Rules) != 1 || len(got.Rules[0].HTTP.Paths) != 2 {
		t.Errorf("IngressSpecRead kept %+v of %+v", got, spec)
	}
	// Without a path, no rule is kept.
	if got := IngressSpecRead(networkingv1.IngressSpec{Rules: rules(rule("shop.example.com"))}); got.Rules != nil {
		t.Errorf("IngressSpecRead of rules without paths: %+v", got)
	}
}

// BenchmarkIngress is the decision about one mesh Ingress that meshkeeper annotated already, as the
// status pass makes it for every Ingress of the cluster on every pass.
func BenchmarkIngress(b *testing.B) {
	ing := ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
		Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, meshPair)
	in := IngressInput{Ingress: ing, IngressNginx: ingressNginx(), NamespaceEnrolled: true, Controller: controllerInjected,
		OwnedAnnotations: bothKeys, Service: lookupShop}
	b.ReportAllocs()
	for b.Loop() {
		if d := Ingress(in); !d.Configured {
			b.Fatalf("not configured: %s", d.Message)
		}
	}
}
