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
	"context"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
)

// meshkeeper's label is one anyone can set. With the control-plane namespaces limited, the manager's
// cache holds meshkeeper's namespaced chart kinds only there: a namespace owner who labels ConfigMaps of
// their own as meshkeeper's does not fill the manager's memory (nor wake its reconciles). The
// cluster-scoped kinds are cached wherever they are.
var _ = Describe("The cache of the chart kinds", func() {
	It("holds labelled namespaced objects only in the control-plane namespaces", func() {
		labels := map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}
		for _, ns := range []string{"cachescope-system", "cachescope-team"} {
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "labelled", Labels: labels},
				Data: map[string]string{"payload": "anything"}}
			Expect(k8sClient.Create(ctx, cm)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), cm))).To(Succeed()) })
			// Services are cached in every namespace (the Ingress decisions read them): of a labelled one
			// outside the control-plane namespaces, only what a user's Service keeps.
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "labelled", Labels: labels,
				Annotations: map[string]string{"payload": "anything"}},
				Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
			Expect(k8sClient.Create(ctx, svc)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), svc))).To(Succeed()) })
		}
		role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "cachescope-labelled", Labels: labels}}
		Expect(k8sClient.Create(ctx, role)).To(Succeed())
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), role))).To(Succeed()) })

		for name, tc := range map[string]struct {
			namespaces []string
			want       []string
		}{
			"limited to cachescope-system": {[]string{"cachescope-system"}, []string{"cachescope-system"}},
			"any namespace":                {nil, []string{"cachescope-system", "cachescope-team"}},
		} {
			opts := controllers.CacheOptions(tc.namespaces)
			opts.Scheme = env.Scheme
			informers, err := cache.New(env.Config, opts)
			Expect(err).NotTo(HaveOccurred())
			cacheCtx, stop := context.WithCancel(ctx)
			go func() { _ = informers.Start(cacheCtx) }()
			Eventually(func(g Gomega) {
				configMaps := &corev1.ConfigMapList{}
				g.Expect(informers.List(ctx, configMaps)).To(Succeed())
				var namespaces []string
				for _, cm := range configMaps.Items {
					if cm.Name == "labelled" {
						namespaces = append(namespaces, cm.Namespace)
					}
				}
				g.Expect(namespaces).To(ConsistOf(tc.want), name)
				g.Expect(informers.Get(ctx, client.ObjectKeyFromObject(role), &rbacv1.ClusterRole{})).To(Succeed(), name)
				services := &corev1.ServiceList{}
				g.Expect(informers.List(ctx, services)).To(Succeed())
				whole := map[string]bool{}
				for _, svc := range services.Items {
					if svc.Name == "labelled" {
						whole[svc.Namespace] = svc.Annotations["payload"] != "" && len(svc.Labels) > 0
					}
				}
				wantWhole := map[string]bool{"cachescope-system": true, "cachescope-team": false}
				for _, ns := range tc.want {
					wantWhole[ns] = true
				}
				g.Expect(whole).To(Equal(wantWhole), name+": which labelled Services the cache holds whole")
			}, "10s", "50ms").Should(Succeed())
			stop()
		}
	})
})
