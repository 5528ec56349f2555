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
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Whether a canary namespace is enrolled can change with the canary's readiness alone, a status change:
// a namespace whose owner labelled it istio.io/rev=<canary> is enrolled once the canary serves, and
// nothing is written on the namespace then. Its Sidecar must follow all the same.
var _ = Describe("Sidecar scoping of a canary namespace", Ordered, func() {
	const (
		ns     = "scc-system"
		canary = "scc-canary"
	)

	BeforeAll(func() {
		deleteMesh()
		createNamespace(canary, map[string]string{"istio.io/rev": "1-31-1"}, nil)
		// The namespace outlives the test (the test API server removes no namespace), and its label
		// would keep revision 1-31-1 of every later mesh.
		DeferCleanup(func() {
			Expect(k8sClient.Patch(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: canary}},
				client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"labels":{"istio.io/rev":null}}}`)))).To(Succeed())
		})
		createMesh("  namespace: " + ns + "\n  version: 1.31.0\n  updateStrategy:\n    type: RevisionBased\n" +
			"  injection:\n    namespaces: [" + canary + "]\n  sidecarScoping:\n    enabled: true\n")
		DeferCleanup(deleteMesh)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-0") }, installTimeout, poll).Should(BeTrue())
		markAvailable(ns, "istiod-1-31-0")
		Eventually(revisionStates, installTimeout, poll).Should(HaveKeyWithValue("1-31-0", meshv1alpha1.RevisionActive))
	})

	It("is written once the canary its owner's label names serves the namespace", func() {
		patchSpec(`{"version":"1.31.1","updateStrategy":{"canary":{"namespaces":["` + canary + `"]}}}`)
		Eventually(func() bool { return deploymentExists(ns, "istiod-1-31-1") }, installTimeout, poll).Should(BeTrue())
		Consistently(func() any { return policyObject(sidecarKind, canary) }, 2*time.Second, poll).Should(BeNil(),
			"a Sidecar for a namespace whose label names a revision that does not serve yet")

		markAvailable(ns, "istiod-1-31-1")
		Eventually(revisionStates, installTimeout, poll).Should(HaveKeyWithValue("1-31-1", meshv1alpha1.RevisionCanary))
		Eventually(func() any { return policyObject(sidecarKind, canary) }, time.Minute, poll).ShouldNot(BeNil(),
			"no Sidecar for the canary namespace once the canary serves it")
	})
})
