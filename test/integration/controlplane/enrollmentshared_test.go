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
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The running manager reads namespaces from its cache, which keeps only meshkeeper's managed fields:
// a label the namespace's owner applied too (its manifest, applied server-side by Flux or Argo CD) must
// still count as theirs when meshkeeper gives up its share.
var _ = Describe("an injection label the namespace's owner applied too", Ordered, func() {
	const name = "enroll-shared"

	meshkeeperOwnsLabel := func() bool {
		GinkgoHelper()
		ns := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: name}, ns)).To(Succeed())
		for _, entry := range ns.ManagedFields {
			if entry.Manager == meshv1alpha1.FieldManager && entry.FieldsV1 != nil &&
				strings.Contains(entry.FieldsV1.GetRawString(), "istio-injection") {
				return true
			}
		}
		return false
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(name, nil, nil)
		createMesh("  namespace: enroll-shared-system\n  injection:\n    namespaces: [" + name + "]\n")
	})
	AfterAll(deleteMesh)

	It("stays the owner's, without an Unenrolled Event, when the namespace leaves the mesh", func() {
		Eventually(func() map[string]string { return namespaceLabels(name) }, installTimeout, poll).
			Should(HaveKeyWithValue("istio-injection", "enabled"))

		By("applying the namespace's manifest as Flux does, with the same label")
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("Namespace")
		u.SetName(name)
		u.SetLabels(map[string]string{"istio-injection": "enabled", "team": "shop"})
		Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("kustomize-controller"),
			client.ForceOwnership)).To(Succeed())

		By("taking the namespace out of the mesh")
		patchSpec(`{"injection":{"namespaces":["enroll-shared-other"]}}`)
		Eventually(meshkeeperOwnsLabel, installTimeout, poll).Should(BeFalse(), "meshkeeper kept its share of the label")
		Expect(namespaceLabels(name)).To(HaveKeyWithValue("istio-injection", "enabled"))
		Consistently(func() []string { return namespaceEvents(name) }, 3*time.Second, poll).
			ShouldNot(ContainElement("Unenrolled"), "an Unenrolled Event says the namespace left the mesh while its owner's label keeps it injected")
	})
})
