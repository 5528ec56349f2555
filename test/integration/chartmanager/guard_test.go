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
	"errors"
	"testing"

	. "github.com/onsi/gomega"
	"helm.sh/helm/v4/pkg/chart/loader/archive"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// takeOverChart is a chart as a compromised repository may serve one: a ServiceAccount and a ConfigMap
// as any chart has, and, with the value admin, a ClusterRoleBinding that makes the ServiceAccount
// cluster-admin; with the value image, a Deployment that runs that image.
func takeOverChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	chart, err := loader.LoadFiles([]*archive.BufferedFile{
		{Name: "Chart.yaml", Data: []byte("apiVersion: v2\nname: take-over\nversion: 1.0.0\n")},
		{Name: "values.yaml", Data: []byte("admin: false\ngreeting: hello\n")},
		{Name: "templates/serviceaccount.yaml", Data: []byte("apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: agent\n" +
			"  namespace: {{ .Release.Namespace }}\n")},
		{Name: "templates/configmap.yaml", Data: []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: agent-settings\n" +
			"  namespace: {{ .Release.Namespace }}\ndata:\n  greeting: {{ .Values.greeting | quote }}\n")},
		{Name: "templates/binding.yaml", Data: []byte("{{- if .Values.admin }}\napiVersion: rbac.authorization.k8s.io/v1\n" +
			"kind: ClusterRoleBinding\nmetadata:\n  name: agent-admin\nroleRef:\n  apiGroup: rbac.authorization.k8s.io\n" +
			"  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n- kind: ServiceAccount\n  name: agent\n" +
			"  namespace: {{ .Release.Namespace }}\n{{- end }}\n")},
		{Name: "templates/deployment.yaml", Data: []byte("{{- if .Values.image }}\napiVersion: apps/v1\nkind: Deployment\n" +
			"metadata:\n  name: agent\n  namespace: {{ .Release.Namespace }}\nspec:\n  selector:\n    matchLabels: {app: agent}\n" +
			"  template:\n    metadata:\n      labels: {app: agent}\n    spec:\n      serviceAccountName: agent\n" +
			"      containers:\n      - name: agent\n        image: {{ .Values.image }}\n{{- end }}\n")},
	})
	if err != nil {
		t.Fatal(err)
	}
	return chart
}

// TestAChartCannotGrantClusterAdmin: a chart that binds cluster-admin to its ServiceAccount is refused
// by the chart guard, naming the binding and the rule, before anything is written: its install creates
// none of the release's objects and stores no release record, and an upgrade of an installed release to
// values that add the binding changes nothing of the release, which stays deployed as it was.
func TestAChartCannotGrantClusterAdmin(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)

	chart := takeOverChart(t)
	release := helm.Release{Name: "take-over", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: map[string]any{"admin": true}, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := m.Ensure(ctx, release)
	g.Expect(err).To(HaveOccurred())
	g.Expect(errors.Is(err, helm.ErrRefusedObject)).To(BeTrue(), "the error does not wrap helm.ErrRefusedObject: %v", err)
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	g.Expect(err.Error()).To(ContainSubstring("installing release " + env.Namespace + "/take-over"))
	g.Expect(err.Error()).To(ContainSubstring("ClusterRoleBinding agent-admin, which grants ClusterRole cluster-admin, which the release does not render"))
	g.Expect(err.Error()).To(ContainSubstring("(rule: a binding grants only a role of its own release"))
	expectNothingOfTheRelease(ctx, g, env, release.Name)

	// Installed without the binding, the release then refuses an upgrade that adds it, and keeps the
	// revision it has.
	release.Values = map[string]any{"admin": false}
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	release.Values = map[string]any{"admin": true, "greeting": "you are mine"}
	result, err = m.Ensure(ctx, release)
	g.Expect(err).To(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(err.Error()).To(ContainSubstring("ClusterRoleBinding agent-admin, which grants ClusterRole cluster-admin"))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: "agent-admin"}, &rbacv1.ClusterRoleBinding{})).To(Satisfy(apierrors.IsNotFound),
		"the refused upgrade created the binding")
	settings := &corev1.ConfigMap{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "agent-settings"}, settings)).To(Succeed())
	g.Expect(settings.Data).To(Equal(map[string]string{"greeting": "hello"}), "the refused upgrade applied the release's other objects")
	history := releaseHistory(g, env, release.Name)
	g.Expect(history).To(HaveLen(1), "the refused upgrade stored a release record")
	g.Expect(history[0].Info.Status).To(Equal(rcommon.StatusDeployed))

	release.Values = map[string]any{"admin": false}
	result, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionNone), "the release was left as it was")
}

// expectNothingOfTheRelease fails unless none of the take-over chart's objects, and no record of release
// name, exists.
func expectNothingOfTheRelease(ctx context.Context, g *WithT, env *cluster, name string) {
	for key, obj := range map[client.ObjectKey]client.Object{
		{Name: "agent-admin"}:                              &rbacv1.ClusterRoleBinding{},
		{Namespace: env.Namespace, Name: "agent"}:          &corev1.ServiceAccount{},
		{Namespace: env.Namespace, Name: "agent-settings"}: &corev1.ConfigMap{},
	} {
		g.Expect(env.Client.Get(ctx, key, obj)).To(Satisfy(apierrors.IsNotFound), "the refused install created %T %s", obj, key)
	}
	secrets := &corev1.SecretList{}
	g.Expect(env.Client.List(ctx, secrets, client.InNamespace(env.Namespace), client.MatchingLabels{"owner": "helm", "name": name})).To(Succeed())
	g.Expect(secrets.Items).To(BeEmpty(), "the refused install stored a release record")
}

// TestAChartPullsOnlyFromAllowedHubs: the image hubs the installer allowed hold for the images a chart
// renders itself, not only for the values meshkeeper gives it: a Deployment whose image lies outside
// them is refused before anything of the release is written, and one inside them is installed.
func TestAChartPullsOnlyFromAllowedHubs(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	m, _, env := setUp(t)
	m.CheckImage = charts.Policy{}.CheckImage // Istio's official hubs

	chart := takeOverChart(t)
	release := helm.Release{Name: "miner", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: map[string]any{"image": "evil.example/miner:1"},
		Owner:  helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	_, err := m.Ensure(ctx, release)
	g.Expect(err).To(HaveOccurred())
	g.Expect(errors.Is(err, helm.ErrRefusedObject)).To(BeTrue(), "the error does not wrap helm.ErrRefusedObject: %v", err)
	g.Expect(err.Error()).To(ContainSubstring("Deployment " + env.Namespace + `/agent, which runs image "evil.example/miner:1" in container agent`))
	g.Expect(err.Error()).To(ContainSubstring("(rule: a workload's containers pull only from the image hubs"))
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "agent"}, &appsv1.Deployment{})).To(Satisfy(apierrors.IsNotFound))
	expectNothingOfTheRelease(ctx, g, env, release.Name)

	release.Values = map[string]any{"image": "docker.io/istio/pilot:1.31.1"}
	_, err = m.Ensure(ctx, release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Namespace: env.Namespace, Name: "agent"}, &appsv1.Deployment{})).To(Succeed())
}
