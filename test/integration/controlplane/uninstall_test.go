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
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A namespace guarded by an admission policy that refuses to lose its injection label: the rest of
// the uninstall goes ahead, the namespace is named, and the uninstall finishes once the policy goes.
var _ = Describe("An uninstall one object refuses", long, Ordered, func() {
	const (
		ns      = "ub-system"
		guarded = "ub-guarded"
		free    = "ub-free"
	)
	policy, binding := denial{
		name:          "ub-keep-injection",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"namespaces"}},
		resourceNames: []string{guarded},
		expression: `!has(oldObject.metadata.labels) || !('istio-injection' in oldObject.metadata.labels) || ` +
			`(has(object.metadata.labels) && 'istio-injection' in object.metadata.labels)`,
		message: "the injection label of this namespace is kept",
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createNamespace(guarded, nil, nil)
		createNamespace(free, nil, nil)
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [" + guarded + ", " + free + "]\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(namespaceLabels(guarded)).To(HaveKeyWithValue("istio-injection", "enabled"))
			g.Expect(namespaceLabels(free)).To(HaveKeyWithValue("istio-injection", "enabled"))
		}, installTimeout, poll).Should(Succeed())
		// The control plane and the CNI agent report ready before the deletion, so that the status of the
		// blocked uninstall is seen to change what it said of them.
		markAvailable(ns, "istiod")
		markCNIReady()
		Eventually(func(g Gomega) {
			mesh := getMesh()
			g.Expect(mesh.Status.CNI).NotTo(BeNil())
			g.Expect(mesh.Status.CNI.Enabled).To(BeTrue(), "the new mesh runs the CNI agent")
			g.Expect(mesh.Status.CNI.ReadyNodes).To(BeEquivalentTo(cniNodes))
			g.Expect(conditionOf(meshv1alpha1.ConditionCNIReady).Status).To(Equal(metav1.ConditionTrue))
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		}, installTimeout, poll).Should(Succeed())
		enforce(policy, binding, func() error {
			probe := &corev1.Namespace{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: guarded}, probe)).To(Succeed())
			delete(probe.Labels, "istio-injection")
			return k8sClient.Update(ctx, probe, client.DryRunAll)
		})
	})
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
		deleteMesh()
	})

	It("uninstalls everything else, names the namespace, and keeps the finalizer", func() {
		By("waiting until the ServiceMesh reports its control plane, in its status and in the metrics")
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason).NotTo(BeEmpty())
			body, err := scrape()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(body).To(ContainSubstring(`type="ControlPlaneReady"`))
		}, installTimeout, poll).Should(Succeed())
		mesh := getMesh()
		Expect(k8sClient.Delete(ctx, mesh)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
			g.Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())
			g.Expect(namespaceLabels(free)).NotTo(HaveKey("istio-injection"))
			ready := conditionOf(meshv1alpha1.ConditionReady)
			g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUninstallBlocked))
			g.Expect(ready.Message).To(ContainSubstring("namespace " + guarded))
		}, installTimeout, poll).Should(Succeed())
		Expect(namespaceLabels(guarded)).To(HaveKeyWithValue("istio-injection", "enabled"))
		Expect(getMesh().Finalizers).To(ContainElement(meshv1alpha1.Finalizer))
		By("saying in the status that the CNI agent and the control plane are gone, rather than what it said of them before")
		Expect(releaseRevisions(ns, "istio-cni")).To(BeEmpty())
		mesh = getMesh()
		Expect(mesh.Status.CNI).NotTo(BeNil())
		Expect(mesh.Status.CNI.ReadyNodes).To(BeZero(), "the status reports the uninstalled CNI agent ready on its nodes")
		Expect(mesh.Status.CNI.DesiredNodes).To(BeZero())
		Expect(mesh.Status.CNI.Namespace).To(BeEmpty(), "the status reports the istio-cni release installed")
		Expect(mesh.Status.Version).To(BeEmpty(), "kubectl get servicemesh shows the Istio version of an uninstalled control plane")
		Expect(mesh.Status.Namespaces.Enrolled).To(BeEquivalentTo(1), "only the namespace that refused keeps meshkeeper's injection label")
		Expect(mesh.Status.Namespaces.Conflicts).To(BeZero())
		Expect(mesh.Status.Proxies.Outdated).To(BeZero(), "the status asks for restarts onto an uninstalled control plane")
		for _, conditionType := range []string{meshv1alpha1.ConditionCNIReady, meshv1alpha1.ConditionControlPlaneReady} {
			c := conditionOf(conditionType)
			Expect(c.Status).To(Equal(metav1.ConditionFalse), "%s says %s of what is uninstalled", conditionType, c.Reason)
			Expect(c.Reason).To(Equal(meshv1alpha1.ReasonUninstallBlocked))
			Expect(c.Message).To(ContainSubstring("uninstalled"))
		}
		var notes []string
		for _, e := range listEvents() {
			if e.Reason == meshv1alpha1.ReasonUninstallBlocked {
				notes = append(notes, e.Note)
			}
		}
		Expect(notes).To(ContainElement(ContainSubstring("namespace " + guarded)))
		By("reporting in the metrics what the status says: no control plane, Ready blocked, and no other condition")
		Eventually(func(g Gomega) {
			body, err := scrape()
			g.Expect(err).NotTo(HaveOccurred())
			g.Expect(body).To(ContainSubstring(`meshkeeper_condition{reason="UninstallBlocked",status="False",type="Ready"} 1`))
			g.Expect(body).NotTo(ContainSubstring("meshkeeper_istio_info{"))
			g.Expect(body).To(ContainSubstring("meshkeeper_control_plane_ready 0"))
			g.Expect(body).To(ContainSubstring("\nmeshkeeper_enrolled_namespaces 1\n"))
			// The status still holds the conditions of the control plane before its releases went
			// (ControlPlaneReady, ...): reported, they would contradict the gauges above and keep their
			// alerts firing for as long as the uninstall stays blocked.
			g.Expect(seriesOf(body, "meshkeeper_condition")).To(ConsistOf(ContainSubstring(`type="Ready"`)),
				"a blocked uninstall exports conditions besides Ready")
			// The ServiceMesh is still there: its Ready alert goes on.
			g.Expect(body).To(ContainSubstring("\nmeshkeeper_servicemesh_present 1\n"))
		}, installTimeout, poll).Should(Succeed())
	})

	It("retries with backoff, not on every wake-up", func() {
		failed := func() float64 {
			GinkgoHelper()
			n, err := metricSum(`controller_runtime_reconcile_total{`, `controller="servicemesh"`, `result="error"`)
			Expect(err).NotTo(HaveOccurred())
			return n
		}
		before := failed()
		By("creating namespaces for 12 s, each of which wakes the ServiceMesh")
		for i := range 24 {
			_, _ = createNamespace(fmt.Sprintf("ub-churn-%d", i), nil, nil)
			time.Sleep(500 * time.Millisecond)
		}
		// Attempts 5 s, then 10 s apart: at most three in the window, where one on every wake-up (every 2 s,
		// the batching of namespace changes) would make six or more.
		Expect(failed() - before).To(BeNumerically("<=", 3))
		Expect(namespaceLabels(guarded)).To(HaveKeyWithValue("istio-injection", "enabled"))
	})

	It("finishes the uninstall once the object lets go", func() {
		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, &meshv1alpha1.ServiceMesh{}))
		}, installTimeout, poll).Should(BeTrue())
		Expect(namespaceLabels(guarded)).NotTo(HaveKey("istio-injection"))
		By("reporting the ServiceMesh gone, which ends its alerts at once")
		body, err := scrape()
		Expect(err).NotTo(HaveOccurred())
		Expect(seriesOf(body, "meshkeeper_condition")).To(BeEmpty())
		Expect(body).To(ContainSubstring("\nmeshkeeper_servicemesh_present 0\n"))
	})
})

// seriesOf returns the lines of a scrape that are series of the metric name.
func seriesOf(body, name string) []string {
	var series []string
	for line := range strings.SplitSeq(body, "\n") {
		if strings.HasPrefix(line, name+"{") || strings.HasPrefix(line, name+" ") {
			series = append(series, line)
		}
	}
	return series
}

var _ = Describe("Uninstall keeps what is not meshkeeper's", func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	waitInstalled := func(ns string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
			g.Expect(releaseStatus(ns, "istiod", 1)).To(BeEquivalentTo("deployed"))
		}, installTimeout, poll).Should(Succeed())
	}
	notDeleted := func(ns string) {
		GinkgoHelper()
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		Expect(namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "namespace %s was deleted", ns)
	}

	It("keeps the namespace it created while istiod's CA is in it, so a reinstalled mesh has the same root CA", func() {
		const ns = "ca-system"
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)

		By("istiod's self-signed root CA, which istiod writes at its first start (envtest runs no istiod)")
		key := make([]byte, 64)
		_, _ = rand.Read(key)
		ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-secret", Namespace: ns},
			Type: "istio.io/ca-root", Data: map[string][]byte{"ca-cert.pem": []byte("root"), "ca-key.pem": key}}
		Expect(k8sClient.Create(ctx, ca)).To(Succeed())

		deleteMesh()
		notDeleted(ns)
		Expect(managedObjects()).To(BeEmpty())
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
		var kept []string
		for _, e := range listEvents() {
			if e.Reason == "NamespaceKept" {
				kept = append(kept, e.Note)
			}
		}
		Expect(kept).To(ContainElement(ContainSubstring("Secret/istio-ca-secret")))

		By("installing again into the kept namespace")
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		again := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(ca), again)).To(Succeed())
		Expect(again.Data).To(Equal(ca.Data), "the mesh's root CA changed across uninstall and reinstall")
	})

	It("deletes the namespace it created once nothing but the cluster's own objects is left", func() {
		const ns = "empty-system"
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		By("what the cluster and istiod put in every namespace, which does not keep it")
		Expect(k8sClient.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-root-cert", Namespace: ns}})).To(Succeed())
		Expect(k8sClient.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default", Namespace: ns}})).
			To(Or(Succeed(), WithTransform(apierrors.IsAlreadyExists, BeTrue())))

		deleteMesh()
		namespace := &corev1.Namespace{}
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)
		Expect(apierrors.IsNotFound(err) || !namespace.DeletionTimestamp.IsZero()).To(BeTrue(), "the namespace meshkeeper created was kept")
	})

	It("does not delete a namespace someone else labelled as created by meshkeeper", func() {
		const ns = "marked-system"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
			Labels: map[string]string{"mesh.meshkeeper.io/created-by": "meshkeeper"}}})).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		deleteMesh()
		notDeleted(ns)
	})

	It("does not delete a namespace someone labelled later under meshkeeper's field manager", func() {
		const ns = "claimed-system"
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
		time.Sleep(2 * time.Second) // the label comes later than the namespace's creation
		claimed := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}
		Expect(k8sClient.Patch(ctx, claimed, client.RawPatch(types.MergePatchType,
			[]byte(`{"metadata":{"labels":{"mesh.meshkeeper.io/created-by":"meshkeeper"}}}`)),
			client.FieldOwner(meshv1alpha1.FieldManager))).To(Succeed())
		createMesh("  namespace: " + ns + "\n")
		waitInstalled(ns)
		deleteMesh()
		notDeleted(ns)
	})

	It("removes its finalizer when another field manager also lists it", func() {
		const ns = "gitops-system"
		By("a ServiceMesh applied server-side by a GitOps tool, with meshkeeper's finalizer in git")
		u := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": meshv1alpha1.GroupVersion.String(), "kind": "ServiceMesh",
			"metadata": map[string]any{"name": meshv1alpha1.ServiceMeshName, "finalizers": []any{meshv1alpha1.Finalizer}},
			"spec":     map[string]any{"namespace": ns},
		}}
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("argocd-controller"))).To(Succeed())
		waitInstalled(ns)
		var owners []string
		for _, entry := range getMesh().ManagedFields {
			if strings.Contains(string(entry.FieldsV1.GetRawBytes()), meshv1alpha1.Finalizer) {
				owners = append(owners, entry.Manager)
			}
		}
		Expect(owners).To(ContainElement("argocd-controller"), "the finalizer is not the GitOps tool's too")

		By("deleting it: giving up meshkeeper's own claim on the finalizer does not remove an entry another manager owns")
		deleteMesh()
		Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
	})
})

// metricSum adds up the samples of the manager's metrics whose line starts with prefix and holds every
// label given.
func metricSum(prefix string, labels ...string) (float64, error) {
	body, err := scrape()
	if err != nil {
		return 0, err
	}
	var sum float64
lines:
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		for _, l := range labels {
			if !strings.Contains(line, l) {
				continue lines
			}
		}
		fields := strings.Fields(line)
		v, err := strconv.ParseFloat(fields[len(fields)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metric line %q: %w", line, err)
		}
		sum += v
	}
	return sum, nil
}

// The default revision tag's webhook belongs to no release, fails closed, and selects every namespace
// labelled istio-injection=enabled: it goes before the revisions' istiod does, so a release whose
// uninstall an admission policy refuses (and which is retried with backoff) does not leave it pointing
// at a deleted Service, refusing pods meanwhile.
var _ = Describe("A revision-based uninstall a release refuses", Ordered, func() {
	const ns = "ut-system"
	policy, binding := denial{
		name:          "ut-keep-reader",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Delete},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"serviceaccounts"}},
		resourceNames: []string{"istio-reader-service-account"},
		expression:    "false",
		message:       "the reader account is kept",
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n  version: 1.31.1\n  updateStrategy:\n    type: RevisionBased\n")
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal("1-31-1"))
		enforce(policy, binding, deleteDryRun(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "istio-reader-service-account"}}))
	})
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
		deleteMesh()
	})

	It("removes the tag's webhook before the revision, and finishes once the policy goes", func() {
		Expect(k8sClient.Delete(ctx, getMesh())).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod-1-31-1")).To(BeEmpty())
			g.Expect(deploymentExists(ns, "istiod-1-31-1")).To(BeFalse())
		}, installTimeout, poll).Should(Succeed())
		Consistently(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-base")).NotTo(BeEmpty(), "the refused release was uninstalled")
			g.Expect(tagTargetIn(ns)).To(BeEmpty(), "the tag's webhook points at the removed revision")
		}, 2*time.Second, poll).Should(Succeed())

		Expect(k8sClient.Delete(ctx, binding)).To(Succeed())
		Expect(k8sClient.Delete(ctx, policy)).To(Succeed())
		Eventually(func() error {
			return k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, &meshv1alpha1.ServiceMesh{})
		}, installTimeout, poll).Should(Satisfy(apierrors.IsNotFound))
		Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())
	})
})
