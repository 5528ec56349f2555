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

package chart

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// releaseOptionValues sets the options of the release round at once, for TestInstallIntoAPIServer to
// prove that a real API server accepts (with strict field validation) what they render.
func releaseOptionValues() map[string]any {
	return map[string]any{
		"replicaCount":   2,
		"image":          map[string]any{"repository": "registry.example.com/meshkeeper", "digest": digest},
		"serviceAccount": map[string]any{"annotations": map[string]any{"example.com/identity": "mesh"}},
		"podLabels":      map[string]any{"example.com/team": "mesh"},
		"topologySpreadConstraints": []any{
			map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"},
		},
		"podDisruptionBudget": map[string]any{"minAvailable": "50%"},
		"extraArgs":           []any{"--enable-http2"},
		"extraEnv": []any{
			map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"},
			map[string]any{"name": "NO_PROXY", "value": "10.96.0.0/12,kubernetes.default.svc,.svc,.cluster.local"},
		},
		"kubeAPIQPS":       50,
		"kubeAPIBurst":     100,
		"prometheusRule":   map[string]any{"enabled": true},
		"grafanaDashboard": map[string]any{"enabled": true},
	}
}

func TestImageDigest(t *testing.T) {
	for name, tc := range map[string]struct {
		image map[string]any
		want  string
	}{
		"digest wins over tag": {map[string]any{"repository": "registry.example.com/meshkeeper", "tag": "v9.9.9", "digest": digest},
			"registry.example.com/meshkeeper@" + digest},
		"digest alone": {map[string]any{"repository": "registry.example.com/meshkeeper", "digest": digest},
			"registry.example.com/meshkeeper@" + digest},
		"tag without digest": {map[string]any{"repository": "registry.example.com/meshkeeper", "tag": "v9.9.9"},
			"registry.example.com/meshkeeper:v9.9.9"},
	} {
		t.Run(name, func(t *testing.T) {
			objects := render(t, map[string]any{"image": tc.image}, defaultRelease, defaultNamespace)
			deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
			if got := container(t, deploy, "manager").Image; got != tc.want {
				t.Errorf("image %q, want %q", got, tc.want)
			}
		})
	}
}

func TestServiceAccount(t *testing.T) {
	t.Run("created with a name and annotations", func(t *testing.T) {
		objects := render(t, map[string]any{"serviceAccount": map[string]any{
			"name": "mesh-operator", "annotations": map[string]any{"eks.amazonaws.com/role-arn": "arn:aws:iam::1:role/mesh"}}},
			defaultRelease, defaultNamespace)
		sa := as[corev1.ServiceAccount](t, objects.get(t, "ServiceAccount", "mesh-operator"))
		if sa.Annotations["eks.amazonaws.com/role-arn"] != "arn:aws:iam::1:role/mesh" {
			t.Errorf("ServiceAccount annotations %v", sa.Annotations)
		}
		assertRunsAs(t, objects, "mesh-operator")
	})
	t.Run("an existing one", func(t *testing.T) {
		objects := render(t, map[string]any{"serviceAccount": map[string]any{"create": false, "name": "platform-sa"}},
			defaultRelease, defaultNamespace)
		if slices.ContainsFunc(objects, func(u *unstructured.Unstructured) bool { return u.GetKind() == "ServiceAccount" }) {
			t.Errorf("a ServiceAccount is rendered with serviceAccount.create false: %v", objects.keys())
		}
		assertRunsAs(t, objects, "platform-sa")
	})
	t.Run("the namespace's default", func(t *testing.T) {
		objects := render(t, map[string]any{"serviceAccount": map[string]any{"create": false}}, defaultRelease, defaultNamespace)
		assertRunsAs(t, objects, "default")
	})
}

// assertRunsAs checks that the manager runs as the ServiceAccount and that every binding names it.
func assertRunsAs(t *testing.T, objects objectList, name string) {
	t.Helper()
	deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
	if deploy.Spec.Template.Spec.ServiceAccountName != name {
		t.Errorf("serviceAccountName %q, want %q", deploy.Spec.Template.Spec.ServiceAccountName, name)
	}
	bindings := 0
	for _, u := range objects {
		if u.GetKind() != "RoleBinding" && u.GetKind() != "ClusterRoleBinding" {
			continue
		}
		bindings++
		subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
		for _, s := range subjects {
			if s.(map[string]any)["name"] != name {
				t.Errorf("%s %s binds %v, want the ServiceAccount %s", u.GetKind(), u.GetName(), s, name)
			}
		}
	}
	if bindings < 3 {
		t.Errorf("only %d bindings rendered", bindings)
	}
}

func TestPodLabelsAndAnnotations(t *testing.T) {
	objects := render(t, map[string]any{
		"podLabels":      map[string]any{"example.com/team": "mesh", "app.kubernetes.io/name": "not-the-chart"},
		"podAnnotations": map[string]any{"example.com/owner": "platform"},
	}, defaultRelease, defaultNamespace)
	deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
	pod := deploy.Spec.Template
	if pod.Labels["example.com/team"] != "mesh" {
		t.Errorf("pod labels %v lack podLabels", pod.Labels)
	}
	// A pod label may not take over one the selectors rely on.
	if !selects(deploy.Spec.Selector.MatchLabels, pod.Labels) || pod.Labels["app.kubernetes.io/name"] != "meshkeeper" {
		t.Errorf("pod labels %v: the chart's own labels must win over podLabels", pod.Labels)
	}
	if pod.Annotations["example.com/owner"] != "platform" || pod.Annotations["kubectl.kubernetes.io/default-container"] != "manager" {
		t.Errorf("pod annotations %v", pod.Annotations)
	}
	for _, u := range objects {
		if u.GetKind() != "Deployment" && u.GetLabels()["example.com/team"] != "" {
			t.Errorf("%s %s carries a pod label", u.GetKind(), u.GetName())
		}
	}
}

func TestTopologySpread(t *testing.T) {
	own := map[string]any{"matchLabels": map[string]any{"tier": "operators"}}
	objects := render(t, map[string]any{"topologySpreadConstraints": []any{
		map[string]any{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"},
		map[string]any{"maxSkew": 2, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule", "labelSelector": own},
	}}, defaultRelease, defaultNamespace)
	deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
	constraints := deploy.Spec.Template.Spec.TopologySpreadConstraints
	if len(constraints) != 2 {
		t.Fatalf("topologySpreadConstraints %+v", constraints)
	}
	zone, host := constraints[0], constraints[1]
	if zone.TopologyKey != "topology.kubernetes.io/zone" || zone.MaxSkew != 1 || zone.WhenUnsatisfiable != corev1.ScheduleAnyway {
		t.Errorf("first constraint %+v", zone)
	}
	if zone.LabelSelector == nil || !equality.Semantic.DeepEqual(zone.LabelSelector.MatchLabels, deploy.Spec.Selector.MatchLabels) {
		t.Errorf("a constraint without labelSelector selects %v, want the manager's pods %v", zone.LabelSelector, deploy.Spec.Selector.MatchLabels)
	}
	if host.LabelSelector == nil || host.LabelSelector.MatchLabels["tier"] != "operators" || len(host.LabelSelector.MatchLabels) != 1 {
		t.Errorf("a constraint's own labelSelector must stay as given: %v", host.LabelSelector)
	}
	none := as[appsv1.Deployment](t, render(t, nil, defaultRelease, defaultNamespace).get(t, "Deployment", "meshkeeper"))
	if len(none.Spec.Template.Spec.TopologySpreadConstraints) != 0 {
		t.Error("topologySpreadConstraints rendered by default")
	}
}

func TestPodDisruptionBudget(t *testing.T) {
	if keys := render(t, nil, defaultRelease, defaultNamespace).keys(); slices.Contains(keys, "PodDisruptionBudget/meshkeeper") {
		t.Error("a PodDisruptionBudget for a single replica would block every node drain")
	}
	for name, tc := range map[string]struct {
		values map[string]any
		want   intstr.IntOrString
	}{
		"default":    {map[string]any{"replicaCount": 2}, intstr.FromInt32(1)},
		"percentage": {map[string]any{"replicaCount": 3, "podDisruptionBudget": map[string]any{"minAvailable": "50%"}}, intstr.FromString("50%")},
	} {
		t.Run(name, func(t *testing.T) {
			objects := render(t, tc.values, defaultRelease, defaultNamespace)
			pdb := as[policyv1.PodDisruptionBudget](t, objects.get(t, "PodDisruptionBudget", "meshkeeper"))
			deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
			if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != tc.want {
				t.Errorf("minAvailable %v, want %v", pdb.Spec.MinAvailable, tc.want)
			}
			if pdb.Spec.Selector == nil || !selects(pdb.Spec.Selector.MatchLabels, deploy.Spec.Template.Labels) ||
				!equality.Semantic.DeepEqual(pdb.Spec.Selector.MatchLabels, deploy.Spec.Selector.MatchLabels) {
				t.Errorf("the PodDisruptionBudget selects %v, want the manager's pods", pdb.Spec.Selector)
			}
			if pdb.Spec.UnhealthyPodEvictionPolicy == nil || *pdb.Spec.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
				t.Errorf("unhealthyPodEvictionPolicy %v: a manager that is not ready must not block a drain", pdb.Spec.UnhealthyPodEvictionPolicy)
			}
			if pdb.Namespace != defaultNamespace {
				t.Errorf("namespace %q", pdb.Namespace)
			}
		})
	}
}

func TestExtraArgsEnvAndAPILimits(t *testing.T) {
	env := []any{
		map[string]any{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"},
		map[string]any{"name": "NO_PROXY", "value": "10.96.0.0/12,kubernetes.default.svc,.svc,.cluster.local"},
		map[string]any{"name": "TEAM", "valueFrom": map[string]any{"configMapKeyRef": map[string]any{"name": "team", "key": "name"}}},
	}
	objects := render(t, map[string]any{
		"extraArgs": []any{"--enable-http2"}, "extraEnv": env, "goMemLimit": "200MiB",
		"kubeAPIQPS": 50.5, "kubeAPIBurst": 100,
	}, defaultRelease, defaultNamespace)
	manager := container(t, as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper")), "manager")
	for _, arg := range []string{"--enable-http2", "--kube-api-qps=50.5", "--kube-api-burst=100", "--zap-log-level=info"} {
		if !slices.Contains(manager.Args, arg) {
			t.Errorf("args %v lack %s", manager.Args, arg)
		}
	}
	wantEnv := []corev1.EnvVar{
		{Name: "GOMEMLIMIT", Value: "200MiB"},
		{Name: "HTTPS_PROXY", Value: "http://proxy.example.com:3128"},
		{Name: "NO_PROXY", Value: "10.96.0.0/12,kubernetes.default.svc,.svc,.cluster.local"},
		{Name: "TEAM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "team"}, Key: "name"}}},
	}
	if !equality.Semantic.DeepEqual(manager.Env, wantEnv) {
		t.Errorf("env %+v, want %+v", manager.Env, wantEnv)
	}

	// Without them the manager keeps its own defaults: no flags, and extraEnv alone still renders.
	objects = render(t, map[string]any{"extraEnv": env[:2]}, defaultRelease, defaultNamespace)
	manager = container(t, as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper")), "manager")
	for _, arg := range manager.Args {
		if strings.HasPrefix(arg, "--kube-api-") {
			t.Errorf("arg %s rendered by default; the manager's own default applies", arg)
		}
	}
	if len(manager.Env) != 2 || manager.Env[0].Name != "HTTPS_PROXY" || manager.Env[1].Name != "NO_PROXY" {
		t.Errorf("env %+v, want only HTTPS_PROXY and NO_PROXY", manager.Env)
	}
}

// TestPrometheusRule checks the opt-in PrometheusRule: off by default, and when on the same groups as
// config/prometheus/prometheusrule.yaml (test/monitoring checks those with Prometheus's own tools).
func TestPrometheusRule(t *testing.T) {
	if slices.Contains(render(t, nil, defaultRelease, defaultNamespace).keys(), "PrometheusRule/meshkeeper-alerts") {
		t.Error("a PrometheusRule is rendered by default; its CRD may not exist")
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "prometheus", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &config.Object); err != nil {
		t.Fatal(err)
	}

	objects := render(t, map[string]any{"prometheusRule": map[string]any{"enabled": true, "labels": map[string]any{"release": "prometheus"}}},
		customRelease, customNamespace)
	rule := objects.get(t, "PrometheusRule", customFullname+"-alerts")
	if rule.GetAPIVersion() != "monitoring.coreos.com/v1" || rule.GetNamespace() != customNamespace || rule.GetLabels()["release"] != "prometheus" {
		t.Errorf("PrometheusRule %s in %q labelled %v", rule.GetAPIVersion(), rule.GetNamespace(), rule.GetLabels())
	}
	if !equality.Semantic.DeepEqual(rule.Object["spec"], config.Object["spec"]) {
		got, _ := yaml.Marshal(rule.Object["spec"])
		want, _ := yaml.Marshal(config.Object["spec"])
		t.Errorf("the chart's rules differ from config/prometheus:\n%s\n---\n%s", got, want)
	}
	if !strings.Contains(string(mustYAML(t, rule.Object["spec"])), "{{ $labels.reason }}") {
		t.Error("the alerts' templates must reach Prometheus unrendered by Helm")
	}

	objects = render(t, map[string]any{"prometheusRule": map[string]any{"enabled": true,
		"runbookBaseURL": "https://wiki.example.com/meshkeeper/troubleshooting/"}}, defaultRelease, defaultNamespace)
	spec := string(mustYAML(t, objects.get(t, "PrometheusRule", "meshkeeper-alerts").Object["spec"]))
	alerts := strings.Count(spec, "- alert: ")
	if alerts == 0 || strings.Contains(spec, "github.com") ||
		strings.Count(spec, "runbook_url: https://wiki.example.com/meshkeeper/troubleshooting#meshkeeper") != alerts {
		t.Errorf("runbookBaseURL does not replace every runbook link:\n%s", spec)
	}
}

func mustYAML(t *testing.T, v any) []byte {
	t.Helper()
	data, err := yaml.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestGrafanaDashboard checks the opt-in dashboard ConfigMap: the label the Grafana sidecar looks for,
// and the dashboard of config/grafana byte for byte.
func TestGrafanaDashboard(t *testing.T) {
	if slices.Contains(render(t, nil, defaultRelease, defaultNamespace).keys(), "ConfigMap/meshkeeper-dashboard") {
		t.Error("the dashboard is rendered by default")
	}
	want, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "grafana", "meshkeeper.json"))
	if err != nil {
		t.Fatal(err)
	}
	objects := render(t, map[string]any{"grafanaDashboard": map[string]any{"enabled": true, "namespace": "monitoring",
		"annotations": map[string]any{"grafana_folder": "Operators"}}}, defaultRelease, defaultNamespace)
	cm := as[corev1.ConfigMap](t, objects.get(t, "ConfigMap", "meshkeeper-dashboard"))
	if cm.Labels["grafana_dashboard"] != "1" || cm.Namespace != "monitoring" || cm.Annotations["grafana_folder"] != "Operators" {
		t.Errorf("ConfigMap in %q labelled %v annotated %v", cm.Namespace, cm.Labels, cm.Annotations)
	}
	if got := cm.Data["meshkeeper.json"]; got != strings.TrimSuffix(string(want), "\n") {
		t.Errorf("the ConfigMap's dashboard differs from config/grafana/meshkeeper.json")
	}
}

// TestArtifactHubAnnotations checks the annotations Artifact Hub reads: each parses, the CRD entry names
// the chart's CRD, the image is the one the chart deploys by default, and the example is the singleton.
func TestArtifactHubAnnotations(t *testing.T) {
	md := loadChart(t).Metadata
	a := md.Annotations
	for key, want := range map[string]string{"artifacthub.io/license": "Apache-2.0", "artifacthub.io/operator": "true"} {
		if a[key] != want {
			t.Errorf("%s = %q, want %q", key, a[key], want)
		}
	}
	var crds []struct{ Kind, Version, Name, DisplayName, Description string }
	if err := yaml.UnmarshalStrict([]byte(a["artifacthub.io/crds"]), &crds); err != nil {
		t.Fatalf("artifacthub.io/crds: %v", err)
	}
	if len(crds) != 1 || crds[0].Kind != "ServiceMesh" || crds[0].Version != "v1alpha1" ||
		crds[0].Name != "servicemeshes.mesh.meshkeeper.io" || crds[0].Description == "" {
		t.Errorf("artifacthub.io/crds %+v", crds)
	}
	var images []struct{ Name, Image string }
	if err := yaml.UnmarshalStrict([]byte(a["artifacthub.io/images"]), &images); err != nil {
		t.Fatalf("artifacthub.io/images: %v", err)
	}
	deploy := as[appsv1.Deployment](t, render(t, nil, defaultRelease, defaultNamespace).get(t, "Deployment", "meshkeeper"))
	if len(images) != 1 || images[0].Image != container(t, deploy, "manager").Image {
		t.Errorf("artifacthub.io/images %+v, want the image the chart deploys", images)
	}
	var examples []map[string]any
	if err := yaml.Unmarshal([]byte(a["artifacthub.io/crdsExamples"]), &examples); err != nil {
		t.Fatalf("artifacthub.io/crdsExamples: %v", err)
	}
	if len(examples) != 1 || examples[0]["kind"] != "ServiceMesh" || examples[0]["metadata"].(map[string]any)["name"] != "default" {
		t.Errorf("artifacthub.io/crdsExamples %v", examples)
	}
	var links []struct{ Name, URL string }
	if err := yaml.UnmarshalStrict([]byte(a["artifacthub.io/links"]), &links); err != nil || len(links) == 0 {
		t.Errorf("artifacthub.io/links %v: %v", links, err)
	}
	var changes []struct{ Kind, Description string }
	if err := yaml.UnmarshalStrict([]byte(a["artifacthub.io/changes"]), &changes); err != nil || len(changes) == 0 {
		t.Errorf("artifacthub.io/changes %v: %v", changes, err)
	}
}
