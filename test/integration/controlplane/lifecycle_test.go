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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("Control plane lifecycle", long, Ordered, func() {
	const ns = "istio-system"

	It("installs istio-base and istiod from the built-in charts with the spec's values", func() {
		createMesh("  injection:\n    namespaces: [shop]\n")

		// The two releases are installed side by side, and istiod's usually first: the base chart's
		// CRDs are all applied only once its record is deployed.
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istio-base", 1)).To(BeEquivalentTo("deployed"))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())

		By("creating the control-plane namespace, marked as meshkeeper's")
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.Labels).To(HaveKeyWithValue("mesh.meshkeeper.io/created-by", "meshkeeper"))

		By("rendering istiod with pinned images and the spec's tuning")
		d := istiod(ns)
		Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal("docker.io/istio/pilot:" + "1.31.1"))
		Expect(*d.Spec.Replicas).To(BeEquivalentTo(2))
		Expect(envVar(d, "PILOT_DEBOUNCE_AFTER")).To(Equal("100ms"))
		Expect(envVar(d, "PILOT_PUSH_THROTTLE")).To(Equal("100"))
		Expect(d.Labels).To(HaveKeyWithValue("mesh.meshkeeper.io/managed-by", "meshkeeper"))
		Expect(d.OwnerReferences).To(HaveLen(1))
		Expect(d.OwnerReferences[0].UID).To(Equal(getMesh().UID))

		By("writing the proxy defaults into the mesh config istiod and the injector read")
		meshConfig := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio"}, meshConfig)).To(Succeed())
		Expect(meshConfig.Data["mesh"]).To(ContainSubstring("ISTIO_DELTA_XDS: \"true\""))
		Expect(meshConfig.Data["mesh"]).To(ContainSubstring("ISTIO_META_DNS_CAPTURE: \"true\""))
		Expect(meshConfig.Data["mesh"]).To(ContainSubstring("holdApplicationUntilProxyStarts: true"))
		injector := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio-sidecar-injector"}, injector)).To(Succeed())
		Expect(injector.Data["values"]).To(ContainSubstring(`"rewriteAppHTTPProbe": true`))

		By("installing the Istio CRDs, kept on uninstall and owned by no one")
		crd := &apiextensionsv1.CustomResourceDefinition{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "virtualservices.networking.istio.io"}, crd)).To(Succeed())
		Expect(crd.Annotations).To(HaveKeyWithValue("helm.sh/resource-policy", "keep"))
		Expect(crd.OwnerReferences).To(BeEmpty())

		By("reporting the control plane as rolling out until istiod is available")
		Eventually(func() string { return conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason }, installTimeout, poll).
			Should(Equal(meshv1alpha1.ReasonRollingOut))
		Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("Installed"))
	})

	It("reports Ready once istiod is available", func() {
		markAvailable(ns, "istiod")
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
			g.Expect(mesh.Status.Version).To(Equal("1.31.1"))
			g.Expect(mesh.Status.ChartVersion).To(Equal("1.31.1"))
			g.Expect(mesh.Status.Revision).To(Equal("default"))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
	})

	It("serves its own metrics on the manager's metrics endpoint", func() {
		Eventually(func() ([]string, error) {
			return missingMetrics(
				`meshkeeper_helm_operations_total{action="installed",release="istiod",result="success"} `,
				`meshkeeper_helm_operations_total{action="installed",release="istio-base",result="success"} `,
				"meshkeeper_control_plane_ready 1",
				"meshkeeper_enrolled_namespaces 0",
				`meshkeeper_condition{reason="Available",status="True",type="ControlPlaneReady"} 1`,
				`meshkeeper_condition{reason="Succeeded",status="True",type="Ready"} 1`,
				`meshkeeper_istio_info{revision="default",version="1.31.1"} 1`,
				`meshkeeper_build_info{goversion="go`,
				`controller_runtime_reconcile_time_seconds_count{controller="servicemesh"}`,
				`controller_runtime_reconcile_time_seconds_count{controller="namespace"}`,
			)
		}, installTimeout, poll).Should(BeEmpty())
	})

	It("writes nothing while nothing changes, however often it reconciles", func() {
		before := managedObjects()
		Expect(before).To(HaveLen(34 - 15 + 7)) // every object of the three charts but the CRDs
		meshVersion := getMesh().ResourceVersion

		By("waking the reconciler with changes that are not meshkeeper's to undo")
		service := &corev1.Service{}
		for i := range 5 {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod"}, service)).To(Succeed())
			patch := []byte(`{"metadata":{"labels":{"example.com/touched":"` + string(rune('a'+i)) + `"}}}`)
			Expect(k8sClient.Patch(ctx, service, client.RawPatch(types.MergePatchType, patch))).To(Succeed())
			time.Sleep(300 * time.Millisecond)
		}

		Consistently(func(g Gomega) {
			after := managedObjects()
			for key, version := range before {
				if strings.HasPrefix(key, "Service "+ns+"/istiod") {
					continue // the test's own label writes
				}
				g.Expect(after).To(HaveKeyWithValue(key, version), "%s was written", key)
			}
			g.Expect(getMesh().ResourceVersion).To(Equal(meshVersion), "the ServiceMesh was written")
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
			g.Expect(releaseRevisions(ns, "istio-cni")).To(Equal([]int{1}))
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())

		By("leaving the user's label on meshkeeper's Service")
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istiod"}, service)).To(Succeed())
		Expect(service.Labels).To(HaveKeyWithValue("example.com/touched", "e"))
	})

	It("upgrades istiod exactly once for a spec change, and leaves istio-base alone", func() {
		patchSpec(`{"controlPlane": {"pushTuning": {"debounceAfter": "250ms"}}}`)
		Eventually(func(g Gomega) {
			g.Expect(envVar(istiod(ns), "PILOT_DEBOUNCE_AFTER")).To(Equal("250ms"))
			g.Expect(releaseStatus(ns, "istiod", 2)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}))
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
		}, 3*time.Second, 300*time.Millisecond).Should(Succeed())
		Expect(releaseStatus(ns, "istiod", 2)).To(BeEquivalentTo("deployed"))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("Upgraded"))
		markAvailable(ns, "istiod")
	})

	It("restores a deleted istiod Deployment", func() {
		old := istiod(ns)
		Expect(k8sClient.Delete(ctx, old)).To(Succeed())
		Eventually(func(g Gomega) {
			current := istiodOrNil(ns)
			g.Expect(current).NotTo(BeNil())
			g.Expect(current.UID).NotTo(Equal(old.UID))
			g.Expect(envVar(current, "PILOT_DEBOUNCE_AFTER")).To(Equal("250ms"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("DriftRepaired"))
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}), "a repair is not an upgrade")
		markAvailable(ns, "istiod")
	})

	It("restores a deleted Istio CRD, without waiting for anything else to change", func() {
		crd := &metav1.PartialObjectMetadata{}
		crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "virtualservices.networking.istio.io"}, crd)).To(Succeed())
		old := crd.UID
		Expect(k8sClient.Delete(ctx, crd)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "virtualservices.networking.istio.io"}, crd)).To(Succeed())
			g.Expect(crd.UID).NotTo(Equal(old))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() []string {
			var notes []string
			for _, e := range listEvents() {
				if e.Regarding.Kind == "ServiceMesh" && e.Reason == "DriftRepaired" {
					notes = append(notes, e.Note)
				}
			}
			return notes
		}, installTimeout, poll).Should(ContainElement(ContainSubstring("virtualservices.networking.istio.io")))
		Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}), "a repair is not an upgrade")
	})

	It("restores an edited mesh config, but leaves istiod's own webhook rewrites alone", func() {
		meshConfig := &corev1.ConfigMap{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio"}, meshConfig)).To(Succeed())
		original := meshConfig.Data["mesh"]
		meshConfig.Data["mesh"] = "defaultConfig: {}\n"
		Expect(k8sClient.Update(ctx, meshConfig)).To(Succeed())
		Eventually(func() string {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "istio"}, meshConfig)).To(Succeed())
			return meshConfig.Data["mesh"]
		}, installTimeout, poll).Should(Equal(original))

		By("not undoing the CA bundle istiod writes into its injection webhook")
		webhook := &admissionregistrationv1.MutatingWebhookConfiguration{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istio-sidecar-injector"}, webhook)).To(Succeed())
		for i := range webhook.Webhooks {
			webhook.Webhooks[i].ClientConfig.CABundle = []byte("-----BEGIN CERTIFICATE-----\nistiod\n-----END CERTIFICATE-----\n")
		}
		Expect(k8sClient.Update(ctx, webhook)).To(Succeed())
		rewritten := webhook.ResourceVersion
		Consistently(func() string {
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istio-sidecar-injector"}, webhook)).To(Succeed())
			return webhook.ResourceVersion
		}, 3*time.Second, 300*time.Millisecond).Should(Equal(rewritten))
	})

	It("reports a version the charts do not have and leaves the running control plane untouched", func() {
		patchSpec(`{"version": "1.30.2"}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound))
			g.Expect(c.Message).To(ContainSubstring("spec.charts.repository"))
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation), "a missing chart is terminal for this generation")
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Reason).To(Equal(meshv1alpha1.ReasonChartNotFound))
		}, installTimeout, poll).Should(Succeed())
		Expect(istiod(ns).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":1.31.1"))
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}))
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonChartNotFound))

		By("recovering when the version is one the charts have")
		patchSpec(`{"version": "1.31.1"}`)
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionReady).Status }, installTimeout, poll).
			Should(Equal(metav1.ConditionTrue))
		Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1, 2}), "1.31.1 is the version already installed")
	})

	It("recovers a release a crashed manager left pending", func() {
		revisions := releaseRevisions(ns, "istiod")
		last := revisions[len(revisions)-1]
		rel := readRelease(ns, "istiod", last)
		rel.Info.Status = "pending-upgrade"
		Expect(releaseDriver(ns).Update(releaseKey("istiod", last), rel)).To(Succeed())

		patchSpec(`{"controlPlane": {"pushTuning": {"pushThrottle": 50}}}`)
		Eventually(func(g Gomega) {
			g.Expect(envVar(istiod(ns), "PILOT_PUSH_THROTTLE")).To(Equal("50"))
			g.Expect(releaseStatus(ns, "istiod", last+1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		// The chart manager records the new revision deployed first, then the one it replaced superseded.
		Eventually(func() any { return releaseStatus(ns, "istiod", last) }, installTimeout, poll).
			Should(BeEquivalentTo("superseded"), "the pending revision was unlocked and then replaced")
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement("Recovered"))
		markAvailable(ns, "istiod")
	})

	It("uninstalls everything it installed and keeps the CRDs and users' Istio objects", func() {
		By("a user's VirtualService, which must survive")
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}})).To(Succeed())
		vs := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
			"metadata": map[string]any{"name": "reviews", "namespace": "shop"},
			"spec":     map[string]any{"hosts": []any{"reviews"}, "http": []any{map[string]any{"route": []any{map[string]any{"destination": map[string]any{"host": "reviews"}}}}}},
		}}
		Expect(k8sClient.Create(ctx, vs)).To(Succeed())

		deleteMesh()

		Expect(managedObjects()).To(BeEmpty(), "objects meshkeeper installed are left behind")
		webhooks := &admissionregistrationv1.MutatingWebhookConfigurationList{}
		Expect(k8sClient.List(ctx, webhooks)).To(Succeed())
		Expect(webhooks.Items).To(BeEmpty(), "a webhook pointing at a removed istiod blocks pod creation")
		validators := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
		Expect(k8sClient.List(ctx, validators)).To(Succeed())
		Expect(validators.Items).To(BeEmpty())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())

		crds := &apiextensionsv1.CustomResourceDefinitionList{}
		Expect(k8sClient.List(ctx, crds)).To(Succeed())
		istioCRDs := 0
		for _, crd := range crds.Items {
			if strings.HasSuffix(crd.Spec.Group, "istio.io") {
				istioCRDs++
			}
		}
		Expect(istioCRDs).To(Equal(15))
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(vs), vs)).To(Succeed())

		By("deleting the namespace meshkeeper created (envtest has no namespace controller to finish it)")
		namespace := &corev1.Namespace{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)
		Expect(apierrors.IsNotFound(err) || !namespace.DeletionTimestamp.IsZero()).To(BeTrue())
	})
})

var _ = Describe("A control-plane namespace the user created", func() {
	BeforeEach(deleteMesh)

	It("is used as it is and left in place on uninstall", func() {
		const ns = "mesh-system"
		userNamespace := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"team": "platform"}, Annotations: map[string]string{"owner": "platform@example.com"}}}
		Expect(k8sClient.Create(ctx, userNamespace)).To(Succeed())

		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
		deleteMesh()

		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "meshkeeper deleted a namespace it did not create")
		Expect(namespace.Labels).To(Equal(map[string]string{"team": "platform", "kubernetes.io/metadata.name": ns}))
		Expect(namespace.Annotations).To(Equal(map[string]string{"owner": "platform@example.com"}))
		Expect(managedObjects()).To(BeEmpty())
	})
})
