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
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// The istiod without a revision of an InPlace mesh came from the built-in charts; the mesh moves to
// RevisionBased and to a chart repository that lacks that version in one change. The built-in charts
// keep the running version, for retiring its injector as for everything else.
var _ = Describe("Switching to RevisionBased and to a repository that lacks the running version", Ordered, func() {
	const ns = "sr-system"
	legacyInjector := "istio-sidecar-injector-" + ns
	revision := strings.ReplaceAll(repoVersion, ".", "-")

	BeforeAll(func() {
		deleteMesh()
		createNamespace("sr-shop", nil, nil)
		createMesh(fmt.Sprintf("  namespace: %s\n  version: %q\n  injection:\n    namespaces: [sr-shop]\n", ns, charts.BuiltinVersion))
		Eventually(func() []int { return releaseRevisions(ns, "istiod") }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod")
	})
	AfterAll(deleteMesh)

	It("retires the injector of the istiod without a revision once the new revision is available", func() {
		patchSpec(fmt.Sprintf(`{"version": %q, "charts": {"repository": %q}, `+
			`"updateStrategy": {"type": "RevisionBased", "inactiveRevisionDeletionGracePeriod": "3s"}}`, repoVersion, helmRepo.URL()))
		Eventually(func() []int { return releaseRevisions(ns, "istiod-"+revision) }, installTimeout, poll).Should(Equal([]int{1}))
		markAvailable(ns, "istiod-"+revision)
		Eventually(func() string { return tagTargetIn(ns) }, installTimeout, poll).Should(Equal(revision))
		Eventually(func(g Gomega) {
			err := k8sClient.Get(ctx, client.ObjectKey{Name: legacyInjector}, &admissionregistrationv1.MutatingWebhookConfiguration{})
			g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "two injectors match the enrolled namespace (%v); ControlPlaneReady: %s",
				err, conditionOf(meshv1alpha1.ConditionControlPlaneReady).Message)
			g.Expect(getMesh().Status.ActiveRevision).To(Equal(revision))
		}, installTimeout, poll).Should(Succeed())
		Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Reason).NotTo(Equal(meshv1alpha1.ReasonChartNotFound))
	})
})
