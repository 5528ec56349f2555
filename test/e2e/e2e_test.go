//go:build cluster

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

package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestKubectlWaitForReady is the README's promise on a cluster whose Deployments really roll out:
// apply the sample, `kubectl wait --for=condition=Ready servicemesh/default` returns once istiod is
// Available and the CNI agent runs on every node; a patch upgrade moves the control plane and then
// the agent; and deleting the ServiceMesh removes the control plane, the agent, its namespace and its
// webhooks.
func TestKubectlWaitForReady(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dir := t.TempDir()
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	}()
	kubeconfig := c.Kubeconfig()
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := testenv.Kubectl(kubeconfig, "", args...)
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	if err := testenv.InstallCRD(kubeconfig); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "meshkeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	managerCtx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	if err := testenv.StartManager(managerCtx, c.RESTConfig(), logFile); err != nil {
		t.Fatal(err)
	}

	kubectl("apply", "-f", filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
	start := time.Now()
	if out, err := testenv.Kubectl(kubeconfig, "", "wait", "--for=condition=Ready", "servicemesh/default", "--timeout=5m"); err != nil {
		log, _ := os.ReadFile(logFile.Name())
		t.Fatalf("kubectl wait: %v\n%s\n%s\nmeshkeeper's log:\n%s", err, out,
			kubectl("get", "mesh", "default", "-o", "yaml"), testenv.TailLines(string(log), 40))
	}
	t.Logf("Ready %s after the apply", time.Since(start).Round(100*time.Millisecond))

	if got := kubectl("get", "deployment", "istiod", "-n", "istio-system", "-o", "jsonpath={.status.availableReplicas}"); got != "2" {
		t.Errorf("istiod available replicas = %q, want 2", got)
	}
	if got := kubectl("get", "mesh", "default", "-o", "jsonpath={.status.version}"); got != "1.31.1" {
		t.Errorf("status.version = %q, want 1.31.1", got)
	}
	// A new ServiceMesh runs the CNI agent: its DaemonSet rolled out on every fake node, and Ready
	// waited for it.
	nodes := strings.Fields(kubectl("get", "nodes", "-o", "jsonpath={.items[*].metadata.name}"))
	if got := kubectl("get", "daemonset", "istio-cni-node", "-n", "istio-system", "-o",
		"jsonpath={.status.desiredNumberScheduled}/{.status.numberReady}/{.status.numberAvailable}"); got != fmt.Sprintf("%d/%d/%d", len(nodes), len(nodes), len(nodes)) {
		t.Errorf("istio-cni-node desired/ready/available = %s, want %d on each (nodes %v)", got, len(nodes), nodes)
	}
	agentNodes := strings.Fields(kubectl("get", "pods", "-n", "istio-system", "-l", "k8s-app=istio-cni-node", "-o", "jsonpath={.items[*].spec.nodeName}"))
	slices.Sort(agentNodes)
	slices.Sort(nodes)
	if !slices.Equal(agentNodes, nodes) {
		t.Errorf("the CNI agent runs on %v, want every node %v", agentNodes, nodes)
	}
	if got := kubectl("get", "mesh", "default", "-o", `jsonpath={.status.conditions[?(@.type=="CNIReady")].status}/{.status.cni.readyNodes}`); got != fmt.Sprintf("True/%d", len(nodes)) {
		t.Errorf("CNIReady/status.cni.readyNodes = %s, want True/%d", got, len(nodes))
	}

	table := kubectl("get", "mesh")
	if !strings.Contains(table, "default") || !strings.Contains(table, "True") {
		t.Errorf("kubectl get mesh does not show a Ready mesh:\n%s", table)
	}

	describe := kubectl("describe", "servicemesh", "default")
	for _, want := range []string{"ControlPlaneReady", "CNIReady", "Available", "Installed", "Release istio-system/istiod", "Release istio-system/istio-cni"} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe servicemesh default does not show %q:\n%s", want, describe)
		}
	}

	upgradeMovesCNIAfterTheControlPlane(ctx, t, c.RESTConfig(), kubectl, len(nodes))

	kubectl("delete", "servicemesh", "default", "--timeout=3m")
	if out, err := testenv.Kubectl(kubeconfig, "", "wait", "--for=delete", "namespace/istio-system", "--timeout=3m"); err != nil {
		t.Errorf("the control-plane namespace meshkeeper created was not removed: %v\n%s", err, out)
	}
	for _, kind := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
		if out := kubectl("get", kind, "-o", "name"); out != "" {
			t.Errorf("left behind after uninstall: %s", out)
		}
	}
	if out := kubectl("get", "clusterroles", "-l", "mesh.meshkeeper.io/managed-by=meshkeeper", "-o", "name"); out != "" {
		t.Errorf("left behind after uninstall: %s", out)
	}
	if out := kubectl("get", "crd", "virtualservices.networking.istio.io", "-o", "name"); out == "" {
		t.Error("the Istio CRDs were removed with the mesh")
	}
}
