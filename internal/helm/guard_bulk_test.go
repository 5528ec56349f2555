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
	"errors"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// A container's envFrom is as much its environment as env is: istiod's trust variables set through it,
// from a ConfigMap the release renders (with or without a prefix), are refused like those set through
// env, and so is envFrom of anything whose content the guard cannot read (a Secret, a ConfigMap the
// release does not render). The built-in cni chart's envFrom of its own ConfigMap passes
// (TestGuardAcceptsTheBuiltinCharts).
func TestGuardRefusesTrustVariablesSetThroughEnvFrom(t *testing.T) {
	deployment := func(envFrom string) string {
		return ownAccount + yamlObject("apps/v1", "Deployment", guardNamespace, "istiod", "spec:\n  template:\n    spec:\n"+runsAsOwnAccount+
			"      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.31.1\n"+
			"        envFrom:\n"+envFrom)
	}
	trust := yamlObject("v1", "ConfigMap", guardNamespace, "trust", "data:\n  CA_TRUSTED_NODE_ACCOUNTS: team-a/attacker\n")
	external := yamlObject("v1", "ConfigMap", guardNamespace, "remote", "data:\n  EXTERNAL_ISTIOD: \"true\"\n")
	prefixed := yamlObject("v1", "ConfigMap", guardNamespace, "accounts", "data:\n  NODE_ACCOUNTS: team-a/attacker\n")
	elsewhere := yamlObject("v1", "ConfigMap", "team-a", "trust", "data:\n  LOG_LEVEL: debug\n")
	checkGuardCases(t, ruleEnv, []guardCase{
		{"CA_TRUSTED_NODE_ACCOUNTS from a ConfigMap of the release", trust + deployment("        - configMapRef: {name: trust}\n"),
			"sets CA_TRUSTED_NODE_ACCOUNTS through envFrom (ConfigMap trust) in container discovery"},
		{"EXTERNAL_ISTIOD from a ConfigMap of the release", external + deployment("        - configMapRef: {name: remote}\n"),
			"sets EXTERNAL_ISTIOD through envFrom (ConfigMap remote) in container discovery"},
		{"a prefix that makes the trust variable", prefixed + deployment("        - prefix: CA_TRUSTED_\n          configMapRef: {name: accounts}\n"),
			"sets CA_TRUSTED_NODE_ACCOUNTS through envFrom (ConfigMap accounts)"},
		{"a Secret", deployment("        - secretRef: {name: istiod-env}\n"),
			"takes variables (envFrom) in container discovery from something other than a ConfigMap the release renders"},
		{"a ConfigMap the release does not render", deployment("        - configMapRef: {name: someone-elses}\n"),
			"takes variables (envFrom) in container discovery from something other than a ConfigMap the release renders"},
	})
	// Refused in its own namespace only: a ConfigMap of that name in another namespace is none of the
	// release's (and is refused there by the namespace rule first).
	checkGuardCases(t, ruleNamespace, []guardCase{
		{"a ConfigMap of that name elsewhere", elsewhere + deployment("        - configMapRef: {name: trust}\n"), "team-a/trust"},
	})
	checkGuardCases(t, ruleEnv, []guardCase{
		{"other variables from a ConfigMap of the release",
			yamlObject("v1", "ConfigMap", guardNamespace, "settings", "data:\n  LOG_LEVEL: debug\n") +
				deployment("        - configMapRef: {name: settings}\n"), ""},
	})
}

// create on serviceaccounts/token (the TokenRequest API) gives a token of any ServiceAccount the role
// reaches, among them ones that hold escalate, bind or cluster-admin: it is impersonation by another
// name, and none of Istio's charts grants it.
func TestGuardRefusesARoleThatMintsServiceAccountTokens(t *testing.T) {
	bound := func(rules string) string {
		return clusterRole("minter", rules) +
			binding("ClusterRoleBinding", "", "minter", "ClusterRole", "minter", serviceAccountSubject(guardNamespace, "agent"))
	}
	checkGuardCases(t, ruleRole, []guardCase{
		{"create serviceaccounts/token", bound("- apiGroups: [\"\"]\n  resources: [serviceaccounts/token]\n  verbs: [create]\n"),
			"ClusterRole minter, which grants creating serviceaccounts/token"},
		{"create the token subresource of any resource", bound("- apiGroups: [\"\"]\n  resources: [\"*/token\"]\n  verbs: [create]\n"),
			"grants creating */token"},
		{"create every resource of the core group", bound("- apiGroups: [\"\"]\n  resources: [\"*\"]\n  verbs: [create]\n"),
			"grants creating *"},
		{"create in every API group", bound("- apiGroups: [\"*\"]\n  resources: [serviceaccounts/token]\n  verbs: [create]\n"),
			"grants creating serviceaccounts/token"},
		{"a Role in the namespace too", yamlObject("rbac.authorization.k8s.io/v1", "Role", guardNamespace, "minter",
			"rules:\n- apiGroups: [\"\"]\n  resources: [serviceaccounts/token]\n  verbs: [create]\n"), "grants creating serviceaccounts/token"},
		// What Istio's charts do grant stays allowed.
		{"ServiceAccounts themselves", bound("- apiGroups: [\"\"]\n  resources: [serviceaccounts]\n  verbs: [create, get]\n"), ""},
		{"reading tokens' reviews", bound("- apiGroups: [authentication.k8s.io]\n  resources: [tokenreviews]\n  verbs: [create]\n"), ""},
		{"every resource of another group", bound("- apiGroups: [networking.istio.io]\n  resources: [\"*\"]\n  verbs: [create]\n"), ""},
	})
}

// approve on the cluster's own signers (kubernetes.io/kube-apiserver-client signs client certificates
// the API server trusts for any user, system:masters included), or on every signer, which a rule naming
// none grants, lets whoever may create and approve certificate requests mint a certificate for any
// user. The istiod chart grants approve on the signers of global.certSigners, and on every signer when
// that list is empty while an external CA or a Kubernetes-signed istiod certificate is asked for.
func TestGuardRefusesARoleThatApprovesTheClustersSigners(t *testing.T) {
	bound := func(rules string) string {
		return clusterRole("approver", rules) +
			binding("ClusterRoleBinding", "", "approver", "ClusterRole", "approver", serviceAccountSubject(guardNamespace, "istiod"))
	}
	approve := func(group, resource, verb, names string) string {
		rule := "- apiGroups: [\"" + group + "\"]\n  resources: [\"" + resource + "\"]\n  verbs: [" + verb + "]\n"
		if names != "" {
			rule += "  resourceNames: [" + names + "]\n"
		}
		return bound(rule)
	}
	checkGuardCases(t, ruleRole, []guardCase{
		{"every signer", approve("certificates.k8s.io", "signers", "approve", ""),
			"ClusterRole approver, which grants approving certificate requests of every signer, which mints client certificates for any user"},
		{"the API server's client signer", approve("certificates.k8s.io", "signers", "approve", "kubernetes.io/kube-apiserver-client"),
			"grants approving certificate requests of signer kubernetes.io/kube-apiserver-client"},
		{"every signer of the cluster's domain", approve("certificates.k8s.io", "signers", "approve", "\"example.com/ca\", \"kubernetes.io/*\""),
			"of signer kubernetes.io/*"},
		{"every verb on signers", approve("certificates.k8s.io", "signers", "\"*\"", ""), "of every signer"},
		{"every resource of the group", approve("certificates.k8s.io", "*", "approve", ""), "of every signer"},
		{"every group", approve("*", "signers", "approve", "Kubernetes.io/legacy-unknown"), "of signer Kubernetes.io/legacy-unknown"},
		// What Istio's charts do grant stays allowed.
		{"an external CA's signer", approve("certificates.k8s.io", "signers", "approve", "clusterissuers.cert-manager.io/istio-ca"), ""},
		{"attesting istiod's own trust bundle", approve("certificates.k8s.io", "signers", "attest", "istio.io/istiod-ca"), ""},
		{"writing certificate requests", approve("certificates.k8s.io", "certificatesigningrequests/approval", "update", ""), ""},
	})
}

// The istiod chart asks for approve on every signer when an external CA is set without
// global.certSigners: refused, with what to set; with the external CA's signer named it passes.
func TestGuardRefusesIstiodApprovingEverySigner(t *testing.T) {
	err := guardIstiodWith(t, render.Values{"env": render.Values{"EXTERNAL_CA": "ISTIOD_RA_KUBERNETES_API"}})
	if !errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), "grants approving certificate requests of every signer") ||
		!strings.Contains(err.Error(), "spec.values.global.certSigners") {
		t.Errorf("the guard let istiod approve certificate requests of every signer: %v", err)
	}
	err = guardIstiodWith(t, render.Values{"env": render.Values{"EXTERNAL_CA": "ISTIOD_RA_KUBERNETES_API"},
		"global": render.Values{"certSigners": []any{"clusterissuers.cert-manager.io/istio-ca"}}})
	if err != nil {
		t.Errorf("the guard refused istiod with an external CA's signer named: %v", err)
	}
}

// Running a command in a pod (exec, attach, an ephemeral container) or on a node (the kubelet's API
// through nodes/proxy, whose get alone reaches its exec endpoint) reaches every ServiceAccount token
// mounted there, meshkeeper's own among them: none of Istio's roles grants it.
func TestGuardRefusesARoleThatEntersPodsOrNodes(t *testing.T) {
	rule := func(group, resources, verbs string) string {
		return clusterRole("enter", "- apiGroups: [\""+group+"\"]\n  resources: "+resources+"\n  verbs: "+verbs+"\n") +
			binding("ClusterRoleBinding", "", "enter", "ClusterRole", "enter", serviceAccountSubject(guardNamespace, "istiod"))
	}
	checkGuardCases(t, ruleRole, []guardCase{
		{"exec", rule("", "[pods/exec]", "[create]"), "ClusterRole enter, which grants create on pods/exec, which runs commands in pods or on nodes"},
		{"exec over a WebSocket", rule("", "[pods/exec]", "[get]"), "grants get on pods/exec"},
		{"attach", rule("", "[pods/attach]", "[create]"), "grants create on pods/attach"},
		{"an ephemeral container", rule("", "[pods/ephemeralcontainers]", "[patch]"), "grants patch on pods/ephemeralcontainers"},
		{"the kubelet's API", rule("", "[nodes/proxy]", "[get]"), "grants get on nodes/proxy"},
		{"the exec subresource of any resource", rule("", "[\"*/exec\"]", "[create]"), "grants create on */exec"},
		{"in every API group", rule("*", "[nodes/proxy]", "[get]"), "grants get on nodes/proxy"},
		{"reading every resource of the core group", rule("", "[\"*\"]", "[get, list]"), "grants get, list on every resource of the core group"},
		{"a Role in the namespace too", yamlObject("rbac.authorization.k8s.io/v1", "Role", guardNamespace, "enter",
			"rules:\n- apiGroups: [\"\"]\n  resources: [pods/exec]\n  verbs: [create]\n"), "Role istio-system/enter, which grants create on pods/exec"},
		// What Istio's charts do grant stays allowed.
		{"pods and nodes themselves", rule("", "[pods, nodes]", "[get, list, watch]"), ""},
		{"listing every resource of the core group", rule("", "[\"*\"]", "[list, watch]"), ""},
		{"the exec subresource of another group", rule("example.com", "[widgets/exec]", "[create]"), ""},
	})
}
