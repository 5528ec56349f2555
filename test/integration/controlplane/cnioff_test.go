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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// createPodInjectedForCNI creates a pod as the API server holds it after istiod injected it for the CNI
// agent: istio-validation instead of istio-init, the proxy as a native sidecar, and the status
// annotation that lists them. owner controls it, when given.
func createPodInjectedForCNI(namespace, name string, owner *metav1.OwnerReference) *corev1.Pod {
	GinkgoHelper()
	const image = "docker.io/istio/proxyv2:1.31.1"
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Annotations: map[string]string{
			"sidecar.istio.io/status": `{"initContainers":["istio-validation","istio-proxy"],"containers":null,"revision":"default"}`}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "istio-validation", Image: image},
				{Name: "istio-proxy", Image: image, RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways)}},
			Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}},
		},
	}
	if owner != nil {
		pod.OwnerReferences = []metav1.OwnerReference{*owner}
	}
	Expect(k8sClient.Create(ctx, pod)).To(Succeed())
	return pod
}

// Pods injected for the CNI agent carry istio-validation, which only checks the redirection the agent
// sets up. Turning CNI off uninstalls the agent at once: such a pod runs on until its sandbox is created
// again (a node reboot), and then its istio-validation fails. It needs a restart to get istio-init.
var _ = Describe("Pods injected for the CNI agent once CNI is turned off", Ordered, func() {
	const (
		ns   = "co-system"
		shop = "co-shop"
	)

	BeforeAll(func() {
		// A new mesh runs the agent, and istiod injects for it from the start.
		startMeshWithAgent(ns, "  namespace: "+ns+"\n  version: 1.31.1\n  injection:\n    namespaces: ["+shop+"]\n", shop)
		// Everything the spec creates in the shared API server goes with it: the pods before the mesh
		// (cleanups run last registered first), so that none is counted by another spec.
		var created []client.Object
		DeferCleanup(func() {
			for _, obj := range created {
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, obj, client.GracePeriodSeconds(0)))).To(Succeed())
			}
		})

		// Injected by meshkeeper's control plane: created after its mesh config.
		time.Sleep(time.Second) // creation times have a resolution of a second
		rs := createDeployment(shop, "api", nil)
		created = append(created, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: shop, Name: "api"}}, rs,
			createPodInjectedForCNI(shop, "web", nil),
			createPodInjectedForCNI(shop, "api-1-x", ptr.To(controllerRef("ReplicaSet", rs.Name, rs.UID))))
	})

	It("counts them as current while the agent runs", func() {
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Proxies).To(Equal(meshv1alpha1.ProxiesStatus{Total: 2, Current: 2}))
			g.Expect(conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate).Reason).To(Equal(meshv1alpha1.ReasonProxiesUpToDate))
		}, installTimeout, poll).Should(Succeed())
	})

	It("counts them as outdated once CNI is turned off, and DataPlaneUpToDate says they need a restart", func() {
		patchSpec(`{"cni": {"enabled": false}}`)
		Eventually(func(g Gomega) {
			cni := getMesh().Status.CNI
			g.Expect(cni).NotTo(BeNil())
			g.Expect(cni.Enabled).To(BeFalse())
			g.Expect(cni.Namespace).To(BeEmpty())
		}, installTimeout, poll).Should(Succeed(), "the agent is uninstalled")
		Eventually(func(g Gomega) {
			g.Expect(getMesh().Status.Proxies).To(Equal(meshv1alpha1.ProxiesStatus{Total: 2, Outdated: 2}),
				"pods with istio-validation and no agent count as current")
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRestartNeeded))
			g.Expect(c.Message).To(ContainSubstring("2 with an outdated proxy; most in " + shop + " (2)"))
			g.Expect(c.Message).To(ContainSubstring("2 of the outdated pod(s) were injected for the CNI agent, which is off"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("restarts their workloads with automatic restarts, and names the pods it cannot restart", func() {
		markAvailable(ns, "istiod") // istiod rolled out without the CNI injection
		patchSpec(`{"dataPlane": {"restarts": {"mode": "Automatic"}}}`)
		Eventually(func() string { return restartedAt(shop, "api") }, installTimeout, poll).ShouldNot(BeEmpty(),
			"the Deployment of a pod injected for the CNI agent was not restarted")
		Eventually(func(g Gomega) {
			p := getMesh().Status.Proxies
			g.Expect(p.Restarting).To(BeEquivalentTo(1))
			g.Expect(p.NotRestartable).To(BeEquivalentTo(1), "the bare pod web")
		}, installTimeout, poll).Should(Succeed())
	})
})
