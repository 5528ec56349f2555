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
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/testutil"
)

// servedIngress is an Ingress as the API server sends it in protobuf after meshkeeper annotated it:
// shaped as the scale benchmark's (one TLS host, one rule with two paths to one Service), with its
// creator's and meshkeeper's managed-fields entries.
func servedIngress(b *testing.B, namespace string, i int) []byte {
	b.Helper()
	host := fmt.Sprintf("web-%d.%s.example.com", i, namespace)
	path := func(p string) networkingv1.HTTPIngressPath {
		return networkingv1.HTTPIngressPath{Path: p, PathType: ptr.To(networkingv1.PathTypePrefix), Backend: networkingv1.IngressBackend{
			Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Number: 80}}}}
	}
	at := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("web-%d", i),
			UID: "3f1c0a52-8d4e-4c59-9a1e-0c5d7b2e6f41", ResourceVersion: fmt.Sprint(100000 + i), Generation: 1, CreationTimestamp: at,
			Annotations: map[string]string{"owner": namespace,
				"nginx.ingress.kubernetes.io/service-upstream": "true", "nginx.ingress.kubernetes.io/upstream-vhost": "web." + namespace + ".svc"},
			ManagedFields: []metav1.ManagedFieldsEntry{
				{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "networking.k8s.io/v1", Time: &at,
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{".":{},"f:owner":{}}},` +
						`"f:spec":{"f:ingressClassName":{},"f:rules":{},"f:tls":{}}}`)},
				{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "networking.k8s.io/v1", Time: &at,
					FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{` +
						`"f:nginx.ingress.kubernetes.io/service-upstream":{},"f:nginx.ingress.kubernetes.io/upstream-vhost":{}}}}`)},
			}},
		Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("nginx"),
			TLS: []networkingv1.IngressTLS{{Hosts: []string{host}, SecretName: "tls"}},
			Rules: []networkingv1.IngressRule{{Host: host, IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{path("/"), path("/static")}}}}}},
	}
	data, err := ing.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkCachedIngress measures what the cache holds for each of 5,000 Ingresses: decoded as an
// informer decodes them, then stored whole or through the cache's transform (ingressFields). It
// reports the heap they keep after a collection, per Ingress.
func BenchmarkCachedIngress(b *testing.B) {
	testutil.BenchmarkCached(b, "ingress", func(i int) []byte { return servedIngress(b, fmt.Sprintf("scale-%04d", i/5), i%5) },
		func(data []byte) (any, error) { ing := &networkingv1.Ingress{}; return ing, ing.Unmarshal(data) }, ingressFields)
}

// servedService is a user's Service as a Helm chart installs it: the chart's labels and annotations,
// two ports, a selector, and the managed-fields entry of the installer.
func servedService(b *testing.B, namespace string, i int) []byte {
	b.Helper()
	name := fmt.Sprintf("svc-%d", i)
	at := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
			UID: "7a0e5c1d-2b3f-4e8a-9c6d-1f2e3a4b5c6d", ResourceVersion: fmt.Sprint(200000 + i), CreationTimestamp: at,
			Labels: map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace,
				"app.kubernetes.io/version": "1.4.2", "app.kubernetes.io/component": "api", "app.kubernetes.io/part-of": "shop",
				"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "shop-0.9.1"},
			Annotations: map[string]string{"meta.helm.sh/release-name": namespace, "meta.helm.sh/release-namespace": namespace},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate,
				APIVersion: "v1", Time: &at, FieldsType: "FieldsV1",
				FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{".":{}},"f:labels":{".":{}}},"f:spec":{"f:ports":{},"f:selector":{}}}`)}}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.12.34", ClusterIPs: []string{"10.96.12.34"},
			Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("http")},
				{Name: "grpc", Protocol: corev1.ProtocolTCP, Port: 9090, TargetPort: intstr.FromInt32(9090)}},
			Selector:        map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace},
			SessionAffinity: corev1.ServiceAffinityNone, IPFamilies: []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicySingleStack), InternalTrafficPolicy: ptr.To(corev1.ServiceInternalTrafficPolicyCluster)},
	}
	data, err := svc.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkCachedService is BenchmarkCachedIngress for 5,000 users' Services and serviceFields.
func BenchmarkCachedService(b *testing.B) {
	testutil.BenchmarkCached(b, "service", func(i int) []byte { return servedService(b, fmt.Sprintf("scale-%04d", i/5), i%5) },
		func(data []byte) (any, error) { svc := &corev1.Service{}; return svc, svc.Unmarshal(data) }, serviceFields([]string{"istio-system"}))
}
