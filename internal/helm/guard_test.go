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

package helm

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

const guardNamespace = "istio-system"

// guardCase is a release's objects, as YAML, and the refusal the guard must give them: "" when it must
// accept them, else text its error must hold (the refused object and why).
type guardCase struct {
	name    string
	objects string
	refused string
}

func checkGuardCases(t *testing.T, rule string, cases []guardCase) {
	t.Helper()
	checkGuardReleaseCases(t, "c", nil, rule, cases)
}

// checkGuardReleaseCases checks each case as a release of chart whose images checkImage checks (nil:
// none), as checkGuardCases says.
func checkGuardReleaseCases(t *testing.T, chart string, checkImage func(string) error, rule string, cases []guardCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			objects, err := decodeManifest([]byte(tc.objects))
			if err != nil {
				t.Fatal(err)
			}
			err = guardObjects(chart, guardNamespace, objects, checkImage)
			switch {
			case tc.refused == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.refused == "":
				return
			case err == nil:
				t.Fatalf("accepted; want %q refused", tc.refused)
			case !errors.Is(err, ErrRefusedObject):
				t.Errorf("the error does not wrap ErrRefusedObject: %v", err)
			}
			for _, want := range []string{tc.refused, "(rule: " + rule + ")", "chart " + chart + " renders ", "meshkeeper applies nothing of the release"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error does not say %q:\n%v", want, err)
				}
			}
		})
	}
}

func yamlObject(apiVersion, kind, namespace, name, rest string) string {
	doc := "---\napiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n"
	if namespace != "" {
		doc += "  namespace: " + namespace + "\n"
	}
	return doc + rest
}

func clusterRole(name, rules string) string {
	return yamlObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", name, "rules:\n"+rules)
}

func role(name, rules string) string {
	return yamlObject("rbac.authorization.k8s.io/v1", "Role", guardNamespace, name, "rules:\n"+rules)
}

func binding(kind, namespace, name, roleKind, roleName, subjects string) string {
	return yamlObject("rbac.authorization.k8s.io/v1", kind, namespace, name,
		"roleRef:\n  apiGroup: rbac.authorization.k8s.io\n  kind: "+roleKind+"\n  name: "+roleName+"\nsubjects:\n"+subjects)
}

func serviceAccountSubject(namespace, name string) string {
	s := "- kind: ServiceAccount\n  name: " + name + "\n"
	if namespace != "" {
		s += "  namespace: " + namespace + "\n"
	}
	return s
}

// ownAccount is a ServiceAccount the release renders, and runsAsOwnAccount the pod-spec line that runs a
// workload's pods as it (rulePod).
var ownAccount = yamlObject("v1", "ServiceAccount", guardNamespace, "istiod", "")

const runsAsOwnAccount = "      serviceAccountName: istiod\n"

const readPods = "- apiGroups: [\"\"]\n  resources: [pods]\n  verbs: [get, list, watch]\n"

// TestGuardKeepsObjectsInTheReleaseNamespace: rule 1, a namespaced object only in the release namespace
// (one without a namespace is applied there), and a cluster-scoped one names none.
func TestGuardKeepsObjectsInTheReleaseNamespace(t *testing.T) {
	checkGuardCases(t, ruleNamespace, []guardCase{
		{"in the release namespace", yamlObject("v1", "ConfigMap", guardNamespace, "a", ""), ""},
		{"without a namespace", yamlObject("v1", "ConfigMap", "", "a", "") + ownAccount +
			yamlObject("apps/v1", "Deployment", "", "d", "spec:\n  template:\n    spec:\n"+runsAsOwnAccount), ""},
		{"in kube-system", yamlObject("v1", "ServiceAccount", "kube-system", "a", ""),
			"ServiceAccount kube-system/a, which is outside the release namespace istio-system"},
		{"in another namespace", yamlObject("v1", "ConfigMap", guardNamespace, "ok", "") + yamlObject("apps/v1", "DaemonSet", "team-a", "d", ""),
			"DaemonSet team-a/d, which is outside the release namespace"},
		{"a cluster-scoped object with a namespace", yamlObject("rbac.authorization.k8s.io/v1", "ClusterRole", "team-a", "r", "rules:\n"+readPods),
			"ClusterRole team-a/r, which is cluster-scoped but names namespace team-a"},
	})
}

// TestGuardAllowsOnlyTheChartsKinds: rule 2, only the kinds Istio's charts render, and CRDs only of
// istio.io API groups.
func TestGuardAllowsOnlyTheChartsKinds(t *testing.T) {
	checkGuardCases(t, ruleKind, []guardCase{
		{"the kinds of the charts", yamlObject("v1", "Service", "", "s", "") + yamlObject("autoscaling/v2", "HorizontalPodAutoscaler", "", "h", "") +
			yamlObject("policy/v1", "PodDisruptionBudget", "", "p", "") + yamlObject("networking.k8s.io/v1", "NetworkPolicy", "", "n", "") +
			yamlObject("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "", "v", "spec: {}\n"), ""},
		{"an Istio CRD", yamlObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "sidecars.networking.istio.io",
			"spec:\n  group: networking.istio.io\n"), ""},
		{"a Pod", yamlObject("v1", "Pod", "", "p", ""), "Pod p, which is of a kind (Pod) Istio's charts do not render"},
		{"a Job", yamlObject("batch/v1", "Job", "", "j", ""), "Job j, which is of a kind (Job.batch) Istio's charts do not render"},
		{"a Secret", yamlObject("v1", "Secret", guardNamespace, "s", ""), "Secret istio-system/s, which is of a kind (Secret)"},
		{"a Namespace", yamlObject("v1", "Namespace", "", "mesh", ""), "Namespace mesh, which is of a kind (Namespace)"},
		{"an Istio resource", yamlObject("networking.istio.io/v1alpha3", "EnvoyFilter", guardNamespace, "e", ""),
			"EnvoyFilter istio-system/e, which is of a kind (EnvoyFilter.networking.istio.io)"},
		{"a kind of the charts in another group", yamlObject("example.com/v1", "Deployment", "", "d", ""),
			"Deployment d, which is of a kind (Deployment.example.com)"},
		{"a CRD of another group", yamlObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets.example.com",
			"spec:\n  group: example.com\n"), `CustomResourceDefinition widgets.example.com, which defines API group "example.com", not one of istio.io`},
		{"a CRD of a group that only starts like Istio's", yamlObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "a.istio.io.example.com",
			"spec:\n  group: istio.io.example.com\n"), `defines API group "istio.io.example.com"`},
	})
}

// TestGuardBindsOnlyTheReleasesRoles: rule 3, a binding grants only a role of its own release, and only
// to ServiceAccounts of the release namespace.
func TestGuardBindsOnlyTheReleasesRoles(t *testing.T) {
	sa := serviceAccountSubject(guardNamespace, "agent")
	checkGuardCases(t, ruleBinding, []guardCase{
		{"its own ClusterRole", clusterRole("reader", readPods) + binding("ClusterRoleBinding", "", "reader", "ClusterRole", "reader", sa), ""},
		{"its own Role and ClusterRole in the namespace", role("local", readPods) + clusterRole("reader", readPods) +
			binding("RoleBinding", "", "local", "Role", "local", serviceAccountSubject("", "agent")) +
			binding("RoleBinding", guardNamespace, "reader", "ClusterRole", "reader", sa), ""},
		{"another release's ServiceAccount of the namespace", clusterRole("reader", readPods) +
			binding("ClusterRoleBinding", "", "reader", "ClusterRole", "reader", serviceAccountSubject(guardNamespace, "istio-reader-service-account")), ""},
		{"cluster-admin", binding("ClusterRoleBinding", "", "take-over", "ClusterRole", "cluster-admin", sa),
			"ClusterRoleBinding take-over, which grants ClusterRole cluster-admin, which the release does not render"},
		{"admin in the namespace", binding("RoleBinding", "", "b", "ClusterRole", "admin", sa),
			"RoleBinding istio-system/b, which grants ClusterRole admin, which the release does not render"},
		{"a system role", binding("ClusterRoleBinding", "", "b", "ClusterRole", "system:controller:clusterrole-aggregation-controller", sa),
			"grants ClusterRole system:controller:clusterrole-aggregation-controller, which the release does not render"},
		{"a Role the release does not render", role("local", readPods) + binding("RoleBinding", "", "b", "Role", "other", sa),
			"grants Role other, which the release does not render in namespace istio-system"},
		{"a Role from a ClusterRoleBinding", role("local", readPods) + binding("ClusterRoleBinding", "", "b", "Role", "local", sa),
			"grants Role local, which the release does not render"},
		{"a role of another API group", yamlObject("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "b",
			"roleRef:\n  apiGroup: example.com\n  kind: ClusterRole\n  name: reader\n") + clusterRole("reader", readPods),
			`grants a role of API group "example.com"`},
		{"a group", clusterRole("reader", readPods) + binding("ClusterRoleBinding", "", "b", "ClusterRole", "reader",
			"- kind: Group\n  apiGroup: rbac.authorization.k8s.io\n  name: system:authenticated\n"),
			`grants ClusterRole reader to Group "system:authenticated", not a ServiceAccount`},
		{"a user", clusterRole("reader", readPods) + binding("ClusterRoleBinding", "", "b", "ClusterRole", "reader",
			sa+"- kind: User\n  apiGroup: rbac.authorization.k8s.io\n  name: mallory\n"), `to User "mallory", not a ServiceAccount`},
		{"a ServiceAccount of another namespace", clusterRole("reader", readPods) + binding("ClusterRoleBinding", "", "b", "ClusterRole", "reader",
			serviceAccountSubject("kube-system", "default")), "grants ClusterRole reader to ServiceAccount kube-system/default, outside the release namespace"},
		{"a ServiceAccount of no namespace", clusterRole("reader", readPods) + binding("ClusterRoleBinding", "", "b", "ClusterRole", "reader",
			serviceAccountSubject("", "default")), "to ServiceAccount /default, outside the release namespace"},
		{"a binding that cannot be read", yamlObject("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "", "b", "subjects: everyone\n"),
			"ClusterRoleBinding b, which cannot be read as a ClusterRoleBinding"},
	})
}

// TestGuardRefusesEscalatingRoles: rule 3, a role grants neither escalate, bind nor impersonate, nor the
// verb * on every resource or on the resources those apply to, and takes no part in aggregation.
func TestGuardRefusesEscalatingRoles(t *testing.T) {
	rule := func(resources, verbs string) string {
		return "- apiGroups: [\"*\"]\n  resources: " + resources + "\n  verbs: " + verbs + "\n"
	}
	checkGuardCases(t, ruleRole, []guardCase{
		{"istiod's kinds of rules", clusterRole("istiod", "- apiGroups: [networking.istio.io, security.istio.io]\n  resources: [\"*\"]\n  verbs: [get, list, watch]\n"+
			rule("[ingresses/status]", "[\"*\"]")+
			rule("[secrets]", "[get, list, watch]")+rule("[mutatingwebhookconfigurations]", "[get, update, patch]")) +
			role("istiod", rule("[secrets]", "[create, get, update, delete]")), ""},
		{"non-resource URLs", clusterRole("r", "- nonResourceURLs: [\"*\"]\n  verbs: [\"*\"]\n"), ""},
		{"every verb on every resource", clusterRole("r", readPods+rule("[\"*\"]", "[\"*\"]")),
			`ClusterRole r, which grants every verb (*) on resources "*"`},
		{"every verb on every resource in the namespace", role("r", rule("[\"*\"]", "[\"*\"]")),
			`Role istio-system/r, which grants every verb (*) on resources "*"`},
		{"every verb on every subresource", clusterRole("r", rule("[\"*/scale\"]", "[\"*\"]")), `grants every verb (*) on resources "*/scale"`},
		{"escalate", clusterRole("r", rule("[clusterroles]", "[escalate]")), "ClusterRole r, which grants the verb escalate"},
		{"bind", role("r", rule("[roles]", "[get, bind]")), "Role istio-system/r, which grants the verb bind"},
		{"impersonate", clusterRole("r", rule("[serviceaccounts]", "[impersonate]")), "grants the verb impersonate"},
		{"every verb on roles", clusterRole("r", rule("[clusterroles]", "[\"*\"]")),
			"grants every verb (*) on clusterroles, which includes escalate and bind"},
		{"every verb on users", clusterRole("r", rule("[users, groups]", "[\"*\"]")), "grants every verb (*) on users, which includes impersonate"},
		{"every verb on user extras", clusterRole("r", rule("[userextras/scopes]", "[\"*\"]")),
			"grants every verb (*) on userextras/scopes, which includes impersonate"},
		{"aggregation", yamlObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r",
			"aggregationRule:\n  clusterRoleSelectors:\n  - matchLabels:\n      kubernetes.io/bootstrapping: rbac-defaults\n"),
			"ClusterRole r, which aggregates the rules of other ClusterRoles"},
		{"aggregated into admin", yamlObject("rbac.authorization.k8s.io/v1", "ClusterRole", "", "r",
			"  labels:\n    rbac.authorization.k8s.io/aggregate-to-admin: \"true\"\nrules:\n"+readPods),
			"ClusterRole r, which adds its rules to other ClusterRoles (label rbac.authorization.k8s.io/aggregate-to-admin)"},
	})
}

// TestGuardKeepsAdmissionInTheRelease: rule 4, an admission webhook calls only a Service in the release
// namespace, and a policy binding binds only a policy of its own release.
func TestGuardKeepsAdmissionInTheRelease(t *testing.T) {
	webhook := func(kind, name, clientConfig string) string {
		return yamlObject("admissionregistration.k8s.io/v1", kind, "", name,
			"webhooks:\n- name: a.example.com\n  clientConfig:\n    service: {name: istiod, namespace: istio-system}\n"+
				"- name: b.example.com\n  clientConfig:\n"+clientConfig)
	}
	policy := yamlObject("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "", "stable", "spec: {}\n")
	policyBinding := func(name string) string {
		return yamlObject("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "", "stable-binding",
			"spec:\n  policyName: "+name+"\n")
	}
	checkGuardCases(t, ruleAdmission, []guardCase{
		{"Services in the release namespace", webhook("MutatingWebhookConfiguration", "injector", "    service: {name: istiod-1-31, namespace: istio-system}\n") +
			webhook("ValidatingWebhookConfiguration", "validator", "    service: {name: istiod, namespace: istio-system}\n"), ""},
		{"its own policy", policy + policyBinding("stable"), ""},
		{"a URL", webhook("ValidatingWebhookConfiguration", "v", "    url: https://collector.example.com/validate\n"),
			"ValidatingWebhookConfiguration v, which sends webhook b.example.com to a URL rather than a Service"},
		{"a Service in another namespace", webhook("MutatingWebhookConfiguration", "m", "    service: {name: api, namespace: team-a}\n"),
			"MutatingWebhookConfiguration m, which sends webhook b.example.com to Service team-a/api, outside the release namespace"},
		{"no Service", webhook("MutatingWebhookConfiguration", "m", "    caBundle: \"\"\n"), "names no Service for webhook b.example.com"},
		{"another policy", policy + policyBinding("someone-elses"),
			`ValidatingAdmissionPolicyBinding stable-binding, which binds ValidatingAdmissionPolicy "someone-elses", which the release does not render`},
	})
}

// TestGuardNamesTheFirstRefusals: the error names every refused object, up to maxRefusals, and counts
// the others.
func TestGuardNamesTheFirstRefusals(t *testing.T) {
	var manifest string
	for i := range maxRefusals + 2 {
		manifest += yamlObject("v1", "Pod", "", fmt.Sprintf("p%d", i), "")
	}
	objects, err := decodeManifest([]byte(manifest))
	if err != nil {
		t.Fatal(err)
	}
	err = guardObjects("c", guardNamespace, objects, nil)
	if err == nil {
		t.Fatal("accepted")
	}
	for i := range maxRefusals {
		if !strings.Contains(err.Error(), fmt.Sprintf("Pod p%d, which is of a kind (Pod)", i)) {
			t.Errorf("p%d is not named: %v", i, err)
		}
	}
	if !strings.Contains(err.Error(), "; and 2 more;") || strings.Contains(err.Error(), "p5") {
		t.Errorf("want the first %d named and 2 more counted: %v", maxRefusals, err)
	}
}

// builtinRelease is a release of a built-in chart as meshkeeper renders it.
type builtinRelease struct {
	name, chart, namespace string
	values                 map[string]any
}

// builtinReleases are the releases of the built-in charts with the values meshkeeper renders them with
// (internal/render and controllers/servicemesh): the base chart alone and with a default revision; istiod
// as the in-place release, as a revision, and as the release without a revision beside revisions (its
// webhooks left out); with autoscaling, without the CNI agent, with the values of spec.values that add
// objects; in another control-plane namespace; and the CNI agent beside istiod and in kube-system.
func builtinReleases(t *testing.T) []builtinRelease {
	t.Helper()
	rev := revision.Name(charts.BuiltinVersion)
	spec := func(namespace string, change func(*meshv1alpha1.ServiceMeshSpec)) *meshv1alpha1.ServiceMeshSpec {
		s := &meshv1alpha1.ServiceMeshSpec{Namespace: namespace, Images: meshv1alpha1.ImagesSpec{Hub: "docker.io/istio"}}
		if change != nil {
			change(s)
		}
		return s
	}
	istiod := func(s *meshv1alpha1.ServiceMeshSpec) map[string]any {
		values, err := render.IstiodValues(s, charts.BuiltinVersion)
		if err != nil {
			t.Fatal(err)
		}
		return values
	}
	plain := spec(guardNamespace, nil)
	autoscaled := spec(guardNamespace, func(s *meshv1alpha1.ServiceMeshSpec) {
		s.ControlPlane.Autoscaling = &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}
	})
	withoutCNI := spec(guardNamespace, func(s *meshv1alpha1.ServiceMeshSpec) {
		s.CNI.Enabled = ptr.To(false)
		s.ControlPlane.PodDisruptionBudget = ptr.To(false)
	})
	withValues := spec(guardNamespace, func(s *meshv1alpha1.ServiceMeshSpec) {
		s.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"networkPolicy": {"enabled": true}, "istiod": {"enableAnalysis": true}},
			"experimental": {"stableValidationPolicy": true}, "taint": {"enabled": true}, "jwksResolverExtraRootCA": "roots",
			"env": {"ENABLE_CLUSTER_TRUST_BUNDLE_API": true}, "gatewayClasses": {"istio": {"service": {"spec": {"type": "ClusterIP"}}}}}`)}
	})
	other := spec("mesh-a", nil)
	kubeSystem := spec(guardNamespace, func(s *meshv1alpha1.ServiceMeshSpec) { s.CNI.Namespace = "kube-system" })
	return []builtinRelease{
		{"istio-base", charts.Base, guardNamespace, render.BaseValues(plain)},
		{"istio-base with a default revision", charts.Base, guardNamespace,
			render.Merge(render.BaseValues(plain), render.Values{"defaultRevision": rev})},
		{"istiod", charts.Istiod, guardNamespace, istiod(plain)},
		{"istiod-" + rev, charts.Istiod, guardNamespace, render.Merge(istiod(plain), render.Values{"revision": rev})},
		{"istiod beside revisions", charts.Istiod, guardNamespace,
			render.Merge(istiod(plain), render.Values{"global": render.Values{"operatorManageWebhooks": true}})},
		{"istiod autoscaled", charts.Istiod, guardNamespace, istiod(autoscaled)},
		{"istiod without the CNI agent and disruption budget", charts.Istiod, guardNamespace, istiod(withoutCNI)},
		{"istiod with spec.values", charts.Istiod, guardNamespace, istiod(withValues)},
		{"istiod-" + rev + " with spec.values", charts.Istiod, guardNamespace,
			render.Merge(istiod(withValues), render.Values{"revision": rev})},
		{"istio-base in mesh-a", charts.Base, "mesh-a", render.BaseValues(other)},
		{"istiod in mesh-a", charts.Istiod, "mesh-a", istiod(other)},
		{"istiod-" + rev + " in mesh-a", charts.Istiod, "mesh-a", render.Merge(istiod(other), render.Values{"revision": rev})},
		{"istio-cni", charts.CNI, guardNamespace, render.CNIValues(plain, charts.BuiltinVersion)},
		{"istio-cni in kube-system", charts.CNI, "kube-system", render.CNIValues(kubeSystem, charts.BuiltinVersion)},
	}
}

// TestGuardAcceptsTheBuiltinCharts: every object the built-in base, istiod and cni charts render, with
// the values meshkeeper renders them with, as an install and as an upgrade, passes the guard unchanged; and
// together they render every kind the guard allows, so the list holds no kind the charts do not need.
func TestGuardAcceptsTheBuiltinCharts(t *testing.T) {
	loaded := map[string]*chartv2.Chart{}
	rendered := map[schema.GroupKind]bool{}
	for _, release := range builtinReleases(t) {
		t.Run(release.name, func(t *testing.T) {
			chart := loaded[release.chart]
			if chart == nil {
				var err error
				if chart, err = charts.Builtin(release.chart); err != nil {
					t.Fatal(err)
				}
				loaded[release.chart] = chart
			}
			for _, upgrade := range []bool{false, true} {
				options := common.ReleaseOptions{Name: "r", Namespace: release.namespace, Revision: 1, IsInstall: !upgrade, IsUpgrade: upgrade}
				objects, _, err := renderChart(context.Background(), chart, release.values, options, common.DefaultCapabilities)
				if err != nil {
					t.Fatal(err)
				}
				if len(objects) == 0 {
					t.Fatal("the chart renders nothing")
				}
				before := make([]map[string]any, len(objects))
				for i, obj := range objects {
					before[i] = obj.DeepCopy().Object
				}
				if err := guardObjects(chart.Name(), release.namespace, objects, charts.Policy{}.CheckImage); err != nil {
					t.Errorf("upgrade %t: %v", upgrade, err)
				}
				for i, obj := range objects {
					if !equality.Semantic.DeepEqual(before[i], obj.Object) {
						t.Errorf("the guard changed %s %s", obj.GetKind(), obj.GetName())
					}
				}
				for _, obj := range objects {
					rendered[obj.GroupVersionKind().GroupKind()] = true
				}
			}
		})
	}
	for kind := range allowedKinds {
		if !rendered[kind] {
			t.Errorf("the guard allows %s, which none of the built-in charts renders", kind)
		}
	}
}

// TestEveryRenderIsGuarded: the renders of an install, of an upgrade and of drift repair all refuse a
// chart whose objects the guard refuses, before they use the cluster for anything else.
func TestEveryRenderIsGuarded(t *testing.T) {
	chart := &chartv2.Chart{
		Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "take-over", Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/binding.yaml", Data: []byte(
			binding("ClusterRoleBinding", "", "agent-admin", "ClusterRole", "cluster-admin", serviceAccountSubject(guardNamespace, "agent")))}},
	}
	desired := Release{Name: "take-over", Namespace: guardNamespace, Chart: chart, Owner: Owner{UID: "uid-1"}}
	m := &ChartManager{} // no client: a render that passed the guard would fail
	renders := map[string]func() error{
		"install": func() error { _, err := m.render(context.Background(), desired, 1, false); return err },
		"upgrade": func() error { _, err := m.render(context.Background(), desired, 2, true); return err },
		"drift repair": func() error {
			_, err := m.renderedObjects(context.Background(), desired, "digest", Head{Version: 2})
			return err
		},
	}
	for name, render := range renders {
		err := func() (err error) {
			defer func() {
				if r := recover(); r != nil {
					err = fmt.Errorf("the render went on past the guard: %v", r)
				}
			}()
			return render()
		}()
		if !errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), "ClusterRoleBinding agent-admin, which grants ClusterRole cluster-admin") {
			t.Errorf("%s: want the binding refused, got %v", name, err)
		}
	}
	if len(m.manifests) != 0 {
		t.Error("drift repair kept the objects of a refused render")
	}
}

// TestGuardKeepsIstiodsTrust: rule 7, no container sets a variable twice (the last one wins), sets
// EXTERNAL_ISTIOD, or sets CA_TRUSTED_NODE_ACCOUNTS other than to the release namespace's ztunnel.
func TestGuardKeepsIstiodsTrust(t *testing.T) {
	deployment := func(env string) string {
		return ownAccount + yamlObject("apps/v1", "Deployment", guardNamespace, "istiod", "spec:\n  template:\n    spec:\n"+runsAsOwnAccount+
			"      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.31.1\n        env:\n"+env)
	}
	const trusted = "        - name: CA_TRUSTED_NODE_ACCOUNTS\n          value: istio-system/ztunnel\n"
	checkGuardCases(t, ruleEnv, []guardCase{
		{"the charts' own", deployment(trusted + "        - name: PILOT_PUSH_THROTTLE\n          value: \"100\"\n"), ""},
		{"a ztunnel of another name", deployment("        - name: CA_TRUSTED_NODE_ACCOUNTS\n          value: istio-system/zt\n"), ""},
		{"a variable twice", deployment(trusted + "        - name: CA_TRUSTED_NODE_ACCOUNTS\n          value: other/sa\n"),
			"Deployment istio-system/istiod, which sets CA_TRUSTED_NODE_ACCOUNTS twice in container discovery"},
		{"other trusted node accounts", deployment("        - name: CA_TRUSTED_NODE_ACCOUNTS\n          value: istio-system/ztunnel,other/sa\n"),
			`sets CA_TRUSTED_NODE_ACCOUNTS to "istio-system/ztunnel,other/sa" in container discovery`},
		{"trusted node accounts from elsewhere", deployment("        - name: CA_TRUSTED_NODE_ACCOUNTS\n          valueFrom:\n            configMapKeyRef: {name: c, key: k}\n"),
			`sets CA_TRUSTED_NODE_ACCOUNTS to "" in container discovery`},
		{"an external istiod", deployment(trusted + "        - name: EXTERNAL_ISTIOD\n          value: \"true\"\n"),
			"sets EXTERNAL_ISTIOD in container discovery"},
	})
}

// guardIstiodWith renders the built-in istiod chart with the values meshkeeper gives it and extra merged
// over them, as an install, and returns what the chart guard says of it.
func guardIstiodWith(t *testing.T, extra render.Values) error {
	t.Helper()
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	s := &meshv1alpha1.ServiceMeshSpec{Namespace: guardNamespace, Images: meshv1alpha1.ImagesSpec{Hub: "docker.io/istio"}}
	values, err := render.IstiodValues(s, charts.BuiltinVersion)
	if err != nil {
		t.Fatal(err)
	}
	options := common.ReleaseOptions{Name: "istiod", Namespace: guardNamespace, Revision: 1, IsInstall: true}
	objects, _, err := renderChart(context.Background(), chart, render.Merge(values, extra), options, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	return guardObjects(chart.Name(), guardNamespace, objects, charts.Policy{}.CheckImage)
}

// A value the istiod chart writes into istiod's environment unquoted can carry a variable of its own:
// the CRD cannot see it in spec.values, the guard sees it rendered.
func TestGuardRefusesAVariableSmuggledInAValue(t *testing.T) {
	err := guardIstiodWith(t, render.Values{"env": render.Values{
		"PILOT_ENABLE_STATUS": "true\"\n          - name: EXTERNAL_ISTIOD\n            value: \"true"}})
	if err == nil || !strings.Contains(err.Error(), "sets EXTERNAL_ISTIOD in container discovery") {
		t.Errorf("the guard let istiod's environment carry a variable smuggled in a value: %v", err)
	}
}

// A variable the istiod chart writes itself (PILOT_TRACE_SAMPLING, from traceSampling) set again in
// spec.values.env makes a container that server-side apply refuses; the guard says so, and what to set.
func TestGuardRefusesAVariableTheChartSetsItself(t *testing.T) {
	err := guardIstiodWith(t, render.Values{"env": render.Values{"PILOT_TRACE_SAMPLING": "0.5"}})
	if err == nil || !strings.Contains(err.Error(), "sets PILOT_TRACE_SAMPLING twice in container discovery") ||
		!strings.Contains(err.Error(), "through the chart's own value, not spec.values.env or envVarFrom") {
		t.Errorf("refusal = %v, want PILOT_TRACE_SAMPLING named twice, with what to set instead", err)
	}
}
