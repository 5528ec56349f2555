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
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// These tests hold the edges of the chart guard's rules, each where a guard that checked a little less
// would let a chart gain rights: a binding to a role the release does not render, a CRD of another API
// group, a role with every verb on what grants escalate, bind or impersonate, an image of another hub,
// a variable that moves istiod's trust.

// checkGuardImageCases is checkGuardCases with the images checked against the default image hubs, as
// meshkeeper checks every release.
func checkGuardImageCases(t *testing.T, rule string, cases []guardCase) {
	t.Helper()
	checkGuardChartCases(t, "c", rule, cases)
}

// checkGuardChartCases is checkGuardImageCases for the releases of chart.
func checkGuardChartCases(t *testing.T, chart, rule string, cases []guardCase) {
	t.Helper()
	checkGuardReleaseCases(t, chart, charts.Policy{}.CheckImage, rule, cases)
}

// A Role and a ClusterRole of one name are two roles: a release that renders a Role admin does not
// render the ClusterRole admin, which a binding would then grant across the cluster or a namespace.
func TestGuardRefusesABindingToAClusterRoleNamedLikeTheReleasesRole(t *testing.T) {
	sa := serviceAccountSubject(guardNamespace, "agent")
	checkGuardCases(t, ruleBinding, []guardCase{
		{"the ClusterRole admin beside a Role admin", role("admin", readPods) +
			binding("ClusterRoleBinding", "", "take-over", "ClusterRole", "admin", sa),
			"ClusterRoleBinding take-over, which grants ClusterRole admin, which the release does not render"},
		{"the ClusterRole admin in the namespace beside a Role admin", role("admin", readPods) +
			binding("RoleBinding", "", "b", "ClusterRole", "admin", sa),
			"RoleBinding istio-system/b, which grants ClusterRole admin, which the release does not render"},
		{"a Role named like the release's ClusterRole", clusterRole("reader", readPods) +
			binding("RoleBinding", "", "b", "Role", "reader", sa),
			"RoleBinding istio-system/b, which grants Role reader, which the release does not render in namespace istio-system"},
		{"a role of another kind", clusterRole("reader", readPods) + role("reader", readPods) +
			binding("RoleBinding", "", "b", "Group", "reader", sa), `RoleBinding istio-system/b, which grants a role of kind "Group"`},
	})
}

// Only API groups that end in .istio.io are Istio's: not one that has it in the middle, nor one that
// ends in istio.io without the dot.
func TestGuardRefusesACRDOfAGroupThatOnlyLooksLikeIstios(t *testing.T) {
	crd := func(group string) string {
		return yamlObject("apiextensions.k8s.io/v1", "CustomResourceDefinition", "", "widgets."+group, "spec:\n  group: "+group+"\n")
	}
	checkGuardCases(t, ruleKind, []guardCase{
		{"a group of istio.io", crd("security.istio.io"), ""},
		{"istio.io in the middle", crd("networking.istio.io.example.com"), `defines API group "networking.istio.io.example.com", not one of istio.io`},
		{"a domain ending in istio.io", crd("notistio.io"), `defines API group "notistio.io", not one of istio.io`},
		{"istio.io itself", crd("istio.io"), `defines API group "istio.io", not one of istio.io`},
	})
}

// The verb * on any resource escalate, bind or impersonate apply to grants those verbs; every one of
// them is refused, whatever else the rule names and however its names are written.
func TestGuardRefusesEveryVerbOnEachResourceThatGrantsEscalation(t *testing.T) {
	rule := func(resources, verbs string) string {
		return "- apiGroups: [\"*\"]\n  resources: " + resources + "\n  verbs: " + verbs + "\n"
	}
	var cases []guardCase
	for _, resource := range []string{"roles", "clusterroles", "users", "groups", "serviceaccounts", "uids", "userextras"} {
		cases = append(cases, guardCase{"every verb on " + resource, clusterRole("r", rule("[pods, "+resource+"]", "[get, \"*\"]")),
			"ClusterRole r, which grants every verb (*) on " + resource + ", which includes " + escalatingResources[resource]})
	}
	cases = append(cases,
		guardCase{"every verb on a subresource of roles", role("r", rule("[roles/status]", "[\"*\"]")),
			"Role istio-system/r, which grants every verb (*) on roles/status, which includes escalate and bind"},
		guardCase{"escalate in upper case", clusterRole("r", rule("[clusterroles]", "[ESCALATE]")), "ClusterRole r, which grants the verb ESCALATE"},
		guardCase{"impersonate in mixed case", clusterRole("r", rule("[users]", "[Impersonate]")), "ClusterRole r, which grants the verb Impersonate"},
		guardCase{"every verb on roles in mixed case", clusterRole("r", rule("[ClusterRoles]", "[\"*\"]")),
			"grants every verb (*) on ClusterRoles, which includes escalate and bind"},
		guardCase{"every verb on serviceaccounts' tokens is refused too", clusterRole("r", rule("[serviceaccounts/token]", "[\"*\"]")),
			"grants every verb (*) on serviceaccounts/token, which includes impersonate"},
		guardCase{"every verb on pods and secrets", clusterRole("r", rule("[pods, secrets]", "[\"*\"]")), ""},
	)
	checkGuardCases(t, ruleRole, cases)
}

// A workload pulls only from the allowed hubs in each of its containers and init containers, in a
// Deployment and a DaemonSet, whatever its environment holds.
func TestGuardRefusesAnImageOfAnotherHub(t *testing.T) {
	workload := func(kind, podSpec string) string {
		return ownAccount + yamlObject("apps/v1", kind, guardNamespace, "w", "spec:\n  template:\n    spec:\n"+runsAsOwnAccount+podSpec)
	}
	container := func(field, name, image, env string) string {
		return "      " + field + ":\n      - name: " + name + "\n        image: " + image + "\n" + env
	}
	const pilot = "docker.io/istio/pilot:1.31.1"
	const env = "        env:\n        - name: PILOT_PUSH_THROTTLE\n          value: \"100\"\n"
	checkGuardImageCases(t, ruleImage, []guardCase{
		{"Istio's images", workload("Deployment", container("initContainers", "init", "gcr.io/istio-release/proxyv2:1.31.1", "")+
			container("containers", "discovery", pilot, env)), ""},
		{"a container", workload("Deployment", container("containers", "discovery", "evil.example.com/miner:1", "")),
			`Deployment istio-system/w, which runs image "evil.example.com/miner:1" in container discovery`},
		{"a container with an environment", workload("Deployment", container("containers", "discovery", "evil.example.com/miner:1", env)),
			`runs image "evil.example.com/miner:1" in container discovery`},
		{"an init container", workload("DaemonSet", container("initContainers", "init", "evil.example.com/miner:1", "")+
			container("containers", "install-cni", "ghcr.io/istio/install-cni:1.31.1", "")),
			`DaemonSet istio-system/w, which runs image "evil.example.com/miner:1" in container init`},
		{"the second container", workload("Deployment", container("containers", "discovery", pilot, "")+
			"      - name: sidecar\n        image: busybox:1.36\n"),
			`runs image "busybox:1.36" in container sidecar`},
		{"a container without an image", workload("Deployment", "      containers:\n      - name: discovery\n"),
			`runs image "" in container discovery`},
	})
}

// EXTERNAL_ISTIOD is refused however it is set: with any value, with none, or from a ConfigMap.
func TestGuardRefusesExternalIstiodSetAnyWay(t *testing.T) {
	deployment := func(env string) string {
		return yamlObject("apps/v1", "Deployment", guardNamespace, "istiod",
			"spec:\n  template:\n    spec:\n      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.31.1\n        env:\n"+env)
	}
	checkGuardCases(t, ruleEnv, []guardCase{
		{"from a ConfigMap", deployment("        - name: EXTERNAL_ISTIOD\n          valueFrom:\n            configMapKeyRef: {name: c, key: k}\n"),
			"Deployment istio-system/istiod, which sets EXTERNAL_ISTIOD in container discovery"},
		{"empty", deployment("        - name: EXTERNAL_ISTIOD\n          value: \"\"\n"), "sets EXTERNAL_ISTIOD in container discovery"},
		{"false", deployment("        - name: EXTERNAL_ISTIOD\n          value: \"false\"\n"), "sets EXTERNAL_ISTIOD in container discovery"},
		{"in an init container", yamlObject("apps/v1", "Deployment", guardNamespace, "istiod",
			"spec:\n  template:\n    spec:\n      initContainers:\n      - name: init\n        image: docker.io/istio/pilot:1.31.1\n"+
				"        env:\n        - name: EXTERNAL_ISTIOD\n          value: \"true\"\n"), "sets EXTERNAL_ISTIOD in container init"},
	})
}

// CA_TRUSTED_NODE_ACCOUNTS names one ServiceAccount of the release namespace, not one of a namespace
// that only starts like it.
func TestGuardRefusesTrustedNodeAccountsOfANamespaceThatOnlyStartsLikeTheRelease(t *testing.T) {
	deployment := func(value string) string {
		return yamlObject("apps/v1", "Deployment", guardNamespace, "istiod",
			"spec:\n  template:\n    spec:\n      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.31.1\n"+
				"        env:\n        - name: CA_TRUSTED_NODE_ACCOUNTS\n          value: "+value+"\n")
	}
	checkGuardCases(t, ruleEnv, []guardCase{
		{"a longer namespace", deployment("istio-system-2/ztunnel"), `sets CA_TRUSTED_NODE_ACCOUNTS to "istio-system-2/ztunnel"`},
		{"the namespace alone", deployment("istio-system/"), `sets CA_TRUSTED_NODE_ACCOUNTS to "istio-system/"`},
		{"no namespace", deployment("ztunnel"), `sets CA_TRUSTED_NODE_ACCOUNTS to "ztunnel"`},
		{"the namespace run into a name", deployment("istio-systemztunnel"), `sets CA_TRUSTED_NODE_ACCOUNTS to "istio-systemztunnel"`},
		{"a value and a value from elsewhere", deployment("istio-system/ztunnel\n          valueFrom:\n            configMapKeyRef: {name: c, key: k}"),
			`sets CA_TRUSTED_NODE_ACCOUNTS to "istio-system/ztunnel"`},
	})
}
