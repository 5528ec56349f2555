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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The control-plane namespace meshkeeper created and kept on uninstall outlives the ServiceMesh, which
// is gone a moment after: kubectl describe namespace, where its owner looks, must say why it stays.
var _ = Describe("A kept control-plane namespace", Ordered, func() {
	const ns = "nk-system"

	BeforeAll(func() {
		deleteMesh()
		createMesh("  namespace: " + ns + "\n")
		Eventually(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal([]int{1}))
		}, installTimeout, poll).Should(Succeed())
		// istiod's root CA, which istiod writes at its first start (envtest runs no istiod).
		ca := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "istio-ca-secret", Namespace: ns},
			Type: "istio.io/ca-root", Data: map[string][]byte{"ca-cert.pem": []byte("root"), "ca-key.pem": []byte("key")}}
		Expect(k8sClient.Create(ctx, ca)).To(Succeed())
	})

	It("says on the Namespace why it was kept, with the ServiceMesh as related", func() {
		namespace := &corev1.Namespace{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: ns}, namespace)).To(Succeed())
		mesh := getMesh()
		deleteMesh()
		Eventually(func(g Gomega) {
			var notes []string
			for _, e := range listEvents() {
				if e.Regarding.Kind == "Namespace" && e.Regarding.UID == namespace.UID && e.Reason == "NamespaceKept" {
					g.Expect(e.Related).NotTo(BeNil())
					g.Expect(e.Related.UID).To(Equal(mesh.UID))
					g.Expect(e.Type).To(Equal(corev1.EventTypeNormal))
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).To(ConsistOf(ContainSubstring("Secret/istio-ca-secret")))
		}, 10*time.Second, poll).Should(Succeed(), "no NamespaceKept Event on Namespace %s", ns)
	})
})
