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
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestKubectlWaitForReady is the README's promise on a cluster whose Deployments really roll out:
// apply the sample, `kubectl wait --for=condition=Ready servicemesh/default` returns once istiod is
// Available, and deleting the ServiceMesh removes the control plane, its namespace and its webhooks.
func TestKubectlWaitForReady(t *testing.T) {
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
			kubectl("get", "mesh", "default", "-o", "yaml"), tailLines(string(log), 40))
	}
	t.Logf("Ready %s after the apply", time.Since(start).Round(100*time.Millisecond))

	if got := kubectl("get", "deployment", "istiod", "-n", "istio-system", "-o", "jsonpath={.status.availableReplicas}"); got != "2" {
		t.Errorf("istiod available replicas = %q, want 2", got)
	}
	if got := kubectl("get", "mesh", "default", "-o", "jsonpath={.status.version}"); got != "1.31.1" {
		t.Errorf("status.version = %q, want 1.31.1", got)
	}
	table := kubectl("get", "mesh")
	if !strings.Contains(table, "default") || !strings.Contains(table, "True") {
		t.Errorf("kubectl get mesh does not show a Ready mesh:\n%s", table)
	}

	describe := kubectl("describe", "servicemesh", "default")
	for _, want := range []string{"ControlPlaneReady", "Available", "Installed", "Release istio-system/istiod"} {
		if !strings.Contains(describe, want) {
			t.Errorf("kubectl describe servicemesh default does not show %q:\n%s", want, describe)
		}
	}

	kubectl("delete", "servicemesh", "default", "--timeout=3m")
	if out, err := testenv.Kubectl(kubeconfig, "", "wait", "--for=delete", "namespace/istio-system", "--timeout=3m"); err != nil {
		t.Errorf("the control-plane namespace meshkeeper created was not removed: %v\n%s", err, out)
	}
	for _, kind := range []string{"mutatingwebhookconfigurations", "validatingwebhookconfigurations"} {
		if out := kubectl("get", kind, "-o", "name"); out != "" {
			t.Errorf("left behind after uninstall: %s", out)
		}
	}
	if out := kubectl("get", "crd", "virtualservices.networking.istio.io", "-o", "name"); out == "" {
		t.Error("the Istio CRDs were removed with the mesh")
	}
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
