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

// Package chart tests the operator's own Helm chart, charts/meshkeeper: what it renders with the Helm 4
// engine for default and non-default values, that its RBAC and CRD are the generated ones, and that a
// real API server accepts what it renders.
package chart

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartutil "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

var chartDir = filepath.Join(testenv.RepoRoot(), "charts", "meshkeeper")

const (
	defaultRelease   = "meshkeeper"
	defaultNamespace = "meshkeeper-system"
	customRelease    = "mk"
	customNamespace  = "mesh-operator"
	// What a release named customRelease calls its objects.
	customFullname = "mk-meshkeeper"
)

// customValues changes every value the chart offers from its default, so each one is proven to reach
// the rendered objects.
func customValues() map[string]any {
	return map[string]any{
		"image": map[string]any{
			"repository": "registry.example.com/mesh/meshkeeper",
			"tag":        "v9.9.9",
			"pullPolicy": "Always",
		},
		"imagePullSecrets": []any{map[string]any{"name": "regcred"}},
		"logLevel":         "debug",
		"goMemLimit":       "100MiB",
		"leaderElection":   map[string]any{"enabled": false},
		"resources": map[string]any{
			"requests": map[string]any{"cpu": "250m", "memory": "256Mi"},
			"limits":   map[string]any{"cpu": "1", "memory": "1Gi"},
		},
		"nodeSelector": map[string]any{"kubernetes.io/os": "linux", "node-role.example.com/infra": "true"},
		"tolerations": []any{
			map[string]any{"key": "infra", "operator": "Exists", "effect": "NoSchedule"},
		},
		"affinity": map[string]any{
			"nodeAffinity": map[string]any{
				"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{
					"nodeSelectorTerms": []any{map[string]any{
						"matchExpressions": []any{map[string]any{
							"key": "kubernetes.io/arch", "operator": "In", "values": []any{"amd64", "arm64"},
						}},
					}},
				},
			},
		},
		"priorityClassName": "meshkeeper-critical",
		"podAnnotations":    map[string]any{"example.com/team": "mesh"},
		// A pod label may add, not replace: the manager never gets a sidecar (assertWiring).
		"podLabels":       map[string]any{"example.com/team": "mesh", "sidecar.istio.io/inject": "true"},
		"aggregatedRoles": map[string]any{"enabled": false},
		"serviceMonitor": map[string]any{
			"enabled": true,
			"labels":  map[string]any{"release": "prometheus"},
		},
		"networkPolicy": map[string]any{
			"enabled":                  true,
			"metricsNamespaceSelector": map[string]any{"matchLabels": map[string]any{"kubernetes.io/metadata.name": "monitoring"}},
			"metricsPodSelector":       map[string]any{"matchLabels": map[string]any{"app.kubernetes.io/name": "prometheus"}},
		},
	}
}

func loadChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	chart, err := loader.LoadDir(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	return chart
}

// renderChart renders the chart as `helm template` does and decodes every object.
func renderChart(chart *chartv2.Chart, values map[string]any, release, namespace string) (objectList, error) {
	manifest, err := helm.Template(chart, values, release, namespace)
	if err != nil {
		return nil, err
	}
	return decodeObjects(manifest)
}

func render(t *testing.T, values map[string]any, release, namespace string) objectList {
	t.Helper()
	objects, err := renderChart(loadChart(t), values, release, namespace)
	if err != nil {
		t.Fatal(err)
	}
	return objects
}

func decodeObjects(manifest []byte) (objectList, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objects objectList
	for {
		u := &unstructured.Unstructured{}
		if err := decoder.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("decoding the rendered manifest: %w", err)
		}
		if len(u.Object) > 0 {
			objects = append(objects, u)
		}
	}
}

type objectList []*unstructured.Unstructured

// get returns the object of that kind and name, failing the test when there is none.
func (l objectList) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range l {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("the chart renders no %s %q; it renders %v", kind, name, l.keys())
	return nil
}

func (l objectList) keys() []string {
	keys := make([]string, 0, len(l))
	for _, u := range l {
		keys = append(keys, u.GetKind()+"/"+u.GetName())
	}
	slices.Sort(keys)
	return keys
}

// as converts u into a typed object, failing on any field the type does not have, so a misspelt field
// in a template fails here rather than being dropped by the API server.
func as[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

func TestChartMetadata(t *testing.T) {
	md := loadChart(t).Metadata
	if err := md.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []struct{ field, got, want string }{
		{"apiVersion", md.APIVersion, "v2"},
		{"name", md.Name, "meshkeeper"},
		{"version", md.Version, "0.1.0"},
		{"appVersion", md.AppVersion, "0.1.0"},
		{"kubeVersion", md.KubeVersion, ">= 1.31.0-0"},
		{"type", md.Type, "application"},
	} {
		if f.got != f.want {
			t.Errorf("Chart.yaml %s = %q, want %q", f.field, f.got, f.want)
		}
	}
	// The "-0" lets in the pre-release-style versions of managed clusters, such as v1.31.4-eks-a737599.
	// 1.30 is refused: its API server refuses the CRD (isCIDR, docs/compatibility.md).
	for version, want := range map[string]bool{"v1.31.0": true, "v1.31.4-eks-a737599": true, "v1.36.3": true, "v1.30.14": false, "v1.30.4-eks-a737599": false} {
		if got := chartutil.IsCompatibleRange(md.KubeVersion, version); got != want {
			t.Errorf("kubeVersion %q admits %s: %v, want %v", md.KubeVersion, version, got, want)
		}
	}
	if md.Description == "" || md.Home == "" || len(md.Sources) == 0 || len(md.Keywords) == 0 {
		t.Errorf("Chart.yaml needs description, home, sources and keywords: %+v", md)
	}
}

// TestHelmLint runs `helm lint`'s rules; anything above an informational message fails.
func TestHelmLint(t *testing.T) {
	for name, values := range map[string]map[string]any{"default": nil, "custom": customValues()} {
		t.Run(name, func(t *testing.T) {
			result := lint.RunAll(chartDir, values, defaultNamespace)
			for _, m := range result.Messages {
				t.Log(m)
			}
			if result.HighestSeverity > support.InfoSev {
				t.Errorf("helm lint reports warnings or errors (above)")
			}
		})
	}
}

func TestDefaultValues(t *testing.T) {
	objects := render(t, nil, defaultRelease, defaultNamespace)

	want := []string{
		"ClusterRole/meshkeeper-manager", "ClusterRole/meshkeeper-metrics-auth", "ClusterRole/meshkeeper-metrics-reader",
		"ClusterRole/meshkeeper-servicemesh-editor", "ClusterRole/meshkeeper-servicemesh-viewer",
		"ClusterRoleBinding/meshkeeper-manager", "ClusterRoleBinding/meshkeeper-metrics-auth",
		"Deployment/meshkeeper", "Role/meshkeeper-leader-election", "RoleBinding/meshkeeper-leader-election",
		"Service/meshkeeper-metrics", "ServiceAccount/meshkeeper",
	}
	if got := objects.keys(); !slices.Equal(got, want) {
		t.Errorf("rendered objects:\n got %v\nwant %v", got, want)
	}
	for _, u := range objects {
		if namespaced(u.GetKind()) && u.GetNamespace() != defaultNamespace {
			t.Errorf("%s %s is in namespace %q, want the release namespace", u.GetKind(), u.GetName(), u.GetNamespace())
		}
	}

	deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper"))
	assertRestricted(t, &deploy.Spec.Template.Spec)
	assertWiring(t, objects, deploy, "meshkeeper")
	manager := container(t, deploy, "manager")
	if manager.Image != "ghcr.io/meshkeeper/meshkeeper:0.1.0" {
		t.Errorf("image %q, want the repository with the chart's appVersion as tag", manager.Image)
	}
	if manager.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy %q", manager.ImagePullPolicy)
	}
	if len(manager.Env) != 0 {
		t.Errorf("env %v: want none by default (Go's own memory settings)", manager.Env)
	}
	for _, arg := range []string{"--leader-elect", "--zap-log-level=info"} {
		if !slices.Contains(manager.Args, arg) {
			t.Errorf("args %v lack %s", manager.Args, arg)
		}
	}
	if *deploy.Spec.Replicas != 1 || deploy.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %q: want 1 and a rolling update, leader election hands over",
			*deploy.Spec.Replicas, deploy.Spec.Strategy.Type)
	}
	if got := manager.Resources.Limits.Memory(); got.Cmp(resource.MustParse("512Mi")) != 0 {
		t.Errorf("memory limit %s, want 512Mi", got)
	}

	role := as[rbacv1.Role](t, objects.get(t, "Role", "meshkeeper-leader-election"))
	assertGrants(t, role.Rules, "coordination.k8s.io", "leases", "create", "get", "update")
	assertGrants(t, role.Rules, "", "events", "create", "patch")
	assertBoundTo(t, objects, "RoleBinding", "meshkeeper-leader-election", "Role", defaultNamespace, "meshkeeper")
	assertBoundTo(t, objects, "ClusterRoleBinding", "meshkeeper-manager", "ClusterRole", defaultNamespace, "meshkeeper")
	assertBoundTo(t, objects, "ClusterRoleBinding", "meshkeeper-metrics-auth", "ClusterRole", defaultNamespace, "meshkeeper")
	metricsAuth := as[rbacv1.ClusterRole](t, objects.get(t, "ClusterRole", "meshkeeper-metrics-auth"))
	assertGrants(t, metricsAuth.Rules, "authentication.k8s.io", "tokenreviews", "create")
	assertGrants(t, metricsAuth.Rules, "authorization.k8s.io", "subjectaccessreviews", "create")
}

func TestCustomValues(t *testing.T) {
	objects := render(t, customValues(), customRelease, customNamespace)

	if slices.Contains(objects.keys(), "ClusterRole/"+customFullname+"-servicemesh-editor") {
		t.Errorf("the editor role is rendered although it is switched off")
	}
	// leaderElection.enabled false changes only the strategy: the manager still elects a leader.
	role := as[rbacv1.Role](t, objects.get(t, "Role", customFullname+"-leader-election"))
	assertGrants(t, role.Rules, "coordination.k8s.io", "leases", "create", "get", "update")
	assertBoundTo(t, objects, "RoleBinding", customFullname+"-leader-election", "Role", customNamespace, customFullname)

	deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", customFullname))
	assertRestricted(t, &deploy.Spec.Template.Spec)
	assertWiring(t, objects, deploy, customFullname)
	pod := deploy.Spec.Template.Spec
	manager := container(t, deploy, "manager")
	if manager.Image != "registry.example.com/mesh/meshkeeper:v9.9.9" || manager.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("image %q pulled %q", manager.Image, manager.ImagePullPolicy)
	}
	if !slices.Equal(pod.ImagePullSecrets, []corev1.LocalObjectReference{{Name: "regcred"}}) {
		t.Errorf("imagePullSecrets %v", pod.ImagePullSecrets)
	}
	if !slices.Contains(manager.Args, "--leader-elect") || !slices.Contains(manager.Args, "--zap-log-level=debug") {
		t.Errorf("args %v: want --leader-elect and --zap-log-level=debug", manager.Args)
	}
	if !slices.Equal(manager.Env, []corev1.EnvVar{{Name: "GOMEMLIMIT", Value: "100MiB"}}) {
		t.Errorf("env %v: want GOMEMLIMIT=100MiB", manager.Env)
	}
	if deploy.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q: with leaderElection.enabled false the old manager must stop before the new one starts",
			deploy.Spec.Strategy.Type)
	}
	wantResources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1"), corev1.ResourceMemory: resource.MustParse("1Gi")},
	}
	if !equality.Semantic.DeepEqual(manager.Resources, wantResources) {
		t.Errorf("resources %v, want %v", manager.Resources, wantResources)
	}
	if pod.NodeSelector["kubernetes.io/os"] != "linux" || pod.NodeSelector["node-role.example.com/infra"] != "true" {
		t.Errorf("nodeSelector %v", pod.NodeSelector)
	}
	if len(pod.Tolerations) != 1 || pod.Tolerations[0].Key != "infra" || pod.Tolerations[0].Effect != corev1.TaintEffectNoSchedule {
		t.Errorf("tolerations %v", pod.Tolerations)
	}
	if pod.Affinity == nil || pod.Affinity.NodeAffinity == nil ||
		pod.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Key != "kubernetes.io/arch" {
		t.Errorf("affinity %v", pod.Affinity)
	}
	if pod.PriorityClassName != "meshkeeper-critical" {
		t.Errorf("priorityClassName %q", pod.PriorityClassName)
	}
	annotations := deploy.Spec.Template.Annotations
	if annotations["example.com/team"] != "mesh" || annotations["kubectl.kubernetes.io/default-container"] != "manager" {
		t.Errorf("pod annotations %v: want podAnnotations next to the default-container annotation", annotations)
	}

	// The ServiceMonitor scrapes the metrics Service over HTTPS with a bearer token.
	sm := objects.get(t, "ServiceMonitor", customFullname+"-metrics")
	if sm.GetAPIVersion() != "monitoring.coreos.com/v1" || sm.GetNamespace() != customNamespace ||
		sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor %s in %q labelled %v", sm.GetAPIVersion(), sm.GetNamespace(), sm.GetLabels())
	}
	endpoints, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(endpoints) != 1 {
		t.Fatalf("ServiceMonitor endpoints %v", endpoints)
	}
	endpoint := endpoints[0].(map[string]any)
	for key, want := range map[string]any{
		"port": "https-metrics", "scheme": "https", "path": "/metrics",
		"bearerTokenFile": "/var/run/secrets/kubernetes.io/serviceaccount/token",
		"tlsConfig":       map[string]any{"insecureSkipVerify": true},
	} {
		if !equality.Semantic.DeepEqual(endpoint[key], want) {
			t.Errorf("ServiceMonitor endpoint %s = %v, want %v", key, endpoint[key], want)
		}
	}
	service := as[corev1.Service](t, objects.get(t, "Service", customFullname+"-metrics"))
	smSelector, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if !selects(smSelector, service.Labels) {
		t.Errorf("the ServiceMonitor selects %v, which the metrics Service (labels %v) lacks", smSelector, service.Labels)
	}

	// The NetworkPolicy admits only the metrics port, from the selected scrapers, and leaves egress open.
	np := as[networkingv1.NetworkPolicy](t, objects.get(t, "NetworkPolicy", customFullname))
	if !selects(np.Spec.PodSelector.MatchLabels, deploy.Spec.Template.Labels) {
		t.Errorf("the NetworkPolicy selects %v, not the manager's pods %v", np.Spec.PodSelector.MatchLabels, deploy.Spec.Template.Labels)
	}
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
		t.Errorf("policyTypes %v: want Ingress only, egress must stay open for the API server and chart repositories",
			np.Spec.PolicyTypes)
	}
	if len(np.Spec.Ingress) != 1 || len(np.Spec.Ingress[0].Ports) != 1 || len(np.Spec.Ingress[0].From) != 1 {
		t.Fatalf("ingress %+v: want one rule with one port and one peer", np.Spec.Ingress)
	}
	rule := np.Spec.Ingress[0]
	if *rule.Ports[0].Port != intstr.FromInt32(8443) || *rule.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("ingress port %v", rule.Ports[0])
	}
	peer := rule.From[0]
	if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "monitoring" ||
		peer.PodSelector == nil || peer.PodSelector.MatchLabels["app.kubernetes.io/name"] != "prometheus" {
		t.Errorf("ingress from %+v: want the configured namespace and pod selectors in one peer", peer)
	}
}

// TestNetworkPolicyDefaultSelector checks the documented default: namespaces labelled metrics=enabled.
func TestNetworkPolicyDefaultSelector(t *testing.T) {
	objects := render(t, map[string]any{"networkPolicy": map[string]any{"enabled": true}}, defaultRelease, defaultNamespace)
	np := as[networkingv1.NetworkPolicy](t, objects.get(t, "NetworkPolicy", "meshkeeper"))
	peer := np.Spec.Ingress[0].From[0]
	if peer.NamespaceSelector == nil || peer.NamespaceSelector.MatchLabels["metrics"] != "enabled" || peer.PodSelector != nil {
		t.Errorf("ingress from %+v: want namespaces labelled metrics=enabled, any pod", peer)
	}
}

// TestServiceMonitorAuthorization checks that a Secret-based authorization replaces bearerTokenFile.
func TestServiceMonitorAuthorization(t *testing.T) {
	auth := map[string]any{"type": "Bearer", "credentials": map[string]any{"name": "scraper-token", "key": "token"}}
	objects := render(t, map[string]any{"serviceMonitor": map[string]any{"enabled": true, "authorization": auth}},
		defaultRelease, defaultNamespace)
	endpoints, _, _ := unstructured.NestedSlice(objects.get(t, "ServiceMonitor", "meshkeeper-metrics").Object, "spec", "endpoints")
	endpoint := endpoints[0].(map[string]any)
	if !equality.Semantic.DeepEqual(endpoint["authorization"], auth) || endpoint["bearerTokenFile"] != nil {
		t.Errorf("endpoint %v: want the authorization and no bearerTokenFile", endpoint)
	}
}

// TestValuesRejected checks what the schema and the templates refuse, with a message naming the problem.
func TestValuesRejected(t *testing.T) {
	chart := loadChart(t)
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"unknown log level":  {map[string]any{"logLevel": "verbose"}, "logLevel"},
		"zero verbosity":     {map[string]any{"logLevel": 0}, "logLevel"},
		"memory limit unit":  {map[string]any{"goMemLimit": "100Mi"}, "goMemLimit"},
		"misspelt value":     {map[string]any{"loglevel": "debug"}, "loglevel"},
		"unknown pullPolicy": {map[string]any{"image": map[string]any{"repository": "r", "pullPolicy": "Sometimes"}}, "pullPolicy"},
		"replicas without a leader": {map[string]any{"replicaCount": 2, "leaderElection": map[string]any{"enabled": false}},
			"replicaCount above 1 needs leaderElection.enabled"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(chart, tc.values, defaultRelease, defaultNamespace)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
	// The same values are fine where they make sense.
	for name, values := range map[string]map[string]any{
		"verbosity":                  {"logLevel": 3},
		"replicas with a leader":     {"replicaCount": 3},
		"a parent chart's globals":   {"global": map[string]any{"imageRegistry": "x"}},
		"a single replica, no elect": {"leaderElection": map[string]any{"enabled": false}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := renderChart(chart, values, defaultRelease, defaultNamespace); err != nil {
				t.Error(err)
			}
		})
	}
}

// generatedRole is the manager's ClusterRole that controller-gen generates into config/rbac/role.yaml
// from the +kubebuilder:rbac markers.
func generatedRole(t *testing.T) *rbacv1.ClusterRole {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", "role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	generated := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(data, generated); err != nil {
		t.Fatalf("config/rbac/role.yaml: %v", err)
	}
	return generated
}

// TestManagerRulesMatchGenerated is the single-source check: the chart's manager ClusterRole must grant
// exactly the rules controller-gen generates into config/rbac/role.yaml from the +kubebuilder:rbac
// markers, rule for rule (in any order).
func TestManagerRulesMatchGenerated(t *testing.T) {
	generated := generatedRole(t)
	if len(generated.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	for name, objects := range map[string]objectList{
		"default": render(t, nil, defaultRelease, defaultNamespace),
		"custom":  render(t, customValues(), customRelease, customNamespace),
	} {
		t.Run(name, func(t *testing.T) {
			chartRole := as[rbacv1.ClusterRole](t, objects.get(t, "ClusterRole", objects.fullname()+"-manager"))
			missing, extra := diffRules(generated.Rules, chartRole.Rules)
			for _, r := range missing {
				t.Errorf("config/rbac/role.yaml has a rule the chart lacks: %s", r)
			}
			for _, r := range extra {
				t.Errorf("the chart has a rule config/rbac/role.yaml lacks: %s", r)
			}
			if len(missing)+len(extra) > 0 {
				t.Log("Run `make manifests` and mirror config/rbac/role.yaml in charts/meshkeeper/templates/clusterrole.yaml.")
			}
		})
	}
}

func (l objectList) fullname() string {
	for _, u := range l {
		if u.GetKind() == "Deployment" {
			return u.GetName()
		}
	}
	return ""
}

// diffRules compares two rule lists as multisets of rules, each rule with its lists sorted.
func diffRules(want, got []rbacv1.PolicyRule) (missing, extra []string) {
	wantKeys, gotKeys := ruleKeys(want), ruleKeys(got)
	for _, k := range wantKeys {
		if i := slices.Index(gotKeys, k); i >= 0 {
			gotKeys = slices.Delete(gotKeys, i, i+1)
		} else {
			missing = append(missing, k)
		}
	}
	return missing, gotKeys
}

func ruleKeys(rules []rbacv1.PolicyRule) []string {
	keys := make([]string, 0, len(rules))
	for _, r := range rules {
		keys = append(keys, fmt.Sprintf("apiGroups=%q resources=%q verbs=%q resourceNames=%q nonResourceURLs=%q",
			sorted(r.APIGroups), sorted(r.Resources), sorted(r.Verbs), sorted(r.ResourceNames), sorted(r.NonResourceURLs)))
	}
	return keys
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

// TestNoWildcards checks least privilege: no rule of any role the chart renders, or of the generated
// role, names "*" for a group, resource, verb, name or URL.
func TestNoWildcards(t *testing.T) {
	generated := generatedRole(t)
	sources := map[string][]rbacv1.PolicyRule{"config/rbac/role.yaml": generated.Rules}
	for _, objects := range []objectList{
		render(t, nil, defaultRelease, defaultNamespace),
		render(t, customValues(), customRelease, customNamespace),
	} {
		for _, u := range objects {
			switch u.GetKind() {
			case "ClusterRole":
				sources["ClusterRole "+u.GetName()] = as[rbacv1.ClusterRole](t, u).Rules
			case "Role":
				sources["Role "+u.GetName()] = as[rbacv1.Role](t, u).Rules
			}
		}
	}
	if len(sources) < 7 {
		t.Fatalf("found only %d roles to check", len(sources))
	}
	for source, rules := range sources {
		if len(rules) == 0 {
			t.Errorf("%s has no rules", source)
		}
		for _, r := range rules {
			for _, list := range [][]string{r.APIGroups, r.Resources, r.Verbs, r.ResourceNames, r.NonResourceURLs} {
				for _, item := range list {
					if strings.Contains(item, "*") {
						t.Errorf("%s: rule %v uses a wildcard", source, r)
					}
				}
			}
		}
	}
}

// TestUpdateOnlyWhereTheManagerUpdates checks least privilege in the verbs: meshkeeper writes every
// object by server-side apply (patch, and create for an apply that creates), so the manager's role grants
// update only on what it does write with update: Helm's release records (Secrets, replaced whole when a
// record is marked superseded or deployed) and the ServiceMesh's finalizers subresource (which the
// OwnerReferencesPermissionEnforcement admission plugin checks for blockOwnerDeletion).
func TestUpdateOnlyWhereTheManagerUpdates(t *testing.T) {
	generated := generatedRole(t)
	objects := render(t, nil, defaultRelease, defaultNamespace)
	sources := map[string][]rbacv1.PolicyRule{
		"config/rbac/role.yaml":   generated.Rules,
		"the chart's ClusterRole": as[rbacv1.ClusterRole](t, objects.get(t, "ClusterRole", objects.fullname()+"-manager")).Rules,
	}
	want := []string{"/secrets", "mesh.meshkeeper.io/servicemeshes/finalizers"}
	for source, rules := range sources {
		var got []string
		for _, r := range rules {
			if !slices.Contains(r.Verbs, "update") {
				continue
			}
			for _, group := range r.APIGroups {
				for _, resource := range r.Resources {
					got = append(got, group+"/"+resource)
				}
			}
		}
		if slices.Sort(got); !slices.Equal(got, want) {
			t.Errorf("%s grants update on %v, want only on %v (every other write is a server-side apply)", source, got, want)
		}
	}
}

// TestEveryRuleSaysWhy checks that each RBAC rule in the chart's templates has a comment just above it
// saying why meshkeeper needs it.
func TestEveryRuleSaysWhy(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "templates", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	rules := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		inRules := false
		for i, line := range lines {
			switch {
			case line == "rules:":
				inRules = true
			case inRules && strings.HasPrefix(line, "- "):
				rules++
				if i == 0 || !strings.HasPrefix(lines[i-1], "#") {
					t.Errorf("%s:%d: rule %q has no comment saying why", filepath.Base(file), i+1, line)
				}
			case inRules && line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "#"):
				inRules = false
			}
		}
	}
	if rules < 20 {
		t.Errorf("found %d rules in the templates, expected the manager's, leader election's, metrics' and the aggregated roles'", rules)
	}
}

// TestCRDsMatchGenerated is the single-source check of the CRD: the chart's crds/ holds exactly the
// files controller-gen generates into config/crd/bases, byte for byte (`make manifests` copies them).
func TestCRDsMatchGenerated(t *testing.T) {
	basesDir := filepath.Join(testenv.RepoRoot(), "config", "crd", "bases")
	bases, err := filepath.Glob(filepath.Join(basesDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bases) == 0 {
		t.Fatal("config/crd/bases has no CRDs")
	}
	chart := loadChart(t)
	inChart := map[string][]byte{}
	for _, crd := range chart.CRDObjects() {
		inChart[filepath.Base(crd.Name)] = crd.File.Data
	}
	for _, path := range bases {
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(path)
		got, ok := inChart[name]
		switch {
		case !ok:
			t.Errorf("charts/meshkeeper/crds lacks %s: run `make manifests`", name)
		case !bytes.Equal(got, want):
			t.Errorf("charts/meshkeeper/crds/%s differs from config/crd/bases/%s: run `make manifests`", name, name)
		}
		delete(inChart, name)
	}
	for name := range inChart {
		t.Errorf("charts/meshkeeper/crds/%s is not in config/crd/bases: run `make manifests`", name)
	}
}

// TestNotes checks that NOTES.txt tells how to create the mesh and wait for it.
func TestNotes(t *testing.T) {
	chart := loadChart(t)
	values, err := util.ToRenderValues(chart, nil,
		common.ReleaseOptions{Name: defaultRelease, Namespace: defaultNamespace, IsInstall: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(chart, values)
	if err != nil {
		t.Fatal(err)
	}
	notes := files["meshkeeper/templates/NOTES.txt"]
	for _, want := range []string{
		"kubectl apply -f config/samples/mesh_v1alpha1_servicemesh.yaml",
		"kubectl wait --for=condition=Ready servicemesh/default",
		"kubectl -n meshkeeper-system logs deployment/meshkeeper",
	} {
		if !strings.Contains(notes, want) {
			t.Errorf("NOTES.txt lacks %q:\n%s", want, notes)
		}
	}
}

// assertRestricted checks the Pod Security Standard "restricted" fields on the pod and every container.
func assertRestricted(t *testing.T, pod *corev1.PodSpec) {
	t.Helper()
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Errorf("pod securityContext.runAsNonRoot must be true: %+v", psc)
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext.seccompProfile must be RuntimeDefault: %+v", psc)
	}
	if pod.HostNetwork || pod.HostPID || pod.HostIPC {
		t.Error("the pod must not share the host's namespaces")
	}
	if len(pod.Containers) == 0 {
		t.Fatal("the pod has no containers")
	}
	for _, c := range slices.Concat(pod.InitContainers, pod.Containers) {
		sc := c.SecurityContext
		if sc == nil {
			t.Errorf("container %s has no securityContext", c.Name)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation must be false", c.Name)
		}
		if sc.Privileged != nil && *sc.Privileged {
			t.Errorf("container %s is privileged", c.Name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) > 0 {
			t.Errorf("container %s: capabilities must drop ALL and add none: %+v", c.Name, sc.Capabilities)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem must be true", c.Name)
		}
		tmp := slices.IndexFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return m.MountPath == "/tmp" })
		if tmp < 0 {
			t.Errorf("container %s has no writable /tmp", c.Name)
			continue
		}
		volume := slices.IndexFunc(pod.Volumes, func(v corev1.Volume) bool { return v.Name == c.VolumeMounts[tmp].Name })
		if volume < 0 || pod.Volumes[volume].EmptyDir == nil {
			t.Errorf("container %s: /tmp must be an emptyDir", c.Name)
		}
	}
	for _, v := range pod.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
}

// assertWiring checks what makes the Deployment work with the rest of the chart: its ServiceAccount,
// selectors, probes on 8081 and HTTPS metrics on 8443 behind the metrics Service.
func assertWiring(t *testing.T, objects objectList, deploy *appsv1.Deployment, fullname string) {
	t.Helper()
	pod := deploy.Spec.Template
	if !selects(deploy.Spec.Selector.MatchLabels, pod.Labels) {
		t.Errorf("the Deployment's selector %v does not select its pods %v", deploy.Spec.Selector.MatchLabels, pod.Labels)
	}
	// The manager must start while istiod is down (it is what repairs istiod), also when the mesh
	// enrolls its namespace: Istio's injector, whose webhook fails closed, never sees its pods.
	if pod.Labels["sidecar.istio.io/inject"] != "false" {
		t.Errorf("the manager's pods are labelled %v: want sidecar.istio.io/inject=false", pod.Labels)
	}
	if pod.Spec.ServiceAccountName != fullname {
		t.Errorf("serviceAccountName %q", pod.Spec.ServiceAccountName)
	}
	objects.get(t, "ServiceAccount", fullname)
	manager := container(t, deploy, "manager")
	for _, arg := range []string{"--health-probe-bind-address=:8081", "--metrics-bind-address=:8443", "--metrics-secure=true"} {
		if !slices.Contains(manager.Args, arg) {
			t.Errorf("args %v lack %s", manager.Args, arg)
		}
	}
	ports := map[string]int32{}
	for _, p := range manager.Ports {
		ports[p.Name] = p.ContainerPort
	}
	if ports["health"] != 8081 || ports["https-metrics"] != 8443 {
		t.Errorf("container ports %v: want health 8081 and https-metrics 8443", ports)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", manager.LivenessProbe, "/healthz"}, {"readiness", manager.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path ||
			p.probe.HTTPGet.Port != intstr.FromString("health") {
			t.Errorf("%s probe %+v: want GET %s on the health port", p.name, p.probe, p.path)
		}
	}

	service := as[corev1.Service](t, objects.get(t, "Service", fullname+"-metrics"))
	if !selects(service.Spec.Selector, pod.Labels) {
		t.Errorf("the metrics Service selects %v, not the manager's pods %v", service.Spec.Selector, pod.Labels)
	}
	if len(service.Spec.Ports) != 1 || service.Spec.Ports[0].Port != 8443 || service.Spec.Ports[0].Name != "https-metrics" ||
		service.Spec.Ports[0].TargetPort != intstr.FromString("https-metrics") {
		t.Errorf("metrics Service ports %+v: want https-metrics 8443", service.Spec.Ports)
	}
}

func container(t *testing.T, deploy *appsv1.Deployment, name string) *corev1.Container {
	t.Helper()
	for i := range deploy.Spec.Template.Spec.Containers {
		if c := &deploy.Spec.Template.Spec.Containers[i]; c.Name == name {
			return c
		}
	}
	t.Fatalf("the Deployment has no container %s", name)
	return nil
}

// assertGrants checks that rules grant every verb on group/resource.
func assertGrants(t *testing.T, rules []rbacv1.PolicyRule, group, resource string, verbs ...string) {
	t.Helper()
	for _, verb := range verbs {
		if !slices.ContainsFunc(rules, func(r rbacv1.PolicyRule) bool {
			return slices.Contains(r.APIGroups, group) && slices.Contains(r.Resources, resource) && slices.Contains(r.Verbs, verb)
		}) {
			t.Errorf("no rule grants %s on %s in group %q", verb, resource, group)
		}
	}
}

// assertBoundTo checks that a binding of that name binds the role of the same name to the ServiceAccount.
func assertBoundTo(t *testing.T, objects objectList, kind, name, roleKind, namespace, serviceAccount string) {
	t.Helper()
	u := objects.get(t, kind, name)
	var roleRef rbacv1.RoleRef
	var subjects []rbacv1.Subject
	if kind == "RoleBinding" {
		b := as[rbacv1.RoleBinding](t, u)
		roleRef, subjects = b.RoleRef, b.Subjects
	} else {
		b := as[rbacv1.ClusterRoleBinding](t, u)
		roleRef, subjects = b.RoleRef, b.Subjects
	}
	if roleRef.Kind != roleKind || roleRef.Name != name {
		t.Errorf("%s %s refers to %s %s", kind, name, roleRef.Kind, roleRef.Name)
	}
	objects.get(t, roleKind, roleRef.Name)
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: serviceAccount, Namespace: namespace}}
	if !slices.Equal(subjects, want) {
		t.Errorf("%s %s binds %v, want %v", kind, name, subjects, want)
	}
}

// selects reports whether labels carry every key and value of selector (an empty selector selects nothing
// here, since every selector of the chart must name its target).
func selects(selector, labels map[string]string) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func namespaced(kind string) bool {
	switch kind {
	case "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Namespace", "PriorityClass":
		return false
	}
	return true
}
