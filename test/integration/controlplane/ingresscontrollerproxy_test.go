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

// The ingress-nginx controller gets its sidecar from its pod template, in a namespace that is not
// enrolled (docs/ingress-nginx.md): its proxy is counted and restarted after an upgrade like those of
// the enrolled namespaces, and no other pod of its namespace is.
var _ = Describe("the ingress-nginx controller's proxy outside the enrolled namespaces", Ordered, func() {
	const (
		system       = "icp-system"
		apps         = "icp-apps"
		controllerNS = "icp-nginx"
	)
	BeforeAll(func() {
		deleteMesh()
		// Other specs count the pods of revision "default" cluster-wide: these go with this container,
		// after the mesh (cleanups run last in, first out).
		DeferCleanup(func() {
			for _, name := range []string{"controller-1-a", "other-1-a"} {
				pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: name}}
				Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, pod, client.GracePeriodSeconds(0)))).To(Succeed())
			}
		})
		DeferCleanup(deleteMesh)
		createNamespace(apps, nil, nil)
		createNamespace(controllerNS, nil, nil)
		createPlainController(controllerNS, ptr.To[int32](1))
		createMesh("  namespace: " + system + "\n  version: 1.31.0\n  injection:\n    namespaces: [" + apps + "]\n" +
			"  ingressNginx:\n    enabled: true\n    controller: {namespace: " + controllerNS + ", name: controller, kind: Deployment}\n" +
			"    serviceCIDRs: [10.96.0.0/12]\n")
		Eventually(func() bool { return istiodOrNil(system) != nil }, installTimeout, poll).Should(BeTrue())
		markAvailable(system, "istiod")
		Eventually(func() map[string]string {
			d := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, d)).To(Succeed())
			return d.Spec.Template.Labels
		}, installTimeout, poll).Should(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		markAvailable(controllerNS, "controller")
		controller := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: controllerNS, Name: "controller"}, controller)).To(Succeed())
		// The envtest tier has no Deployment controller: its ReplicaSet, and a pod of it created from the
		// template with the sidecar settings, after the mesh config, which the injector of the installed
		// istiod (revision "default") gave the sidecar of 1.31.0.
		rs := &appsv1.ReplicaSet{
			ObjectMeta: metav1.ObjectMeta{Namespace: controllerNS, Name: "controller-1", Labels: controller.Spec.Selector.MatchLabels,
				OwnerReferences: []metav1.OwnerReference{controllerRef("Deployment", controller.Name, controller.UID)}},
			Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: controller.Spec.Selector, Template: controller.Spec.Template},
		}
		Expect(k8sClient.Create(ctx, rs)).To(Succeed())
		createInjectedPod(controllerNS, "controller-1-a", "default", "1.31.0", rs)
		// Another workload of the namespace, with a sidecar of its own: not the mesh's.
		other := createDeployment(controllerNS, "other", nil)
		createInjectedPod(controllerNS, "other-1-a", "default", "1.31.0", other)
	})

	It("counts the controller's sidecar, and only the controller's, in status.proxies", func() {
		Eventually(func(g Gomega) {
			p := getMesh().Status.Proxies
			g.Expect(p.Total).To(BeEquivalentTo(1), "the controller's pod of the non-enrolled namespace %s", controllerNS)
			g.Expect(p.Current).To(BeEquivalentTo(1), "%+v", p)
		}, installTimeout, poll).Should(Succeed())
	})

	It("counts it outdated after an upgrade, and restarts the controller automatically", func() {
		patchSpec(`{"version": "1.31.1"}`)
		Eventually(func(g Gomega) {
			g.Expect(istiod(system).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.31.1"))
		}, installTimeout, poll).Should(Succeed())
		markAvailable(system, "istiod")
		Eventually(func(g Gomega) {
			p := getMesh().Status.Proxies
			g.Expect(p.Total).To(BeEquivalentTo(1))
			g.Expect(p.Outdated).To(BeEquivalentTo(1), "the controller's pod of 1.31.0 is outdated under 1.31.1")
			c := conditionOf(meshv1alpha1.ConditionDataPlaneUpToDate)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "DataPlaneUpToDate: %s: %s", c.Reason, c.Message)
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() string { return restartedAt(controllerNS, "controller") }, time.Second, poll).Should(BeEmpty(),
			"Manual restarts write nothing")

		patchSpec(`{"dataPlane": {"restarts": {"mode": "Automatic"}}}`)
		Eventually(func() string { return restartedAt(controllerNS, "controller") }, installTimeout, poll).ShouldNot(BeEmpty(),
			"the ingress-nginx controller's outdated sidecar was not restarted")
		Consistently(func() string { return restartedAt(controllerNS, "other") }, time.Second, poll).Should(BeEmpty(),
			"another workload of the controller's namespace, which is not enrolled, is not the mesh's")
	})

	It("holds the cluster's ReplicaSets once, for the status pass and the restarts both", func() {
		// Both followed the controller's pod to its Deployment through its ReplicaSet by now (the
		// status counted it, the restarts restarted it): one informer of ReplicaSets, not one per cache.
		Expect(managerInformers.Of("/apis/apps/v1/replicasets")).To(Equal(1),
			"informers of every ReplicaSet of the cluster the manager started")
	})
})
