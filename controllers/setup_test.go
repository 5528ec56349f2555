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
	// The informer may hand the transform what it stored already (a tombstone's object).
	if again, err := proxyFields(slim); err != nil || again != slim {
		t.Errorf("proxyFields of a ProxyPod = %#v, %v; want it unchanged", again, err)
	}
}

func TestServiceFields(t *testing.T) {
	// A user's Service keeps only what the Ingress decisions read.
	got, err := serviceFields(service(map[string]string{"app": "web"}))
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", ResourceVersion: "42", Labels: map[string]string{"app": "web"}},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10", ClusterIPs: []string{"10.96.0.10"}},
	}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("a user's Service in the cache:\n got %+v\nwant %+v", got, want)
	}

	// A chart's Service stays whole for the drift check, with only meshkeeper's managed fields.
	managed := service(map[string]string{"mesh.meshkeeper.io/managed-by": "meshkeeper"})
	got, err = serviceFields(managed.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	want = managed.DeepCopy()
	want.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager}}
	if !equality.Semantic.DeepEqual(got, want) {
		t.Errorf("a chart's Service in the cache:\n got %+v\nwant %+v", got, want)
	}
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
