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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// An istio.io/rev label meshkeeper applied and the namespace's owner applied too (its manifest, applied
// server-side by Flux) holds the owner's revision as well. When meshkeeper's revision changes, the
// owner's value stays: meshkeeper cannot change it without taking it from them, and a non-forced apply
// of the new value is refused by the API server on every retry.
var _ = Describe("A revision label the namespace's owner applied too", func() {
	AfterEach(deleteMesh)

	It("is reported as the owner's when meshkeeper's revision changes, and not written over", func() {
		const name = "nsr-shared-rev"
		applyLabels := func(manager string, labels map[string]string) {
			GinkgoHelper()
			u := &unstructured.Unstructured{}
			u.SetAPIVersion("v1")
			u.SetKind("Namespace")
			u.SetName(name)
			u.SetLabels(labels)
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(manager), client.ForceOwnership)).To(Succeed())
		}
		applyLabels(meshv1alpha1.FieldManager, map[string]string{policy.LabelIstioRevision: "1-31-0"})
		applyLabels("kustomize-controller", map[string]string{policy.LabelIstioRevision: "1-31-0", "team": "shop"})
		DeferCleanup(func() {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}))).To(Succeed())
		})

		// A RevisionBased ServiceMesh whose ready canary revision 1-31-1 serves the namespace.
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
		mesh.Spec.Version = "1.31.1"
		mesh.Spec.Injection.Namespaces = []string{name}
		mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
			Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{name}}}
		Expect(k8sClient.Create(ctx, mesh)).To(Succeed())
		mesh.Status.Version = "1.31.0"
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
			{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
		}
		Expect(k8sClient.Status().Update(ctx, mesh)).To(Succeed())

		recorder := events.NewFakeRecorder(20)
		r := &namespace.Reconciler{Client: k8sClient, Recorder: recorder}
		_, err := r.Reconcile(ctx, ctrl.Request{NamespacedName: client.ObjectKey{Name: name}})
		Expect(err).NotTo(HaveOccurred())
		close(recorder.Events)
		var recorded []string
		for e := range recorder.Events {
			recorded = append(recorded, e)
		}

		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
		Expect(ns.Labels).To(HaveKeyWithValue(policy.LabelIstioRevision, "1-31-0"), "the owner's revision was changed")
		Expect(recorded).To(ContainElement(ContainSubstring(policy.InjectionLabelConflict)))
	})
})
