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

package chartmanager

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// namespacelessChart is a chart as a repository may serve one: unlike Istio's charts, its template
// sets no namespace, so Helm puts the ConfigMap into the release namespace.
func namespacelessChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	chart, err := loader.LoadFiles([]*archive.BufferedFile{
		{Name: "Chart.yaml", Data: []byte("apiVersion: v2\nname: namespaceless\nversion: 1.0.0\n")},
		{Name: "values.yaml", Data: []byte("greeting: hello\n")},
		{Name: "templates/configmap.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: greeting\n" +
			"data:\n  greeting: {{ .Values.greeting | quote }}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return chart
}

// releaseHistory reads the records of release name with Helm's own storage driver.
func releaseHistory(g Gomega, env *cluster, name string) []*releasev1.Release {
	releases := driver.NewSecrets(kubernetes.NewForConfigOrDie(env.Config).CoreV1().Secrets(env.Namespace))
	records, err := releases.Query(map[string]string{"name": name, "owner": "helm"})
	g.Expect(err).NotTo(HaveOccurred())
	history := make([]*releasev1.Release, 0, len(records))
	for _, r := range records {
		rel, ok := r.(*releasev1.Release)
		g.Expect(ok).To(BeTrue())
		history = append(history, rel)
	}
	return history
}

// TestAnUpgradeKeepsAnObjectWithoutANamespace: a release record stores the objects as the templates
// wrote them, as Helm's records do, and a template may leave out the namespace of a namespaced object.
// An upgrade once took such an object of the record (no namespace) and the one it had just applied (in
// the release namespace) for two, and deleted the object as one the new revision no longer has: on
// every values change the object was gone until drift repair made it anew (for istiod's Deployment,
// istiod down; for a Service, a new ClusterIP). The upgrade now keeps it, and the uninstall deletes it.
func TestAnUpgradeKeepsAnObjectWithoutANamespace(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	chart := namespacelessChart(t)
	release := helm.Release{Name: "namespaceless", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: map[string]any{}, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	key := client.ObjectKey{Namespace: env.Namespace, Name: "greeting"}
	installed := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, key, installed)).To(Succeed(), "the object is installed into the release namespace")
	// The record has the object as the template wrote it, as Helm's records, and those meshkeeper wrote
	// before, have it.
	history := releaseHistory(g, env, release.Name)
	g.Expect(history).To(HaveLen(1))
	g.Expect(history[0].Manifest).To(ContainSubstring("name: greeting"))
	g.Expect(history[0].Manifest).NotTo(ContainSubstring("namespace:"))

	for i, greeting := range []string{"hi", "good day"} {
		release.Values = map[string]any{"greeting": greeting}
		result, err = m.Ensure(ctx, release)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
		g.Expect(result.Revision).To(Equal(i + 2))
		upgraded := &corev1.ConfigMap{}
		g.Expect(env.Client.Get(ctx, key, upgraded)).To(Succeed(), "upgrade %d deleted the object it had just applied", i+1)
		g.Expect(upgraded.UID).To(Equal(installed.UID), "upgrade %d deleted the object and made it anew", i+1)
		g.Expect(upgraded.Data).To(Equal(map[string]string{"greeting": greeting}))
	}

	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionNone), "nothing was left to repair")

	g.Expect(m.Uninstall(ctx, env.Namespace, release.Name, release.Owner)).To(BeTrue(), "the uninstall removed the release")
	g.Expect(env.Client.Get(ctx, key, &corev1.ConfigMap{})).To(Satisfy(apierrors.IsNotFound), "the uninstall left the object")
}

// chartObjectResources are the resources of the objects the istiod chart renders.
var chartObjectResources = []string{"configmaps", "serviceaccounts", "services", "deployments", "horizontalpodautoscalers",
	"poddisruptionbudgets", "roles", "rolebindings", "clusterroles", "clusterrolebindings",
	"mutatingwebhookconfigurations", "validatingwebhookconfigurations"}

// isObjectRead tells whether req reads one object of the istiod chart's kinds from the API server (the
// cache's lists and watches name no object).
func isObjectRead(req *http.Request) bool {
	segments := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
	return req.Method == http.MethodGet && len(segments) > 2 && slices.Contains(chartObjectResources, segments[len(segments)-2])
}

// TestAnUpgradeTakesNoReplacedObjectOver: meshkeeper's mesh config ConfigMap is deleted and someone
// creates their own under its name. Drift repair refuses to restore over it; an upgrade once
// force-applied over it all the same (it checked only the objects the new revision adds, and the
// ConfigMap was in the revision replaced), gave it meshkeeper's label and owner, and so the uninstall
// deleted it. The upgrade now fails as drift repair does, naming it, and leaves it and the release as
// they are. An upgrade of objects the cache shows as meshkeeper's reads none of them from the API
// server.
func TestAnUpgradeTakesNoReplacedObjectOver(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, env := setUp(t)
	reads := &testenv.RequestCounter{Match: isObjectRead}
	m, c, _ := cachedManager(ctx, t, env, reads)

	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: env.Namespace}
	values := func(pullPolicy corev1.PullPolicy) map[string]any {
		spec.Images.PullPolicy = pullPolicy
		v, err := render.IstiodValues(spec, charts.BuiltinVersion)
		g.Expect(err).NotTo(HaveOccurred())
		return v
	}
	release := helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: values(""), Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))

	key := client.ObjectKey{Namespace: env.Namespace, Name: "istio"}
	ours := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, key, ours)).To(Succeed())
	g.Expect(env.Client.Delete(ctx, ours)).To(Succeed())
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: env.Namespace, Name: key.Name,
		Labels: map[string]string{"installed-by": "someone-else"}}, Data: map[string]string{"mesh": "theirs"}}
	g.Expect(env.Client.Create(ctx, theirs)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(c.Get(ctx, key, &corev1.ConfigMap{}))
	}, "10s", "20ms").Should(BeTrue(), "the cache still shows meshkeeper's ConfigMap")

	refusal := "ConfigMap " + env.Namespace + "/istio exists without meshkeeper's label"
	_, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring(refusal)), "drift repair")

	release.Values = values(corev1.PullAlways)
	result, err = m.Ensure(ctx, release)
	g.Expect(err).To(MatchError(ContainSubstring(refusal)), "the upgrade")
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(env.Client.Get(ctx, key, theirs)).To(Succeed())
	g.Expect(theirs.Labels).To(Equal(map[string]string{"installed-by": "someone-else"}))
	g.Expect(theirs.OwnerReferences).To(BeEmpty(), "someone else's object was given meshkeeper's owner")
	for _, entry := range theirs.ManagedFields {
		g.Expect(entry.Manager).NotTo(Equal(meshv1alpha1.FieldManager))
	}
	g.Expect(theirs.Data).To(Equal(map[string]string{"mesh": "theirs"}))
	g.Expect(statuses(releaseHistory(g, env, release.Name))).To(Equal(map[int]string{1: "deployed"}),
		"the refused upgrade stored a revision")

	// Their ConfigMap removed, the upgrade goes through: of the objects of the release it reads only
	// the one the cache does not show, and applies it.
	g.Expect(env.Client.Delete(ctx, theirs)).To(Succeed())
	before := reads.Total()
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(reads.Total()-before).To(Equal(1), "the upgrade read objects the cache shows as meshkeeper's")
	g.Expect(env.Client.Get(ctx, key, ours)).To(Succeed())
	g.Expect(ours.Labels).To(HaveKeyWithValue(helm.ManagedByLabel, helm.ManagedByValue))
	waitCached(ctx, g, c, env.Namespace, key.Name, &corev1.ConfigMap{}, func(client.Object) bool { return true })

	// With every object where meshkeeper left it, an upgrade reads none.
	release.Values = values(corev1.PullIfNotPresent)
	before = reads.Total()
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(reads.Total()-before).To(BeZero(), "the upgrade read objects the cache shows as meshkeeper's")
}
