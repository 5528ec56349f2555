//go:build cluster

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

package cluster

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// TestInjection shows the simulated injector answering Istio-shaped webhooks as the revision's istiod
// would: a pod of a namespace labelled for revision r1 gets r1's status annotation and proxy image once
// the injector has written its CA into the webhook; a pod of a namespace no webhook selects, or one that
// opts out, is left alone; a pod of a broken revision stays Pending.
func TestInjection(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Start(ctx, Options{Dir: t.TempDir(), Nodes: 1, Injection: &Injection{}})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	client, err := kubernetes.NewForConfig(c.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	create := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, labels := range map[string]map[string]string{"istio-system": nil, "app": {"istio.io/rev": "r1"}, "plain": nil} {
		_, err := client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}, metav1.CreateOptions{})
		create(err)
	}
	values, _ := json.Marshal(map[string]any{"global": map[string]any{"hub": "registry.example/istio", "tag": "1.31.1", "proxy": map[string]any{"image": "proxyv2"}}})
	_, err = client.CoreV1().ConfigMaps("istio-system").Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-r1"}, Data: map[string]string{"values": string(values)},
	}, metav1.CreateOptions{})
	create(err)
	_, err = client.CoreV1().Services("istio-system").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "istiod-r1"},
		Spec: corev1.ServiceSpec{Selector: map[string]string{"app": "istiod"},
			Ports: []corev1.ServicePort{{Name: "https-webhook", Port: 443, TargetPort: intstr.FromInt32(15017)}}},
	}, metav1.CreateOptions{})
	create(err)
	fail, none, path := admissionregistrationv1.Fail, admissionregistrationv1.SideEffectClassNone, "/inject"
	_, err = client.AdmissionregistrationV1().MutatingWebhookConfigurations().Create(ctx, &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-sidecar-injector-r1"},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name:         "rev.namespace.sidecar-injector.istio.io",
			ClientConfig: admissionregistrationv1.WebhookClientConfig{Service: &admissionregistrationv1.ServiceReference{Namespace: "istio-system", Name: "istiod-r1", Path: &path}},
			Rules: []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
				Rule: admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{"istio.io/rev": "r1"}},
			FailurePolicy:           &fail,
			SideEffects:             &none,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}, metav1.CreateOptions{})
	create(err)

	pod := func(ns, name string, annotations map[string]string) *corev1.Pod {
		t.Helper()
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}}}
		var created *corev1.Pod
		// Until the injector has written its CA into the webhook, the API server cannot call it and,
		// failurePolicy Fail, rejects the pod: as with a real istiod that has not started yet.
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			var err error
			created, err = client.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("creating pod %s/%s: %v", ns, name, err)
		}
		return created
	}
	injected := pod("app", "injected", nil)
	if got := injected.Annotations["sidecar.istio.io/status"]; got != `{"containers":["istio-proxy"],"revision":"r1"}` {
		t.Errorf("status annotation %q, want the one of revision r1", got)
	}
	if n := len(injected.Spec.Containers); n != 2 || injected.Spec.Containers[1].Image != "registry.example/istio/proxyv2:1.31.1" {
		t.Errorf("containers %+v, want app and istio-proxy registry.example/istio/proxyv2:1.31.1", injected.Spec.Containers)
	}
	for _, p := range []*corev1.Pod{pod("plain", "plain", nil), pod("app", "opted-out", map[string]string{"sidecar.istio.io/inject": "false"})} {
		if _, ok := p.Annotations["sidecar.istio.io/status"]; ok || len(p.Spec.Containers) != 1 {
			t.Errorf("pod %s/%s was injected: %v %+v", p.Namespace, p.Name, p.Annotations, p.Spec.Containers)
		}
	}
	if got := c.Injector().Injected("r1"); got != 1 {
		t.Errorf("revision r1 injected %d pods, want 1", got)
	}

	c.Injector().SetBroken("r1", true)
	broken := pod("app", "broken", nil)
	if got := broken.Spec.NodeSelector[BrokenRevisionLabel]; got != "r1" {
		t.Errorf("a pod of the broken revision selects %v, want %s=r1", broken.Spec.NodeSelector, BrokenRevisionLabel)
	}
	running := func(name string) func(context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			p, err := client.CoreV1().Pods("app").Get(ctx, name, metav1.GetOptions{})
			return err == nil && p.Status.Phase == corev1.PodRunning, nil
		}
	}
	if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, running("injected")); err != nil {
		t.Fatalf("the injected pod does not run: %v", err)
	}
	// By now the scheduler has seen the broken pod long enough to give up on it for a while.
	if ok, _ := running("broken")(ctx); ok {
		t.Error("the pod of the broken revision runs")
	}
	p, err := client.CoreV1().Pods("app").Get(ctx, "broken", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Spec.NodeName != "" {
		t.Errorf("the pod of the broken revision was scheduled on %s", p.Spec.NodeName)
	}
}
