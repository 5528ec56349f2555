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
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// Each spec runs its control plane in a namespace of its own: envtest has no namespace controller, so
// a namespace meshkeeper deleted stays Terminating and cannot be used again.
var _ = Describe("Charts from a repository", long, func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	It("installs a pinned version from an HTTPS Helm repository", func() {
		installFromRepository("repo-https", helmRepo.URL())
	})

	It("installs a pinned version from an OCI registry", func() {
		installFromRepository("repo-oci", ociRegistry.URL())
	})

	It("reports an unreachable repository, retries, and installs nothing", func() {
		const ns = "repo-unreachable"
		unreachable := unreachableRepository
		createMesh(meshSpec(ns, repoVersion, unreachable))

		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonRepositoryUnreachable))
			g.Expect(c.Message).To(ContainSubstring(unreachable))
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(BeNumerically("<", mesh.Generation),
				"an unreachable repository is retried, so the generation is not yet handled")
		}, installTimeout, poll).Should(Succeed())
		Eventually(eventReasons, installTimeout, poll).Should(ContainElement(meshv1alpha1.ReasonRepositoryUnreachable))

		Consistently(func(g Gomega) {
			g.Expect(releaseRevisions(ns, "istio-base")).To(BeEmpty())
			g.Expect(releaseRevisions(ns, "istiod")).To(BeEmpty())
			g.Expect(istiodOrNil(ns)).To(BeNil())
		}, 2*time.Second, 300*time.Millisecond).Should(Succeed())
		err := k8sClient.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the control-plane namespace was created without charts to install: %v", err)
	})

	It("reports a version the repository does not have and leaves the running control plane untouched", func() {
		const ns = "repo-missing-version"
		installFromRepository(ns, helmRepo.URL())
		baseRevisions, istiodRevisions := releaseRevisions(ns, "istio-base"), releaseRevisions(ns, "istiod")

		patchSpec(`{"version": "1.29.9"}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonChartNotFound))
			g.Expect(c.Message).To(ContainSubstring(helmRepo.URL()))
			g.Expect(c.Message).To(ContainSubstring("1.29.9"))
			mesh := getMesh()
			g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation), "a missing chart is terminal for this generation")
		}, installTimeout, poll).Should(Succeed())

		Consistently(func(g Gomega) {
			d := istiodOrNil(ns)
			g.Expect(d).NotTo(BeNil())
			g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + repoVersion))
			g.Expect(releaseRevisions(ns, "istio-base")).To(Equal(baseRevisions))
			g.Expect(releaseRevisions(ns, "istiod")).To(Equal(istiodRevisions))
			g.Expect(getMesh().Status.Version).To(Equal(repoVersion), "status.version is the version that runs")
		}, 2*time.Second, 300*time.Millisecond).Should(Succeed())
	})

	DescribeTable("refuses a source the installer did not allow and leaves the running control plane untouched",
		func(namespace, patch, reason, mention string) {
			installFromRepository(namespace, helmRepo.URL())
			before := istiod(namespace)
			baseRevisions, istiodRevisions := releaseRevisions(namespace, "istio-base"), releaseRevisions(namespace, "istiod")

			// REPOSITORY stands for the allowed test repository, whose URL is known only once it runs.
			patchSpec(strings.ReplaceAll(patch, "REPOSITORY", helmRepo.URL()))
			Eventually(func(g Gomega) {
				c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(reason))
				g.Expect(c.Message).To(ContainSubstring(mention))
				ready := conditionOf(meshv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(ready.Reason).To(Equal(reason))
				mesh := getMesh()
				g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation), "a refused source is terminal for this generation")
			}, installTimeout, poll).Should(Succeed())
			Eventually(eventReasons, installTimeout, poll).Should(ContainElement(reason))

			Consistently(func(g Gomega) {
				d := istiodOrNil(namespace)
				g.Expect(d).NotTo(BeNil())
				g.Expect(d.Generation).To(Equal(before.Generation), "the istiod Deployment was changed")
				g.Expect(d.Spec.Template.Spec.Containers[0].Image).To(Equal(before.Spec.Template.Spec.Containers[0].Image))
				g.Expect(releaseRevisions(namespace, "istio-base")).To(Equal(baseRevisions))
				g.Expect(releaseRevisions(namespace, "istiod")).To(Equal(istiodRevisions))
			}, 2*time.Second, 300*time.Millisecond).Should(Succeed())
		},
		Entry("a chart repository", "allow-repo", `{"charts": {"repository": "https://charts.example.com/istio"}}`,
			meshv1alpha1.ReasonRepositoryNotAllowed, "https://charts.example.com/istio is not among the chart repositories"),
		Entry("a repository that only shares the allowed one's prefix", "allow-prefix", `{"charts": {"repository": "REPOSITORY-evil"}}`,
			meshv1alpha1.ReasonRepositoryNotAllowed, "-evil is not among the chart repositories"),
		Entry("spec.images.hub", "allow-hub", `{"images": {"hub": "docker.io/istiofake"}}`,
			meshv1alpha1.ReasonImageHubNotAllowed, "docker.io/istiofake is not among the image hubs"),
		Entry("a hub in spec.values", "allow-values-hub", `{"values": {"global": {"hub": "registry.example.com/istio"}}}`,
			meshv1alpha1.ReasonImageHubNotAllowed, "registry.example.com/istio is not among the image hubs"),
		Entry("istiod's image in spec.values", "allow-values-image", `{"values": {"image": "registry.example.com/tools/pilot:1.0"}}`,
			meshv1alpha1.ReasonImageHubNotAllowed, "registry.example.com/tools is not among the image hubs"),
	)
})

// meshSpec is the spec of a ServiceMesh running version from repository in namespace.
func meshSpec(namespace, version, repository string) string {
	return fmt.Sprintf("  namespace: %s\n  version: %q\n  charts:\n    repository: %q\n", namespace, version, repository)
}

// installFromRepository creates a ServiceMesh that runs repoVersion from repository in namespace, and
// waits until both releases are deployed from the repository's charts and the control plane is Ready.
func installFromRepository(namespace, repository string) {
	GinkgoHelper()
	// The CRDs are the API server's, shared by the specs: an earlier one may have installed newer ones,
	// which are kept, with the base chart of their version.
	baseVersion := repoVersion
	if installed := crdsVersion(); revision.CompareStrings(installed, baseVersion) > 0 {
		baseVersion = installed
	}
	createMesh(meshSpec(namespace, repoVersion, repository))
	Eventually(func(g Gomega) {
		g.Expect(releaseRevisions(namespace, "istio-base")).To(Equal([]int{1}))
		g.Expect(releaseRevisions(namespace, "istiod")).To(Equal([]int{1}))
		g.Expect(releaseStatus(namespace, "istio-base", 1)).To(BeEquivalentTo("deployed"))
		g.Expect(releaseStatus(namespace, "istiod", 1)).To(BeEquivalentTo("deployed"))
	}, installTimeout, poll).Should(Succeed())

	By("installing the repository's charts, with images of their version")
	Expect(readRelease(namespace, "istio-base", 1).Chart.Metadata.Version).To(Equal(baseVersion))
	Expect(readRelease(namespace, "istiod", 1).Chart.Metadata.Version).To(Equal(repoVersion))
	Expect(istiod(namespace).Spec.Template.Spec.Containers[0].Image).To(HaveSuffix(":" + repoVersion))

	By("reporting the version once istiod is available")
	markAvailable(namespace, "istiod")
	Eventually(func(g Gomega) {
		mesh := getMesh()
		g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
		g.Expect(mesh.Status.Version).To(Equal(repoVersion))
		g.Expect(mesh.Status.ChartVersion).To(Equal(repoVersion))
		g.Expect(conditionOf(meshv1alpha1.ConditionControlPlaneReady).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionTrue))
	}, installTimeout, poll).Should(Succeed())
}

// crdsVersion is the Istio version the base chart labelled the PeerAuthentication CRD with ("" when
// there is none): the version of the Istio CRDs installed.
func crdsVersion() string {
	GinkgoHelper()
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(apiextensionsv1.SchemeGroupVersion.WithKind("CustomResourceDefinition"))
	err := k8sClient.Get(ctx, client.ObjectKey{Name: "peerauthentications.security.istio.io"}, crd)
	if apierrors.IsNotFound(err) {
		return ""
	}
	Expect(err).NotTo(HaveOccurred())
	return crd.Labels["app.kubernetes.io/version"]
}

// The Istio CRDs outlive every ServiceMesh and serve control planes up to two minor versions older:
// going down to an older Istio, in place or by a rollback whose newer revision is then pruned, keeps
// them, and the base chart that installed them, at the newer version.
var _ = Describe("Istio CRDs when spec.version goes down", long, func() {
	BeforeEach(deleteMesh)
	AfterEach(deleteMesh)

	DescribeTable("keeps the base chart of the newer version",
		func(ns string, revisions bool) {
			newer, older := charts.BuiltinVersion, repoVersion
			strategy, istiodRelease, newerRelease := "", "istiod", "istiod"
			if revisions {
				strategy = "  updateStrategy:\n    type: RevisionBased\n    inactiveRevisionDeletionGracePeriod: 2s\n"
				istiodRelease, newerRelease = "istiod-1-30-2", "istiod-1-31-1"
			}
			createMesh(fmt.Sprintf("  namespace: %s\n  version: %q\n", ns, newer) + strategy)
			Eventually(func(g Gomega) {
				g.Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}))
				g.Expect(releaseRevisions(ns, newerRelease)).To(Equal([]int{1}))
			}, installTimeout, poll).Should(Succeed())
			markAvailable(ns, newerRelease)
			markCNIReady()
			Eventually(func(g Gomega) {
				ready := conditionOf(meshv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
			}, installTimeout, poll).Should(Succeed())
			Expect(crdsVersion()).To(Equal(newer))

			patchSpec(fmt.Sprintf(`{"version": %q, "charts": {"repository": %q}}`, older, helmRepo.URL()))
			Eventually(func(g Gomega) {
				revisions := releaseRevisions(ns, istiodRelease)
				ready := conditionOf(meshv1alpha1.ConditionReady)
				g.Expect(revisions).NotTo(BeEmpty(), "%s: %s", ready.Reason, ready.Message)
				g.Expect(readRelease(ns, istiodRelease, revisions[len(revisions)-1]).Chart.Metadata.Version).To(Equal(older))
				// The record is written before the objects are applied: marked available before the
				// upgrade's apply, istiod would report a generation its controller has not observed.
				g.Expect(releaseStatus(ns, istiodRelease, revisions[len(revisions)-1])).To(BeEquivalentTo("deployed"))
			}, installTimeout, poll).Should(Succeed())
			markAvailable(ns, istiodRelease)
			if revisions {
				By("pruning the newer revision, which nothing uses any more")
				Eventually(func(g Gomega) {
					g.Expect(releaseRevisions(ns, newerRelease)).To(BeEmpty(), "revisions: %+v", getMesh().Status.Revisions)
				}, installTimeout, poll).Should(Succeed())
			}
			Eventually(func(g Gomega) {
				mesh := getMesh()
				setCNIStatus(g, mesh.Spec.CNINamespace(), cniNodes, cniNodes) // the agent follows the active version
				g.Expect(mesh.Status.ObservedGeneration).To(Equal(mesh.Generation))
				g.Expect(mesh.Status.Version).To(Equal(older))
				ready := conditionOf(meshv1alpha1.ConditionReady)
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
			}, installTimeout, poll).Should(Succeed())

			Consistently(func(g Gomega) {
				base := releaseRevisions(ns, "istio-base")
				g.Expect(readRelease(ns, "istio-base", base[len(base)-1]).Chart.Metadata.Version).To(Equal(newer),
					"the base chart went down to the older version")
				g.Expect(crdsVersion()).To(Equal(newer), "the Istio CRDs were downgraded")
			}, 2*time.Second, 300*time.Millisecond).Should(Succeed())
			if revisions {
				By("pointing the default validator at the older revision, with the newer base chart")
				validator := &admissionregistrationv1.ValidatingWebhookConfiguration{}
				Expect(k8sClient.Get(ctx, client.ObjectKey{Name: "istiod-default-validator"}, validator)).To(Succeed())
				Expect(validator.Webhooks[0].ClientConfig.Service.Name).To(Equal("istiod-1-30-2"))

				By("refusing a version the CRDs installed do not serve, though it is within reach of the running one")
				patchSpec(`{"version": "1.28.0"}`)
				Eventually(func(g Gomega) {
					ready := conditionOf(meshv1alpha1.ConditionReady)
					g.Expect(ready.Reason).To(Equal(meshv1alpha1.ReasonUpgradeNotSupported), ready.Message)
					g.Expect(ready.Message).To(ContainSubstring("older than the installed Istio CRDs (" + newer + ")"))
				}, installTimeout, poll).Should(Succeed())
			} else {
				Expect(releaseRevisions(ns, "istio-base")).To(Equal([]int{1}), "the unchanged base release was upgraded")
			}
		},
		Entry("in place", "crds-inplace", false),
		Entry("by a rollback whose newer revision is pruned", "crds-revisions", true),
	)
})
