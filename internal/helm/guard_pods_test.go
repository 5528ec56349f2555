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

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// podWorkload is a workload of kind in the release namespace whose pod spec holds podSpec (indented as a
// pod spec's fields) and one container with the container fields in container.
func podWorkload(kind, podSpec, container string) string {
	return yamlObject("apps/v1", kind, guardNamespace, "istiod", "spec:\n  template:\n    spec:\n"+podSpec+
		"      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.31.1\n"+container)
}

// TestGuardKeepsWorkloadsOffTheNode: rule 7. A workload runs as a ServiceAccount its release renders
// (not the namespace's default one, nor another operator's in the same namespace, which could hold any
// rights), and only the CNI agent's chart renders a DaemonSet or a pod with the node's namespaces,
// files, ports or privileges: each of those owns the node and every pod on it.
func TestGuardKeepsWorkloadsOffTheNode(t *testing.T) {
	checkGuardCases(t, rulePod, []guardCase{
		{"the release's own account", ownAccount + podWorkload("Deployment", runsAsOwnAccount, ""), ""},
		{"the release's own account by the deprecated field", ownAccount + podWorkload("Deployment", "      serviceAccount: istiod\n", ""), ""},
		{"istiod's own settings", ownAccount + podWorkload("Deployment", runsAsOwnAccount+
			"      volumes:\n      - name: local-certs\n        emptyDir: {medium: Memory}\n",
			"        ports:\n        - containerPort: 15012\n        securityContext:\n          privileged: false\n"+
				"          capabilities:\n            drop: [ALL]\n            add: [NET_BIND_SERVICE]\n"), ""},
		{"the namespace's default account", ownAccount + podWorkload("Deployment", "", ""),
			"Deployment istio-system/istiod, which runs its pods as the namespace's default ServiceAccount, which the release does not render"},
		{"another account of the namespace", ownAccount + podWorkload("Deployment", "      serviceAccountName: meshkeeper-controller-manager\n", ""),
			"runs its pods as ServiceAccount meshkeeper-controller-manager, which the release does not render"},
		{"another account by the deprecated field", ownAccount + podWorkload("Deployment", "      serviceAccount: meshkeeper-controller-manager\n", ""),
			"runs its pods as ServiceAccount meshkeeper-controller-manager"},
		{"an account of that name elsewhere", yamlObject("v1", "ServiceAccount", "team-a", "istiod", "") +
			podWorkload("Deployment", "      serviceAccountName: istiod\n", ""),
			"runs its pods as ServiceAccount istiod, which the release does not render"},
		{"a DaemonSet", ownAccount + podWorkload("DaemonSet", runsAsOwnAccount, ""),
			"DaemonSet istio-system/istiod, which is a DaemonSet of a chart other than the CNI node agent's"},
		{"the host network", ownAccount + podWorkload("Deployment", runsAsOwnAccount+"      hostNetwork: true\n", ""), "sets hostNetwork"},
		{"the host's processes", ownAccount + podWorkload("Deployment", runsAsOwnAccount+"      hostPID: true\n", ""), "sets hostPID"},
		{"the host's IPC", ownAccount + podWorkload("Deployment", runsAsOwnAccount+"      hostIPC: true\n", ""), "sets hostIPC"},
		{"a hostPath volume", ownAccount + podWorkload("Deployment", runsAsOwnAccount+
			"      volumes:\n      - name: local-certs\n        emptyDir: {}\n      - name: root\n        hostPath: {path: /}\n", ""),
			"mounts hostPath volume root"},
		{"a host port", ownAccount + podWorkload("Deployment", runsAsOwnAccount, "        ports:\n        - containerPort: 15012\n          hostPort: 15012\n"),
			"opens host port 15012 in container discovery"},
		{"a privileged container", ownAccount + podWorkload("Deployment", runsAsOwnAccount, "        securityContext: {privileged: true}\n"),
			"runs container discovery privileged"},
		{"a privileged init container", ownAccount + podWorkload("Deployment", runsAsOwnAccount+
			"      initContainers:\n      - name: init\n        image: docker.io/istio/pilot:1.31.1\n        securityContext: {privileged: true}\n", ""),
			"runs container init privileged"},
		{"an added capability", ownAccount + podWorkload("Deployment", runsAsOwnAccount,
			"        securityContext:\n          capabilities:\n            add: [NET_BIND_SERVICE, SYS_ADMIN]\n"),
			"adds capability SYS_ADMIN to container discovery"},
		{"an added capability by its kernel name", ownAccount + podWorkload("Deployment", runsAsOwnAccount,
			"        securityContext:\n          capabilities:\n            add: [CAP_SYS_PTRACE]\n"),
			"adds capability CAP_SYS_PTRACE to container discovery"},
	})
}

// The CNI agent's chart may render a DaemonSet with the node's network, files and capabilities, as
// Istio's does; its workloads still run as its own ServiceAccounts, and a Deployment of it gets no more
// than any other chart's.
func TestGuardLeavesTheNodeToTheCNIAgentsDaemonSetAlone(t *testing.T) {
	if nodeAgentChart != charts.CNI {
		t.Fatalf("the guard takes chart %q for the CNI agent's, meshkeeper names it %q", nodeAgentChart, charts.CNI)
	}
	account := yamlObject("v1", "ServiceAccount", guardNamespace, "istio-cni", "")
	agent := func(kind, podSpec string) string {
		return account + yamlObject("apps/v1", kind, guardNamespace, "istio-cni-node", "spec:\n  template:\n    spec:\n"+podSpec+
			"      hostNetwork: true\n      volumes:\n      - name: cni-bin-dir\n        hostPath: {path: /opt/cni/bin}\n"+
			"      containers:\n      - name: install-cni\n        image: docker.io/istio/install-cni:1.31.1\n"+
			"        securityContext:\n          privileged: false\n          capabilities:\n            add: [NET_ADMIN, SYS_ADMIN]\n")
	}
	checkGuardChartCases(t, charts.CNI, rulePod, []guardCase{
		{"the agent's DaemonSet", agent("DaemonSet", "      serviceAccountName: istio-cni\n"), ""},
		{"the agent's DaemonSet as another account", agent("DaemonSet", "      serviceAccountName: kube-proxy\n"),
			"DaemonSet istio-system/istio-cni-node, which runs its pods as ServiceAccount kube-proxy, which the release does not render"},
		{"a Deployment of the agent's chart", agent("Deployment", "      serviceAccountName: istio-cni\n"),
			"Deployment istio-system/istio-cni-node, which sets hostNetwork"},
	})
}

// spec.values.volumes and volumeMounts go into istiod's pod as written: a hostPath volume there is
// refused before anything of the release is applied, as one of the chart's own would be.
func TestGuardRefusesAHostPathVolumeGivenInValues(t *testing.T) {
	err := guardIstiodWith(t, render.Values{
		"volumes":      []any{map[string]any{"name": "node-root", "hostPath": map[string]any{"path": "/"}}},
		"volumeMounts": []any{map[string]any{"name": "node-root", "mountPath": "/host"}},
	})
	if !errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), "Deployment istio-system/istiod, which mounts hostPath volume node-root") {
		t.Errorf("the guard let istiod mount the node's root: %v", err)
	}
}

// TestGuardKeepsServicesInsideTheCluster: rule 8. A Service of a release is a ClusterIP one without
// external IPs, as every Service of Istio's charts is: not a NodePort or LoadBalancer that opens
// istiod's plaintext ports outside the cluster, nor one that takes the cluster's traffic for any
// address it names (CVE-2020-8554).
func TestGuardKeepsServicesInsideTheCluster(t *testing.T) {
	service := func(spec string) string {
		return yamlObject("v1", "Service", guardNamespace, "istiod", "spec:\n  ports:\n  - port: 15010\n"+spec)
	}
	checkGuardCases(t, ruleService, []guardCase{
		{"istiod's", service("  selector: {app: istiod}\n"), ""},
		{"ClusterIP named", service("  type: ClusterIP\n  ipFamilyPolicy: PreferDualStack\n"), ""},
		{"headless", service("  clusterIP: None\n"), ""},
		{"a NodePort", service("  type: NodePort\n"), "Service istio-system/istiod, which is of type NodePort"},
		{"a LoadBalancer", service("  type: LoadBalancer\n"), "is of type LoadBalancer"},
		{"an external name", service("  type: ExternalName\n  externalName: istiod.example.com\n"), "is of type ExternalName"},
		{"external IPs", service("  externalIPs: [8.8.8.8]\n"), "takes the cluster's traffic for external IPs [8.8.8.8]"},
	})
}

// The istiod chart writes trafficDistribution into its Service unquoted: a value holding a newline adds
// fields of its own to the Service, which the guard sees rendered.
func TestGuardRefusesExternalIPsSmuggledInAValue(t *testing.T) {
	err := guardIstiodWith(t, render.Values{"trafficDistribution": "PreferClose\n  externalIPs: [8.8.8.8]"})
	if !errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), "Service istio-system/istiod, which takes the cluster's traffic for external IPs [8.8.8.8]") {
		t.Errorf("the guard let istiod's Service take the traffic of 8.8.8.8: %v", err)
	}
	if err := guardIstiodWith(t, render.Values{"trafficDistribution": "PreferClose"}); err != nil {
		t.Errorf("the guard refused istiod's Service with a traffic distribution: %v", err)
	}
}
