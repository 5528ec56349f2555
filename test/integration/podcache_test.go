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
	"slices"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The manager's cache keeps each pod as a policy.ProxyPod, and meshctx.CachedPods lists them by
// namespace from the informer itself; a cache without meshkeeper's transform serves the same.
var _ = Describe("The pod cache", func() {
	It("holds each pod as a ProxyPod and lists them by namespace", func() {
		for _, ns := range []string{"podcache-a", "podcache-b"} {
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		}
		pod := func(ns, name string, proxy bool) *corev1.Pod {
			p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name,
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-7d9c",
					UID: "5f0c2a9e-3b7d-4c1e-9a6f-2d8e4b1c7a30", Controller: ptr.To(true)}}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "shop", Image: "registry.example.com/shop:4.2",
					Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "debug"}}}}}}
			if proxy {
				p.Annotations = map[string]string{policy.AnnotationSidecarStatus: `{"containers":["istio-proxy"],"revision":"canary"}`}
				p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: policy.ProxyContainer, Image: "docker.io/istio/proxyv2:1.31.1",
					Env: []corev1.EnvVar{{Name: "PROXY_CONFIG", Value: `{"discoveryAddress":"istiod-canary.istio-system.svc:15012"}`}}})
			}
			Expect(k8sClient.Create(ctx, p)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), p))).To(Succeed()) })
			return p
		}
		pod("podcache-a", "injected", true)
		pod("podcache-a", "plain", false)
		pod("podcache-b", "other", false)

		for name, opts := range map[string]cache.Options{"meshkeeper's cache": controllers.CacheOptions(nil), "a plain cache": {}} {
			opts.Scheme = env.Scheme
			informers, err := cache.New(env.Config, opts)
			Expect(err).NotTo(HaveOccurred())
			cacheCtx, stop := context.WithCancel(ctx)
			go func() { _ = informers.Start(cacheCtx) }()
			pods := meshctx.CachedPods(informers)
			Eventually(func(g Gomega) {
				got, err := pods.ListPods(ctx, "podcache-a")
				g.Expect(err).NotTo(HaveOccurred())
				g.Expect(got).To(HaveLen(2), name)
				slices.SortFunc(got, func(a, b *policy.ProxyPod) int { return len(b.Name) - len(a.Name) })
				g.Expect(got[0].Name).To(Equal("injected"))
				g.Expect(got[0].HasProxy && got[0].Injected).To(BeTrue(), name)
				g.Expect(got[0].InjectedRevision).To(Equal("canary"))
				g.Expect(got[0].ProxyImage).To(Equal("docker.io/istio/proxyv2:1.31.1"))
				g.Expect(got[0].DiscoveryService).To(Equal("istiod-canary.istio-system"))
				g.Expect(got[0].Controller).To(Equal(policy.PodController{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "shop-7d9c",
					UID: "5f0c2a9e-3b7d-4c1e-9a6f-2d8e4b1c7a30"}))
				g.Expect(got[1].HasProxy || got[1].Injected).To(BeFalse(), name)

				all, err := pods.ListPods(ctx, "")
				g.Expect(err).NotTo(HaveOccurred())
				var names []string
				for _, p := range all {
					if p.Namespace == "podcache-a" || p.Namespace == "podcache-b" {
						names = append(names, p.Name)
					}
				}
				g.Expect(names).To(ConsistOf("injected", "plain", "other"), name)
			}, "10s", "50ms").Should(Succeed())
			if name == "meshkeeper's cache" {
				// What the informer stores is the ProxyPod itself: a PodList cannot be read from it.
				Expect(informers.List(ctx, &corev1.PodList{}, client.InNamespace("podcache-b"))).To(MatchError(ContainSubstring("ProxyPod")))
			}
			stop()
		}
	})
})
