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
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The namespace controller's decisions that rest on what the API server keeps of a namespace: who
// applied each label (managed fields), and whether it is being deleted. This suite runs no namespace
// controller of Kubernetes', so a deleted namespace stays Terminating, as one with content does while
// the cluster empties it.
var _ = Describe("The namespace controller", func() {
	AfterEach(deleteMesh)

	// applyLabels applies labels to the namespace name as manager, server-side, creating it if need be.
	applyLabels := func(name, manager string, labels map[string]string) {
		GinkgoHelper()
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(name)
		u.SetLabels(labels)
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership)).To(Succeed())
	}
	get := func(name string) *corev1.Namespace {
		GinkgoHelper()
		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
		return ns
	}
	// reconcile runs one reconcile of the namespace name and returns the Events it recorded.
	reconcile := func(name string) []string {
		GinkgoHelper()
		recorder := events.NewFakeRecorder(20)
		r := &namespace.Reconciler{Client: k8sClient, Recorder: recorder}
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		Expect(err).NotTo(HaveOccurred())
		close(recorder.Events)
		var recorded []string
		for e := range recorder.Events {
			recorded = append(recorded, e)
		}
		return recorded
	}
	// canaryMesh creates a RevisionBased ServiceMesh enrolling namespaces, whose ready canary revision
	// 1-31-1 serves canaries.
	canaryMesh := func(namespaces, canaries []string) {
		GinkgoHelper()
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
		mesh.Spec.Version = "1.31.1"
		mesh.Spec.Injection.Namespaces = namespaces
		mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased}
		if len(canaries) > 0 {
			mesh.Spec.UpdateStrategy.Canary = &meshv1alpha1.CanarySpec{Namespaces: canaries}
		}
		Expect(k8sClient.Create(ctx, mesh)).To(Succeed())
		mesh.Status.Version = "1.31.0"
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
			{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
		}
		Expect(k8sClient.Status().Update(ctx, mesh)).To(Succeed())
	}
	// sharedInjectionLabel creates the namespace name with istio-injection=enabled applied by meshkeeper
	// and by the namespace's owner (its manifest, applied server-side by Flux), which owns team too.
	sharedInjectionLabel := func(name string) {
		GinkgoHelper()
		applyLabels(name, meshv1alpha1.FieldManager, map[string]string{policy.LabelIstioInjection: "enabled"})
		applyLabels(name, "kustomize-controller", map[string]string{policy.LabelIstioInjection: "enabled", "team": "shop"})
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, get(name)))).To(Succeed()) })
	}

	// A namespace being deleted is written to by no one: with no live ServiceMesh (deleted with the
	// namespaces, a whole environment torn down at once) meshkeeper would otherwise take its label back
	// from a namespace that is going anyway, and say so in an Unenrolled Event, as UnenrollAll does not.
	DescribeTable("leaves a terminating namespace alone",
		func(name string, meshGoing bool) {
			if meshGoing {
				mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName,
					Finalizers: []string{meshv1alpha1.Finalizer}}}
				mesh.Spec.Injection.Namespaces = []string{name}
				Expect(k8sClient.Create(ctx, mesh)).To(Succeed())
				Expect(k8sClient.Delete(ctx, mesh)).To(Succeed())
				defer func() { // before the AfterEach deletes the ServiceMesh
					Expect(k8sClient.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
						[]byte(`{"metadata":{"finalizers":null}}`)))).To(Succeed())
				}()
			}
			applyLabels(name, meshv1alpha1.FieldManager, map[string]string{policy.LabelIstioInjection: "enabled"})
			Expect(k8sClient.Delete(ctx, get(name))).To(Succeed())
			before := get(name)
			Expect(before.DeletionTimestamp).NotTo(BeNil())

			recorded := reconcile(name)
			after := get(name)
			Expect(after.ResourceVersion).To(Equal(before.ResourceVersion), "a terminating namespace was written to: %v", after.Labels)
			Expect(after.Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"))
			Expect(recorded).To(BeEmpty())
		},
		Entry("without a ServiceMesh", "nsr-going", false),
		Entry("with the ServiceMesh being deleted", "nsr-going-with-mesh", true),
	)

	// An injection label meshkeeper applied and the namespace's owner applied too is the owner's as
	// well: meshkeeper giving it up leaves it in place. Moving such a namespace to the canary would leave
	// istio-injection beside istio.io/rev, and Istio's istio-injection wins: the pods would get the
	// active revision while meshkeeper says Enrolled onto the canary. It is the owner's label, reported
	// as a conflict, and meshkeeper writes no istio.io/rev.
	It("does not put a canary revision beside an injection label another manager keeps", func() {
		const name = "nsr-canary"
		canaryMesh([]string{name}, []string{name})
		sharedInjectionLabel(name)

		recorded := reconcile(name)
		Expect(get(name).Labels).NotTo(HaveKey(policy.LabelIstioRevision),
			"istio.io/rev beside the owner's istio-injection=enabled, which Istio gives precedence")
		Expect(get(name).Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"))
		Expect(recorded).To(ContainElement(ContainSubstring(policy.InjectionLabelConflict)))
		for _, e := range recorded {
			Expect(e).NotTo(Or(ContainSubstring("Enrolled"), ContainSubstring("Unenrolled")), "misleading Event")
		}
	})

	// The same label, the namespace not a canary one: meshkeeper keeps its share and writes nothing.
	It("does not rewrite an injection label it shares", func() {
		const name = "nsr-shared"
		canaryMesh([]string{name}, []string{"nsr-other"})
		sharedInjectionLabel(name)
		before := get(name)

		recorded := reconcile(name)
		Expect(get(name).ResourceVersion).To(Equal(before.ResourceVersion), "a steady namespace was written to")
		Expect(recorded).To(BeEmpty())
	})

	// Out of the selection, meshkeeper gives up its share of a label the owner keeps: the namespace stays
	// injected by the owner's label, so no Unenrolled Event says otherwise.
	It("gives up its share of an injection label the owner keeps, without an Unenrolled Event", func() {
		const name = "nsr-leaving"
		canaryMesh([]string{"nsr-other"}, nil)
		sharedInjectionLabel(name)

		recorded := reconcile(name)
		ns := get(name)
		Expect(ns.Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"))
		for _, entry := range ns.ManagedFields {
			if entry.Manager == meshv1alpha1.FieldManager && entry.FieldsV1 != nil {
				Expect(strings.Contains(entry.FieldsV1.GetRawString(), policy.LabelIstioInjection)).To(BeFalse(),
					"meshkeeper still owns the label: %s", entry.FieldsV1.GetRawString())
			}
		}
		Expect(recorded).To(BeEmpty())
	})

	// Removing the canary promotes its revision: the default tag moves to it in the ServiceMesh's next
	// reconcile. Until the status reports the tag there, istio-injection=enabled would still get the
	// previous revision's sidecar, so a canary namespace keeps istio.io/rev=<canary> meanwhile, and
	// moves to istio-injection=enabled only once the tag points at the canary revision.
	It("keeps a canary namespace on the canary revision until the default tag moves to it", func() {
		const name = "nsr-promoted"
		canaryMesh([]string{name}, []string{name})
		mesh := &meshv1alpha1.ServiceMesh{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		mesh.Status.ActiveRevision = "1-31-0"
		Expect(k8sClient.Status().Update(ctx, mesh)).To(Succeed())
		applyLabels(name, "kubectl", map[string]string{"team": "shop"})
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, get(name)))).To(Succeed()) })
		reconcile(name)
		Expect(get(name).Labels).To(HaveKeyWithValue(policy.LabelIstioRevision, "1-31-1"))

		mesh.Spec.UpdateStrategy.Canary = nil
		Expect(k8sClient.Update(ctx, mesh)).To(Succeed())
		reconcile(name)
		Expect(get(name).Labels).To(HaveKeyWithValue(policy.LabelIstioRevision, "1-31-1"),
			"the canary namespace left the canary revision while the default tag still points at 1-31-0")
		Expect(get(name).Labels).NotTo(HaveKey(policy.LabelIstioInjection))

		mesh.Status.ActiveRevision = "1-31-1"
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true},
			{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true},
		}
		Expect(k8sClient.Status().Update(ctx, mesh)).To(Succeed())
		reconcile(name)
		Expect(get(name).Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"))
		Expect(get(name).Labels).NotTo(HaveKey(policy.LabelIstioRevision))
	})

	// An istio.io/rev meshkeeper applied and the namespace's owner applied too (its manifest, applied
	// server-side by Flux) holds the owner's revision as well. When meshkeeper's revision changes, the
	// owner's value stays: meshkeeper cannot change it without taking it from them, and a non-forced
	// apply of the new value would be refused by the API server on every retry.
	It("reports a revision label the owner applied too as the owner's when meshkeeper's revision changes", func() {
		const name = "nsr-shared-rev"
		applyLabels(name, meshv1alpha1.FieldManager, map[string]string{policy.LabelIstioRevision: "1-31-0"})
		applyLabels(name, "kustomize-controller", map[string]string{policy.LabelIstioRevision: "1-31-0", "team": "shop"})
		DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, get(name)))).To(Succeed()) })
		canaryMesh([]string{name}, []string{name})

		recorded := reconcile(name)
		Expect(get(name).Labels).To(HaveKeyWithValue(policy.LabelIstioRevision, "1-31-0"), "the owner's revision was changed")
		Expect(recorded).To(ContainElement(ContainSubstring(policy.InjectionLabelConflict)))
	})

	// Without the CNI agent, a namespace's team raises its Pod Security level, lowers it and removes it,
	// with kubectl's field manager: meshkeeper takes its injection label back as soon as the level
	// rejects istio-init, enrolls the namespace again once it does not, and never touches the team's
	// label. A namespace whose team set istio-injection=enabled itself keeps that label, and the Warning
	// says that its new pods are rejected, not that they keep starting.
	It("follows a team's Pod Security level and says when the team's own label has its pods rejected", func() {
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
			Spec: meshv1alpha1.ServiceMeshSpec{Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"psa-shop", "psa-team"}}}}
		mesh.Spec.CNI.Enabled = new(bool)
		Expect(k8sClient.Create(ctx, mesh)).To(Succeed())
		const kubectl = "kubectl"

		applyLabels("psa-shop", kubectl, map[string]string{"team": "shop"})
		reconcile("psa-shop")
		Expect(get("psa-shop").Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"))

		applyLabels("psa-shop", kubectl, map[string]string{"team": "shop", policy.LabelPodSecurityEnforce: "restricted"})
		recorded := reconcile("psa-shop")
		Expect(get("psa-shop").Labels).NotTo(HaveKey(policy.LabelIstioInjection), "enrolled where restricted rejects istio-init")
		Expect(get("psa-shop").Labels).To(HaveKeyWithValue(policy.LabelPodSecurityEnforce, "restricted"))
		Expect(recorded).To(ContainElement(And(ContainSubstring(policy.PodSecurityRejectsSidecar), ContainSubstring("keep starting"))))

		applyLabels("psa-shop", kubectl, map[string]string{"team": "shop", policy.LabelPodSecurityEnforce: "privileged"})
		reconcile("psa-shop")
		Expect(get("psa-shop").Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"), "not enrolled again once privileged")

		applyLabels("psa-shop", kubectl, map[string]string{"team": "shop", policy.LabelPodSecurityEnforce: "baseline"})
		reconcile("psa-shop")
		Expect(get("psa-shop").Labels).NotTo(HaveKey(policy.LabelIstioInjection), "enrolled where baseline rejects istio-init")
		applyLabels("psa-shop", kubectl, map[string]string{"team": "shop"})
		reconcile("psa-shop")
		Expect(get("psa-shop").Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"), "not enrolled again once the level is gone")

		applyLabels("psa-team", kubectl, map[string]string{policy.LabelIstioInjection: "enabled", policy.LabelPodSecurityEnforce: "restricted"})
		recorded = reconcile("psa-team")
		Expect(get("psa-team").Labels).To(HaveKeyWithValue(policy.LabelIstioInjection, "enabled"), "meshkeeper removed the team's own label")
		Expect(recorded).To(ContainElement(And(ContainSubstring(policy.PodSecurityRejectsSidecar), ContainSubstring("new pods are rejected"))))
		Expect(recorded).NotTo(ContainElement(ContainSubstring("keep starting")))
	})
})
