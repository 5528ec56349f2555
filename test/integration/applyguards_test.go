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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// managers lists the field managers of obj's managed-fields entries, as "manager/operation/subresource".
func managers(obj metav1.Object) []string {
	var out []string
	for _, entry := range obj.GetManagedFields() {
		out = append(out, entry.Manager+"/"+string(entry.Operation)+"/"+entry.Subresource)
	}
	return out
}

// The guards of meshkeeper's server-side applies, which only a real API server enforces: the field
// manager they write under, the ownership the status apply forces, and the UID that keeps an apply from
// writing to an object deleted and created again under the same name (or from creating it).
var _ = Describe("meshkeeper's server-side applies", func() {
	Context("of a ServiceMesh's status", func() {
		gvk := meshv1alpha1.GroupVersion.WithKind("ServiceMesh")

		AfterEach(deleteMesh)

		createMesh := func() *meshv1alpha1.ServiceMesh {
			Expect(k8sClient.Create(ctx, parse(meshYAML("  version: 1.31.1\n")))).To(Succeed())
			mesh := &meshv1alpha1.ServiceMesh{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
			return mesh
		}

		It("applies it under meshkeeper's field manager and takes over what another manager set", func() {
			mesh := createMesh()
			other := &unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"version": "1.30.0"}}}
			other.SetGroupVersionKind(gvk)
			other.SetName(mesh.Name)
			Expect(k8sClient.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(other),
				client.FieldOwner("someone-else"), client.ForceOwnership)).To(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), mesh)).To(Succeed())

			_, err := apply.Status(ctx, k8sClient, gvk, mesh, &meshv1alpha1.ServiceMeshStatus{ObservedGeneration: mesh.Generation, Version: "1.31.1"})
			Expect(err).NotTo(HaveOccurred(), "meshkeeper owns the status outright")
			live := &meshv1alpha1.ServiceMesh{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(mesh), live)).To(Succeed())
			Expect(live.Status.Version).To(Equal("1.31.1"))
			Expect(managers(live)).To(ContainElement(meshv1alpha1.FieldManager + "/Apply/status"))
		})

		It("does not write a status computed from a read of a ServiceMesh deleted since", func() {
			gone := createMesh()
			deleteMesh()
			again := createMesh()
			Expect(again.UID).NotTo(Equal(gone.UID))

			_, err := apply.Status(ctx, k8sClient, gvk, gone, &meshv1alpha1.ServiceMeshStatus{Version: "1.30.0"})
			Expect(apierrors.IsConflict(err)).To(BeTrue(), "want a conflict, got %v", err)
			live := &meshv1alpha1.ServiceMesh{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(again), live)).To(Succeed())
			Expect(live.Status.Version).To(BeEmpty())
		})
	})

	Context("of metadata", func() {
		const ns = "apply-guards"

		BeforeEach(func() {
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}))).To(Succeed())
		})

		configMap := func(name string) *corev1.ConfigMap {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
			Expect(k8sClient.Create(ctx, cm)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), cm))).To(Succeed()) })
			return cm
		}

		It("applies under meshkeeper's field manager", func() {
			cm := configMap("manager")
			Expect(apply.Metadata(ctx, k8sClient, cm, map[string]string{"mesh.example.com/l": "1"}, nil)).To(Succeed())
			live := &corev1.ConfigMap{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), live)).To(Succeed())
			Expect(managers(live)).To(ContainElement(meshv1alpha1.FieldManager + "/Apply/"))
			Expect(apply.OwnedKeys(live, "labels").UnsortedList()).To(ConsistOf("mesh.example.com/l"))
		})

		It("neither creates an object that is gone nor writes to one created since under the same name", func() {
			cm := configMap("recreated")
			Expect(k8sClient.Delete(ctx, cm)).To(Succeed())
			// A ConfigMap needs nothing but its name: an apply without the UID would create it.
			Expect(apply.Metadata(ctx, k8sClient, cm, map[string]string{"mesh.example.com/l": "1"}, nil)).NotTo(Succeed())
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})).To(Satisfy(apierrors.IsNotFound))

			again := configMap("recreated")
			Expect(again.UID).NotTo(Equal(cm.UID))
			Expect(apply.Metadata(ctx, k8sClient, cm, map[string]string{"mesh.example.com/l": "1"}, nil)).NotTo(Succeed())
			live := &corev1.ConfigMap{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(again), live)).To(Succeed())
			Expect(live.Labels).To(BeEmpty())
			Expect(managers(live)).NotTo(ContainElement(HavePrefix(meshv1alpha1.FieldManager + "/")))
		})

		It("leaves no trace on a workload's pod template once it gives everything up", func() {
			deploy := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "released"},
				Spec: appsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "released"}},
					Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "released"}},
						Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1"}}}}}}
			Expect(k8sClient.Create(ctx, deploy)).To(Succeed())
			DeferCleanup(func() { Expect(client.IgnoreNotFound(k8sClient.Delete(context.Background(), deploy))).To(Succeed()) })
			Expect(apply.PodTemplateMetadata(ctx, k8sClient, deploy, map[string]string{"sidecar.istio.io/inject": "true"}, nil)).To(Succeed())
			Expect(apply.PodTemplateMetadata(ctx, k8sClient, deploy, map[string]string{}, map[string]string{})).To(Succeed())
			live := &appsv1.Deployment{}
			Expect(k8sClient.Get(ctx, client.ObjectKeyFromObject(deploy), live)).To(Succeed())
			Expect(live.Spec.Template.Labels).To(Equal(map[string]string{"app": "released"}))
			Expect(managers(live)).NotTo(ContainElement(HavePrefix(meshv1alpha1.FieldManager+"/")), "%v", live.ManagedFields)
		})
	})
})
