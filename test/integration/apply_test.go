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
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

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
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// patchAnswers is a client that records the size in bytes of the API server's answer to each PATCH.
func patchAnswers() (client.Client, func() []int) {
	var mu sync.Mutex
	var sizes []int
	config := *env.Config
	config.Wrap(func(next http.RoundTripper) http.RoundTripper {
		return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
			resp, err := next.RoundTrip(req)
			if err != nil || req.Method != http.MethodPatch {
				return resp, err
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return nil, err
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			mu.Lock()
			sizes = append(sizes, len(body))
			mu.Unlock()
			return resp, nil
		})
	})
	c, err := client.New(&config, client.Options{Scheme: env.Scheme})
	Expect(err).NotTo(HaveOccurred())
	return c, func() []int {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(sizes)
	}
}

// The applies of metadata (a namespace's enrollment, an Ingress's annotations, a workload's pod template)
// keep their server-side apply semantics, and the API server answers each with the object's metadata
// only: the answer is not read, and decoding whole objects from JSON cost the manager a tenth of its CPU
// while a large cluster was enrolled.
var _ = Describe("Applying meshkeeper's metadata", func() {
	const ns = "apply-metadata"

	BeforeEach(func() {
		Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
	})

	// ingress creates an Ingress with 40 rules (a spec of several KB) and another manager's annotation.
	ingress := func(name string) *networkingv1.Ingress {
		ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
			Annotations: map[string]string{"team.example.com/owner": "shop"}}}
		for i := range 40 {
			ing.Spec.Rules = append(ing.Spec.Rules, networkingv1.IngressRule{Host: fmt.Sprintf("shop-%d.example.com", i),
				IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: ptr.To(networkingv1.PathTypePrefix),
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop",
						Port: networkingv1.ServiceBackendPort{Number: 8080}}}}}}}})
		}
		Expect(k8sClient.Create(ctx, ing)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), ing))).To(Succeed()) })
		return ing
	}

	It("gets the object's metadata back, not the whole object", func() {
		c, answers := patchAnswers()
		ing := ingress("answer")
		Expect(apply.Metadata(ctx, c, ing, nil, map[string]string{"nginx.ingress.kubernetes.io/service-upstream": "true"})).To(Succeed())

		deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "answer"},
			Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "answer"}},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "answer"}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}}}}
		Expect(k8sClient.Create(ctx, deploy)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), deploy))).To(Succeed()) })
		Expect(apply.PodTemplateMetadata(ctx, c, deploy, map[string]string{"sidecar.istio.io/inject": "true"}, nil)).To(Succeed())

		got := answers()
		Expect(got).To(HaveLen(2))
		whole := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), whole)).To(Succeed())
		// The Ingress's answer is its metadata (names, annotations, managed fields), about 550 bytes; the
		// whole Ingress, its 40 rules with it, is more than 6 KB.
		wholeJSON, err := json.Marshal(whole)
		Expect(err).NotTo(HaveOccurred())
		Expect(len(wholeJSON)).To(BeNumerically(">", 6000))
		Expect(got[0]).To(BeNumerically("<", 1200), "the answer to the Ingress's apply")
		// The Deployment's answer holds no pod template either.
		Expect(got[1]).To(BeNumerically("<", 1200), "the answer to the Deployment's apply")

		live := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(deploy), live)).To(Succeed())
		Expect(live.Spec.Template.Labels).To(Equal(map[string]string{"app": "answer", "sidecar.istio.io/inject": "true"}))
	})

	It("keeps server-side apply's semantics: its own keys only, removed when no longer applied, others' left alone", func() {
		ing := ingress("semantics")
		Expect(apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{"a.example.com/one": "1", "a.example.com/two": "2"})).To(Succeed())
		Expect(apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{"a.example.com/one": "1"})).To(Succeed())
		live := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), live)).To(Succeed())
		Expect(live.Annotations).To(Equal(map[string]string{"team.example.com/owner": "shop", "a.example.com/one": "1"}))
		var owners []string
		for _, entry := range live.ManagedFields {
			if entry.FieldsV1 != nil && strings.Contains(entry.FieldsV1.GetRawString(), "a.example.com/one") {
				owners = append(owners, entry.Manager+"/"+string(entry.Operation))
			}
		}
		Expect(owners).To(Equal([]string{meshv1alpha1.FieldManager + "/Apply"}))

		// Another manager's key with another value is a conflict, not taken over.
		err := apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{"a.example.com/one": "1", "team.example.com/owner": "mesh"})
		Expect(apierrors.IsConflict(err)).To(BeTrue(), "%v", err)

		// An empty map gives up every key meshkeeper applied.
		Expect(apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{})).To(Succeed())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), live)).To(Succeed())
		Expect(live.Annotations).To(Equal(map[string]string{"team.example.com/owner": "shop"}))
	})

	It("never creates an object that is gone", func() {
		ing := ingress("gone")
		Expect(k8sClient.Delete(ctx, ing)).To(Succeed())
		err := apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{"a.example.com/one": "1"})
		Expect(err).To(HaveOccurred())
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ing), &networkingv1.Ingress{})).To(Satisfy(apierrors.IsNotFound))

		// Nor one of the same name created since: the apply names the UID it read.
		again := ingress("gone")
		Expect(again.UID).NotTo(Equal(ing.UID))
		err = apply.Metadata(ctx, k8sClient, ing, nil, map[string]string{"a.example.com/one": "1"})
		Expect(err).To(HaveOccurred())
		live := &networkingv1.Ingress{}
		Expect(k8sClient.Get(ctx, types.NamespacedName{Namespace: ns, Name: "gone"}, live)).To(Succeed())
		Expect(live.Annotations).NotTo(HaveKey("a.example.com/one"))
	})
})
