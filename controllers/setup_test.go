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

package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

func service(labels map[string]string) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name: "web", Namespace: "shop", UID: "u1", ResourceVersion: "42", Labels: labels,
			Annotations:   map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"big":"json"}`},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}, {Manager: meshv1alpha1.FieldManager}},
		},
		Spec: corev1.ServiceSpec{
			Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"},
			Ports:    []corev1.ServicePort{{Name: "http", Port: 80}},
			Selector: map[string]string{"app": "web"},
		},
	}
}

func TestProxyFieldsStoresProxyPods(t *testing.T) {
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "shop-7d9c", Namespace: "shop"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"}}}}
	got, err := proxyFields(pod)
	if err != nil {
		t.Fatal(err)
	}
	slim, ok := got.(*policy.ProxyPod)
	if !ok || slim.Name != "shop-7d9c" || slim.ProxyImage != "docker.io/istio/proxyv2:1.31.1" {
		t.Fatalf("proxyFields = %#v", got)
	}
	if slim.InjectedForCNI {
		t.Errorf("proxyFields of a pod without istio-validation = %#v", slim)
	}
	// A pod injected for the CNI agent is stored as such: once the agent is gone it needs a restart.
	pod.Spec.InitContainers = []corev1.Container{{Name: "istio-validation", Image: "docker.io/istio/proxyv2:1.31.1"}}
	if got, err := proxyFields(pod); err != nil || !got.(*policy.ProxyPod).InjectedForCNI {
		t.Errorf("proxyFields of a pod injected for the CNI agent = %#v, %v", got, err)
	}
	// The informer may hand the transform what it stored already (a tombstone's object).
	if again, err := proxyFields(slim); err != nil || again != slim {
		t.Errorf("proxyFields of a ProxyPod = %#v, %v; want it unchanged", again, err)
	}
}

func TestServiceFields(t *testing.T) {
	slim := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", ResourceVersion: "42"},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}},
	}
	managed := service(map[string]string{"mesh.meshkeeper.io/managed-by": "meshkeeper"})
	whole := managed.DeepCopy()
	whole.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager}}
	for _, tc := range []struct {
		name       string
		namespaces []string
		svc        *corev1.Service
		want       *corev1.Service
	}{
		// A user's Service keeps only what the Ingress decisions read.
		{"a user's Service", []string{"istio-system", "shop"}, service(map[string]string{"app": "web"}), slim},
		// A chart's Service stays whole for the drift check, with only meshkeeper's managed fields.
		{"a chart's Service", []string{"istio-system", "shop"}, managed.DeepCopy(), whole},
		{"a chart's Service, any namespace allowed", nil, managed.DeepCopy(), whole},
		// meshkeeper's label is one anyone can set: outside the control-plane namespaces, a Service
		// carrying it is a user's.
		{"a labelled Service outside the control-plane namespaces", []string{"istio-system"}, managed.DeepCopy(), slim},
		// Of a user's annotations, only Istio's exportTo, which decides whether the ingress-nginx
		// controller's sidecar can route to the Service (ServiceNotExported).
		{"a user's Service exported to its namespace only", []string{"istio-system"},
			withAnnotations(service(map[string]string{"app": "web"}), map[string]string{policy.AnnotationServiceExportTo: ".", "team": "shop"}),
			withAnnotations(slim.DeepCopy(), map[string]string{policy.AnnotationServiceExportTo: "."})},
	} {
		got, err := serviceFields(tc.namespaces)(tc.svc)
		if err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(got, tc.want) {
			t.Errorf("%s in the cache:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

// withAnnotations sets svc's annotations.
func withAnnotations(svc *corev1.Service, annotations map[string]string) *corev1.Service {
	svc.Annotations = annotations
	return svc
}

func TestWithLimits(t *testing.T) {
	base := &rest.Config{Host: "https://127.0.0.1:6443"}
	for _, tc := range []struct {
		name           string
		qps            float32
		burst          int
		wantQPS        float32
		wantBurst      int
		wantRateLimits bool
	}{
		{name: "defaults", wantQPS: 200, wantBurst: 400, wantRateLimits: true},
		{name: "set", qps: 50, burst: 80, wantQPS: 50, wantBurst: 80, wantRateLimits: true},
		// --kube-api-qps=-1 lifts the client-side limit: client-go builds no rate limiter.
		{name: "lifted", qps: -1, wantQPS: -1, wantBurst: 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := withLimits(base, tc.qps, tc.burst)
			if config.QPS != tc.wantQPS || config.Burst != tc.wantBurst {
				t.Errorf("QPS %v, burst %d; want %v, %d", config.QPS, config.Burst, tc.wantQPS, tc.wantBurst)
			}
			if base.QPS != 0 || base.Burst != 0 {
				t.Errorf("the caller's config was changed: QPS %v, burst %d", base.QPS, base.Burst)
			}
			config.GroupVersion = &corev1.SchemeGroupVersion
			config.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
			client, err := rest.RESTClientFor(config)
			if err != nil {
				t.Fatal(err)
			}
			if limited := client.GetRateLimiter() != nil; limited != tc.wantRateLimits {
				t.Errorf("the client has a rate limiter: %v, want %v", limited, tc.wantRateLimits)
			}
		})
	}
}

// ingressWith is an Ingress of class nginx to Service web, as real clusters hold them: kubectl's
// last-applied-configuration, ingress-nginx annotations of its own, a load balancer address and the
// managed fields of two managers, plus the given annotations.
func ingressWith(annotations map[string]string) *networkingv1.Ingress {
	all := map[string]string{
		"kubectl.kubernetes.io/last-applied-configuration": `{"apiVersion":"networking.k8s.io/v1","kind":"Ingress","metadata":{}}`,
		"nginx.ingress.kubernetes.io/proxy-body-size":      "8m",
	}
	for k, v := range annotations {
		all[k] = v
	}
	class := "nginx"
	return &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "i1", ResourceVersion: "7", Generation: 2,
			Annotations:   all,
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}, {Manager: meshv1alpha1.FieldManager}}},
		Spec: networkingv1.IngressSpec{IngressClassName: &class, Rules: []networkingv1.IngressRule{{Host: "shop.example.com",
			IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
				Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web"}}}}}}}},
			TLS: []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}}},
		Status: networkingv1.IngressStatus{LoadBalancer: networkingv1.IngressLoadBalancerStatus{
			Ingress: []networkingv1.IngressLoadBalancerIngress{{IP: "203.0.113.7"}}}},
	}
}

func TestIngressFields(t *testing.T) {
	full := ingressWith(map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationIngressClass: "nginx"})
	got, err := ingressFields(full.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want := full.DeepCopy()
	want.Annotations = map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationIngressClass: "nginx"}
	want.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager}}
	want.Status = networkingv1.IngressStatus{}
	want.Spec = policy.IngressSpecRead(full.Spec)
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("an Ingress in the cache:\n got %+v\nwant %+v", got, want)
	}
	// An Ingress without any annotation the decision reads keeps none.
	got, err = ingressFields(ingressWith(nil))
	if err != nil {
		t.Fatal(err)
	}
	if annotations := got.(*networkingv1.Ingress).Annotations; len(annotations) != 0 {
		t.Errorf("annotations kept: %v", annotations)
	}
}

// TestIngressFieldsKeepEveryDecision: the Ingress decision on the cache's copy is the decision on the
// whole Ingress, for each annotation the decision reads.
func TestIngressFieldsKeepEveryDecision(t *testing.T) {
	web := &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10"}}
	on := true
	for _, tc := range []struct {
		name        string
		annotations map[string]string
		reason      string
	}{
		{"none", nil, policy.Configured},
		{"legacy class of another controller", map[string]string{policy.AnnotationIngressClass: "traefik"}, policy.ClassNotServed},
		{"service-upstream set by its owner", map[string]string{policy.AnnotationServiceUpstream: "false"}, policy.AnnotationConflict},
		{"upstream-vhost set by its owner", map[string]string{policy.AnnotationUpstreamVhost: "web.example.com"}, policy.AnnotationConflict},
		{"both, as meshkeeper sets them", map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "web.shop.svc"}, policy.Configured},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full := ingressWith(tc.annotations)
			if _, legacy := tc.annotations[policy.AnnotationIngressClass]; legacy {
				full.Spec.IngressClassName = nil
			}
			cached, err := ingressFields(full.DeepCopy())
			if err != nil {
				t.Fatal(err)
			}
			decide := func(ing *networkingv1.Ingress) policy.IngressDecision {
				return policy.Ingress(policy.IngressInput{Ingress: ing,
					IngressNginx:      meshv1alpha1.IngressNginxSpec{Enabled: &on, IngressClassNames: []string{"nginx"}},
					NamespaceEnrolled: true, Controller: policy.PodTemplateDecision{Configured: true},
					Service: func(string) (*corev1.Service, bool) { return web, true }})
			}
			want := decide(full)
			if want.Reason != tc.reason {
				t.Fatalf("decision on the whole Ingress: %s (%s), want reason %s", want.Reason, want.Message, tc.reason)
			}
			if got := decide(cached.(*networkingv1.Ingress)); !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("decision on the cache's copy:\n got %+v\nwant %+v", got, want)
			}
		})
	}
}
