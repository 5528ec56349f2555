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
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// kubectl delete --cascade=orphan, and Argo CD's PrunePropagationPolicy=orphan, ask to keep what the
// ServiceMesh owns: the API server adds the orphan finalizer, and the garbage collector takes the owner
// references off the dependents. meshkeeper's uninstall used to race it, delete what was still owned,
// delete every release record, say Uninstalled, and leave the rest running with nothing that knew of
// it. The envtest tier runs no garbage collector, so the orphan finalizer stays for meshkeeper to see.
var _ = Describe("A ServiceMesh deleted with orphan propagation", long, func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("leaves the control plane running with its release records, says so, lets the ServiceMesh go, and is taken over by a new one", func() {
		const ns = "orphan-system"
		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
			// A record exists from the start of its install (pending-install): the objects are all there
			// only once it is deployed.
			g.Expect(releaseStatus(ns, "istiod", 1)).To(Equal(rcommon.StatusDeployed))
			g.Expect(releaseStatus(ns, "istio-base", 1)).To(Equal(rcommon.StatusDeployed))
		}, installTimeout, poll).Should(Succeed())
		installed := slices.Sorted(maps.Keys(managedObjects()))

		mesh := getMesh()
		// The envtest tier runs no garbage collector to remove the orphan finalizer: the ServiceMesh would
		// stay, and hold every spec after this one.
		DeferCleanup(func() {
			live := &meshv1alpha1.ServiceMesh{}
			if k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), live) == nil && live.UID == mesh.UID {
				Expect(k8sClient.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
			}
		})
		Expect(k8sClient.Delete(ctx, mesh, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
			g.Expect(mesh.Finalizers).To(Equal([]string{metav1.FinalizerOrphanDependents}), "meshkeeper's finalizer is not released")
		}, installTimeout, poll).Should(Succeed())

		var notes, reasons []string
		for _, e := range listEvents() {
			if e.Regarding.UID != mesh.UID {
				continue
			}
			reasons = append(reasons, e.Reason)
			if e.Reason == "Orphaned" {
				Expect(e.Type).To(Equal(corev1.EventTypeWarning))
				notes = append(notes, e.Note)
			}
		}
		Expect(notes).To(ConsistOf(And(ContainSubstring(ns+"/istiod"), ContainSubstring(ns+"/istio-base"),
			ContainSubstring("helm uninstall -n "+ns+" istio-base "))))
		Expect(reasons).NotTo(ContainElement("Uninstalled"), "the deletion reported an uninstall that did not happen")
		Expect(istiodOrNil(ns)).NotTo(BeNil(), "istiod was uninstalled")
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}), "istiod's release record was deleted")
		Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}), "istio-base's release record was deleted")
		Expect(slices.Sorted(maps.Keys(managedObjects()))).To(Equal(installed), "objects of the control plane were deleted")

		By("letting the ServiceMesh go, as the garbage collector does, and creating it again")
		Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
		deleteMesh()
		createMesh("  namespace: " + ns + "\n")
		again := getMesh()
		Eventually(func(g Gomega) {
			d := istiodOrNil(ns)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.OwnerReferences).To(ContainElement(HaveField("UID", again.UID)), "the new ServiceMesh did not take istiod over")
		}, installTimeout, poll).Should(Succeed())
		deleteMesh()
		Expect(istiodOrNil(ns)).To(BeNil())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())
	})

	// The control plane kept running goes on injecting the namespaces it served and enforcing their
	// mTLS: the namespace, policy and Ingress controllers used to give back what meshkeeper wrote once
	// the ServiceMesh was being deleted or gone, so restarted workloads came up without sidecars beside
	// meshed ones, and the mesh-wide STRICT PeerAuthentication went while istiod kept running.
	It("keeps what meshkeeper wrote on users' objects, and a new ServiceMesh takes it over", func() {
		const ns, apps, nginx = "orphan-keep-system", "orphan-keep-shop", "orphan-keep-nginx"
		spec := "  namespace: " + ns + "\n  injection:\n    namespaces: [" + apps + "]\n  mtls:\n    mode: STRICT\n" +
			"  sidecarScoping:\n    enabled: true\n  ingressNginx:\n    enabled: true\n" +
			"    controller: {namespace: " + nginx + ", name: controller, kind: Deployment}\n    serviceCIDRs: [10.96.0.0/12]\n"
		createNamespace(apps, nil, nil)
		createNamespace(nginx, nil, nil)
		createService(apps, "web", nil)
		createIngress(apps, "web", func(i *networkingv1.Ingress) {
			i.Spec.IngressClassName = ptr.To("nginx")
			i.Spec.DefaultBackend = ptr.To(ingressBackend("web"))
		})
		createPlainController(nginx, ptr.To[int32](1))
		controllerTemplate := func() corev1.PodTemplateSpec {
			GinkgoHelper()
			d := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: nginx, Name: "controller"}, d)).To(Succeed())
			return d.Spec.Template
		}
		createMesh(spec)
		Eventually(func(g Gomega) {
			g.Expect(releaseStatus(ns, "istiod", 1)).To(Equal(rcommon.StatusDeployed))
			g.Expect(releaseStatus(ns, "istio-base", 1)).To(Equal(rcommon.StatusDeployed))
			g.Expect(namespaceLabels(apps)).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(policyObject(peerAuthenticationKind, ns)).NotTo(BeNil())
			g.Expect(policyObject(sidecarKind, apps)).NotTo(BeNil())
			g.Expect(ingressAnnotations(apps, "web")).To(HaveKey(serviceUpstream))
			g.Expect(controllerTemplate().Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		}, installTimeout, poll).Should(Succeed())
		labels, annotations, template := namespaceLabels(apps), ingressAnnotations(apps, "web"), controllerTemplate()
		kept := func(g Gomega) {
			g.Expect(namespaceLabels(apps)).To(Equal(labels), "the namespace's injection label was taken back")
			g.Expect(ingressAnnotations(apps, "web")).To(Equal(annotations), "the Ingress's annotations were taken back")
			g.Expect(controllerTemplate()).To(Equal(template), "the ingress-nginx controller's sidecar settings were taken back")
			g.Expect(policyObject(peerAuthenticationKind, ns)).NotTo(BeNil(), "the mesh-wide PeerAuthentication was deleted")
			g.Expect(policyObject(sidecarKind, apps)).NotTo(BeNil(), "the enrolled namespace's Sidecar was deleted")
		}

		mesh := getMesh()
		DeferCleanup(func() {
			live := &meshv1alpha1.ServiceMesh{}
			if k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), live) == nil && live.UID == mesh.UID {
				Expect(k8sClient.Patch(ctx, live, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
			}
		})
		Expect(k8sClient.Delete(ctx, mesh, client.PropagationPolicy(metav1.DeletePropagationOrphan))).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())
			g.Expect(mesh.Finalizers).To(Equal([]string{metav1.FinalizerOrphanDependents}), "meshkeeper's finalizer is not released")
		}, installTimeout, poll).Should(Succeed())
		Consistently(kept, 3*time.Second, poll).Should(Succeed(), "while the ServiceMesh is deleted with orphan propagation")
		var notes []string
		for _, e := range listEvents() {
			if e.Regarding.UID == mesh.UID && e.Reason == "Orphaned" {
				notes = append(notes, e.Note)
			}
		}
		Expect(notes).To(ConsistOf(And(ContainSubstring("injection labels on namespaces"), ContainSubstring("annotations on Ingresses"),
			ContainSubstring("kubectl get peerauthentications,sidecars -A -l mesh.meshkeeper.io/managed-by=meshkeeper"))))

		By("taking the owner references off the policies and letting the ServiceMesh go, as the garbage collector does")
		for _, policy := range []*unstructured.Unstructured{policyObject(peerAuthenticationKind, ns), policyObject(sidecarKind, apps)} {
			Expect(k8sClient.Patch(ctx, policy, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"ownerReferences":null}}`)),
				client.FieldOwner("generic-garbage-collector"))).To(Succeed())
		}
		Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), &meshv1alpha1.ServiceMesh{}))
		}, installTimeout, poll).Should(BeTrue())
		Consistently(kept, 3*time.Second, poll).Should(Succeed(), "once the ServiceMesh is gone")

		By("creating the ServiceMesh again, which takes it all over")
		createMesh(spec)
		again := getMesh()
		Eventually(func(g Gomega) {
			for _, policy := range []*unstructured.Unstructured{policyObject(peerAuthenticationKind, ns), policyObject(sidecarKind, apps)} {
				g.Expect(policy).NotTo(BeNil())
				g.Expect(policy.GetOwnerReferences()).To(ConsistOf(HaveField("UID", again.UID)), "%s %s/default was not taken over",
					policy.GetKind(), policy.GetNamespace())
			}
		}, installTimeout, poll).Should(Succeed())
		Expect(namespaceLabels(apps)).To(Equal(labels))
		Expect(ingressAnnotations(apps, "web")).To(Equal(annotations))
		for _, e := range listEvents() {
			if e.Reason == meshv1alpha1.ReasonPolicyConflict && strings.Contains(e.Note, "orphan-keep") {
				Fail("a policy kept was taken for someone else's: " + e.Note)
			}
		}

		By("deleting the ServiceMesh without orphan propagation, which takes it all back")
		deleteMesh()
		Expect(namespaceLabels(apps)).NotTo(HaveKey("istio-injection"))
		Expect(ingressAnnotations(apps, "web")).To(Equal(map[string]string{"owner": "web"}))
		Expect(controllerTemplate().Labels).NotTo(HaveKey("sidecar.istio.io/inject"))
		Expect(policyObject(peerAuthenticationKind, ns)).To(BeNil())
		Expect(policyObject(sidecarKind, apps)).To(BeNil())
	})
})
