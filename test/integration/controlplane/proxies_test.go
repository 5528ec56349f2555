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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// createPod creates a pod as the API server would hold it after the injector ran (revision and proxy
// image given) or without a sidecar (revision "").
func createPod(namespace, name, revision, proxyImage string, labels map[string]string) *corev1.Pod {
	GinkgoHelper()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
	}
	if revision != "" {
		pod.Annotations = map[string]string{"sidecar.istio.io/status": fmt.Sprintf(
			`{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":%q}`, revision)}
		pod.Spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: proxyImage}}
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: proxyImage})
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	return pod
}

var _ = Describe("Proxies that need a restart", Ordered, func() {
	const current = "docker.io/istio/proxyv2:1.31.1"
	var stale []*corev1.Pod

	BeforeAll(func() {
		deleteMesh()
		createNamespace("px-shop", nil, nil)
		createNamespace("px-pay", nil, nil)
		createNamespace("px-other", nil, nil)
		stale = append(stale,
			createPod("px-shop", "before-enrollment", "", "", nil),
			createPod("px-shop", "old-proxy", "default", "docker.io/istio/proxyv2:1.30.2", nil),
			createPod("px-pay", "canary", "canary", current, nil),
		)
		createPod("px-shop", "opted-out", "", "", map[string]string{"sidecar.istio.io/inject": "false"})
		createPod("px-other", "outside", "", "", nil)
		createMesh("  namespace: px-system\n  version: 1.31.1\n  injection:\n    namespaces: [px-shop, px-pay]\n")
		// Injected by meshkeeper's control plane: created once its mesh config exists.
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Namespace: "px-system", Name: "istio"}, &corev1.ConfigMap{})
		}, installTimeout, poll).Should(Succeed())
		time.Sleep(time.Second) // creation times have a resolution of a second
		createPod("px-shop", "injected", "default", current, nil)
	})
	AfterAll(deleteMesh)

	It("counts pods without a sidecar and with an outdated one in enrolled namespaces only", func() {
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.Proxies).To(Equal(meshv1alpha1.ProxiesStatus{Total: 4, Current: 1, WithoutSidecar: 1, Outdated: 2}))
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRestartNeeded))
			g.Expect(c.Message).To(ContainSubstring("most in px-shop (2), px-pay (1)"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("does not hold Ready back for pods only their owners can restart", func() {
		Eventually(func() bool { return istiodOrNil("px-system") != nil }, installTimeout, poll).Should(BeTrue())
		markAvailable("px-system", "istiod")
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionReady).Status }, installTimeout, poll).
			Should(Equal(metav1.ConditionTrue))
		Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Status).To(Equal(metav1.ConditionFalse))
	})

	It("is up to date once the stale pods are replaced", func() {
		for _, pod := range stale {
			Expect(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0))).To(Succeed())
		}
		createPod("px-shop", "restarted", "default", current, nil)
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Proxies).To(Equal(meshv1alpha1.ProxiesStatus{Total: 2, Current: 2}))
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() ([]string, error) {
			return missingMetrics(`meshkeeper_proxies{state="current"} 2`, `meshkeeper_proxies{state="outdated"} 0`)
		}, installTimeout, poll).Should(BeEmpty())
	})

	It("counts the proxies injected before the mesh config changed", func() {
		time.Sleep(time.Second) // so the change is a second after the pods' creation
		patchSpec(`{"proxy": {"deltaXDS": false}}`)
		Eventually(func() meshv1alpha1.ProxiesStatus { return getMesh().Status.Proxies }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ProxiesStatus{Total: 2, Outdated: 2}))
		createPod("px-shop", "after-change", "default", current, nil)
		Eventually(func() meshv1alpha1.ProxiesStatus { return getMesh().Status.Proxies }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ProxiesStatus{Total: 3, Current: 1, Outdated: 2}))
	})

	It("does not count the pods as outdated when drift repair undoes an edit of the mesh config", func() {
		key := client.ObjectKey{Namespace: "px-system", Name: "istio"}
		meshConfig := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, key, meshConfig)).To(Succeed())
		original := meshConfig.Data["mesh"]
		var recorded []meshv1alpha1.MeshConfigStatus
		Eventually(func(g Gomega) {
			recorded = getMesh().Status.MeshConfigs
			g.Expect(recorded).To(HaveLen(1))
			g.Expect(recorded[0].Name).To(Equal("istio"))
			g.Expect(recorded[0].Digest).To(Equal(meshctx.MeshConfigDigest(original)))
		}, installTimeout, poll).Should(Succeed())

		time.Sleep(time.Second) // so the repair comes a second after the pod "after-change" was created
		meshConfig.Data["mesh"] = "defaultConfig: {}\n"
		Expect(k8sClient.Update(ctx, meshConfig)).To(Succeed())
		edited := meshConfig.ResourceVersion
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, key, meshConfig)).To(Succeed())
			g.Expect(meshConfig.ResourceVersion).NotTo(Equal(edited))
			g.Expect(meshConfig.Data["mesh"]).To(Equal(original))
		}, installTimeout, poll).Should(Succeed(), "drift repair puts the mesh config back")

		Consistently(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.Proxies).To(Equal(meshv1alpha1.ProxiesStatus{Total: 3, Current: 1, Outdated: 2}),
				"the pod created after the last change of the mesh config runs it again")
			g.Expect(mesh.Status.MeshConfigs).To(Equal(recorded))
		}, 3*time.Second, poll).Should(Succeed())
	})
})
