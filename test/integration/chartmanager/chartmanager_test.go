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

// Package chartmanager tests meshkeeper's chart manager on a real API server: what it applies and
// skips, what it refuses to take over, and the release records it keeps, read back with Helm's own
// storage driver.
package chartmanager

import (
	"context"
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const namespace = "istio-system"

// setUp starts an API server with the control-plane namespace and returns a chart manager whose
// requests are counted, and a client.
func setUp(t *testing.T) (*helm.ChartManager, *testenv.RequestCounter, *testenv.Env) {
	t.Helper()
	env := testenv.Start(t)
	counter := &testenv.RequestCounter{Match: func(req *http.Request) bool { return req.Method == http.MethodPatch }}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(counter.Wrap)
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	return helm.NewChartManager(cfg, c, c), counter, env
}

func baseRelease(t *testing.T, uid string) helm.Release {
	t.Helper()
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	return helm.Release{Name: "istio-base", Namespace: namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: map[string]any{}, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: uid}}
}

func crdApplies(counter *testenv.RequestCounter) int {
	n := 0
	for _, crd := range istioCRDs {
		n += counter.Of("/apis/apiextensions.k8s.io/v1/customresourcedefinitions/" + crd)
	}
	return n
}

// istioCRDs are some of the base chart's CRDs.
var istioCRDs = []string{"virtualservices.networking.istio.io", "peerauthentications.security.istio.io",
	"sidecars.networking.istio.io", "destinationrules.networking.istio.io"}

// TestUnchangedCRDsAreNotAppliedAgain: a second ServiceMesh installing the base chart over the CRDs
// the first left behind, and an upgrade that changes no CRD, apply none of the 700 KB again; a CRD
// whose content someone changed is applied again.
func TestUnchangedCRDsAreNotAppliedAgain(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, counter, env := setUp(t)

	first := baseRelease(t, "uid-1")
	result, err := m.Ensure(ctx, first)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	g.Expect(crdApplies(counter)).To(Equal(len(istioCRDs)), "the first install applies every CRD")

	g.Expect(m.Uninstall(ctx, namespace, first.Name, first.Owner)).To(Succeed())
	for _, name := range istioCRDs {
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: name}, &apiextensionsv1.CustomResourceDefinition{})).To(Succeed(), "the uninstall keeps the CRDs")
	}

	second := baseRelease(t, "uid-2")
	before := crdApplies(counter)
	result, err = m.Ensure(ctx, second)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	g.Expect(crdApplies(counter)-before).To(BeZero(), "an install over unchanged CRDs applied them again")

	// Someone changes one CRD; a values change upgrades the release.
	edited := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, edited)).To(Succeed())
	edited.Annotations[helm.AppliedDigestAnnotation] = "edited"
	g.Expect(env.Client.Update(ctx, edited)).To(Succeed())
	second.Values = map[string]any{"global": map[string]any{"istioNamespace": namespace}}
	before = crdApplies(counter)
	result, err = m.Ensure(ctx, second)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(crdApplies(counter)-before).To(Equal(1), "the upgrade applies only the CRD that changed")
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, edited)).To(Succeed())
	g.Expect(edited.Annotations[helm.AppliedDigestAnnotation]).NotTo(Equal("edited"))

	// Helm's own storage driver reads the records: the upgrade deployed, the install superseded.
	releases := driver.NewSecrets(kubernetes.NewForConfigOrDie(env.Config).CoreV1().Secrets(namespace))
	history, err := releases.Query(map[string]string{"name": "istio-base", "owner": "helm"})
	g.Expect(err).NotTo(HaveOccurred())
	statuses := map[int]string{}
	for _, r := range history {
		rel, ok := r.(*releasev1.Release)
		g.Expect(ok).To(BeTrue())
		g.Expect(rel.Name).To(Equal("istio-base"))
		g.Expect(rel.Manifest).To(ContainSubstring("kind: CustomResourceDefinition"))
		g.Expect(rel.Chart.Metadata.Version).To(Equal(charts.BuiltinVersion))
		statuses[rel.Version] = rel.Info.Status.String()
	}
	g.Expect(statuses).To(Equal(map[int]string{1: "superseded", 2: "deployed"}))
}

// TestAnotherInstallationsObjectsAreNotTakenOver: an install fails, naming the object, when one of its
// objects exists without meshkeeper's label, and writes nothing to that object.
func TestAnotherInstallationsObjectsAreNotTakenOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	foreign := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "istiod", Namespace: namespace,
		Labels: map[string]string{"app": "istiod", "installed-by": "someone-else"}}}
	g.Expect(env.Client.Create(ctx, foreign)).To(Succeed())

	_, err = m.Ensure(ctx, helm.Release{Name: "istiod", Namespace: namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: map[string]any{}, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}})
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("ServiceAccount istio-system/istiod exists and was not installed by meshkeeper"))

	g.Expect(env.Client.Get(ctx, client.ObjectKeyFromObject(foreign), foreign)).To(Succeed())
	g.Expect(foreign.OwnerReferences).To(BeEmpty())
	g.Expect(foreign.Labels).To(Equal(map[string]string{"app": "istiod", "installed-by": "someone-else"}))
	for _, entry := range foreign.ManagedFields {
		g.Expect(entry.Manager).NotTo(Equal("meshkeeper"))
	}
	secrets := &corev1.SecretList{}
	g.Expect(env.Client.List(ctx, secrets, client.InNamespace(namespace), client.MatchingLabels{"owner": "helm"})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "a refused install stores no release record")
}

// TestADeletedCRDIsRestoredWhole: the chart manager keeps only a stub of each CRD between drift checks;
// a CRD someone deleted is applied again whole, from a fresh render, and nothing else is touched.
func TestADeletedCRDIsRestoredWhole(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, counter, env := setUp(t)

	release := baseRelease(t, "uid-1")
	_, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionNone), "a release just installed has not drifted")

	crd := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, crd)).To(Succeed())
	g.Expect(env.Client.Delete(ctx, crd)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, &apiextensionsv1.CustomResourceDefinition{}))
	}, "30s", "50ms").Should(BeTrue())

	before := crdApplies(counter)
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionRepaired))
	g.Expect(result.Repaired).To(Equal([]string{"CustomResourceDefinition " + istioCRDs[0]}))
	g.Expect(crdApplies(counter)-before).To(Equal(1), "only the deleted CRD is applied")
	restored := &apiextensionsv1.CustomResourceDefinition{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: istioCRDs[0]}, restored)).To(Succeed())
	g.Expect(restored.Spec.Versions).NotTo(BeEmpty())
	g.Expect(restored.Spec.Versions[0].Schema).NotTo(BeNil(), "the CRD was restored from a stub, without its schema")
	g.Expect(restored.Labels).To(HaveKeyWithValue("mesh.meshkeeper.io/managed-by", "meshkeeper"))
}
