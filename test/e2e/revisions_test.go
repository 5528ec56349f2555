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
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestCanaryUpgrade is a full canary upgrade on a cluster whose Deployments really roll out, in the
// commits a GitOps user makes: 1.31.0 running with a namespace whose Deployment runs sidecars of
// 1-31-0; then 1.31.1 with that namespace as canary (the new istiod rolls out, the namespace moves to
// it, the workload is restarted onto it); then the canary removed (the tag moves) until the old revision,
// no longer used, is removed and one revision is left.
func TestCanaryUpgrade(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
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
	logFile, err := os.Create(filepath.Join(dir, "meshkeeper.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	kubectl := func(args ...string) string {
		t.Helper()
		out, err := testenv.Kubectl(kubeconfig, "", args...)
		if err != nil {
			log, _ := os.ReadFile(logFile.Name())
			t.Fatalf("kubectl %s: %v\n%s\nmeshkeeper's log:\n%s", strings.Join(args, " "), err, out, tailLines(string(log), 40))
		}
		return out
	}
	apply := func(manifest string) {
		t.Helper()
		path := filepath.Join(dir, fmt.Sprintf("manifest-%d.yaml", time.Now().UnixNano()))
		if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
			t.Fatal(err)
		}
		kubectl("apply", "--server-side", "--field-manager=git", "-f", path)
	}
	eventually := func(what string, timeout time.Duration, check func() string) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			got := check()
			if got == "" {
				return
			}
			if time.Now().After(deadline) {
				log, _ := os.ReadFile(logFile.Name())
				t.Fatalf("%s: %s\n%s\nmeshkeeper's log:\n%s", what, got, kubectl("get", "mesh", "default", "-o", "yaml"), tailLines(string(log), 40))
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	jsonpath := func(args ...string) string { return kubectl(append([]string{"get"}, args...)...) }
	want := func(what, value string, args ...string) func() string {
		return func() string {
			if got := strings.TrimSpace(jsonpath(args...)); got != strings.TrimSpace(value) {
				return fmt.Sprintf("%s is %q, want %q", what, got, value)
			}
			return ""
		}
	}

	if err := testenv.InstallCRD(kubeconfig); err != nil {
		t.Fatal(err)
	}
	// meshkeeper's binary, as a process: the package's other test runs a manager in this one.
	binary := filepath.Join(dir, "meshkeeper")
	build := exec.CommandContext(ctx, "go", "build", "-o", binary, ".")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building meshkeeper: %v\n%s", err, out)
	}
	manager := exec.CommandContext(ctx, binary, "--metrics-bind-address=0", "--health-probe-bind-address=0")
	manager.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	manager.Stdout, manager.Stderr = logFile, logFile
	if err := manager.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = manager.Process.Kill()
		_ = manager.Wait()
	}()

	mesh := func(version, canary string) string {
		return `apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  version: ` + version + `
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriod: 5s` + canary + `
  injection: {namespaces: [shop]}
`
	}
	// The pods carry what the injector of their revision would have written; this tier's API server
	// calls no webhook.
	shop := func(revision string) string {
		return `apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata:
      labels: {app: web}
      annotations:
        sidecar.istio.io/status: '{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"` + revision + `"}'
    spec:
      containers:
      - {name: web, image: registry.example/web:1}
      - {name: istio-proxy, image: docker.io/istio/proxyv2:` + strings.ReplaceAll(revision, "-", ".") + `}
`
	}

	t.Log("commit 0: Istio 1.31.0 as a revision, and a workload injected by it")
	apply(mesh("1.31.0", ""))
	apply(shop("1-31-0"))
	eventually("the mesh on 1.31.0", 5*time.Minute, func() string {
		if out, err := testenv.Kubectl(kubeconfig, "", "wait", "--for=condition=Ready", "servicemesh/default", "--timeout=5s"); err != nil {
			return out
		}
		return want("status.revisions", "1-31-0=Active/2 ", "mesh", "default", "-o",
			`jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`)()
	})

	t.Log("commit 1: Istio 1.31.1 with shop as canary")
	apply(mesh("1.31.1", "\n    canary: {namespaces: [shop]}"))
	eventually("istiod-1-31-1 rolled out and shop moved to it", 5*time.Minute,
		want("shop's revision label", "1-31-1", "namespace", "shop", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`))
	if got := jsonpath("deployment", "istiod-1-31-1", "-n", "istio-system", "-o", "jsonpath={.status.availableReplicas}"); got != "2" {
		t.Errorf("shop moved to 1-31-1 while istiod-1-31-1 has %q available replicas, want 2", got)
	}
	if got := jsonpath("mutatingwebhookconfiguration", "istio-revision-tag-default", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "1-31-0" {
		t.Errorf("the default tag points at %q during the canary, want 1-31-0", got)
	}
	eventually("the canary's outdated pods counted", time.Minute, want("status.proxies.outdated", "2", "mesh", "default", "-o", "jsonpath={.status.proxies.outdated}"))
	// The owner restarts the canary workload; the new pods come from the new revision's injector.
	apply(shop("1-31-1"))
	eventually("the canary running on 1-31-1", 3*time.Minute, want("status.revisions", "1-31-1=Canary/2 1-31-0=Active/0 ", "mesh", "default",
		"-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))
	if got := jsonpath("deployment", "istiod-1-31-0", "-n", "istio-system", "-o", "name"); got == "" {
		t.Error("the active revision was removed")
	}

	t.Log("commit 2: the canary removed")
	apply(mesh("1.31.1", ""))
	eventually("the tag on 1-31-1", time.Minute, want("the default tag", "1-31-1", "mutatingwebhookconfiguration", "istio-revision-tag-default",
		"-o", `jsonpath={.metadata.labels.istio\.io/rev}`))
	eventually("one revision left", 3*time.Minute, want("status.revisions", "1-31-1=Active/2 ", "mesh", "default",
		"-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))
	if out, err := testenv.Kubectl(kubeconfig, "", "get", "deployment", "istiod-1-31-0", "-n", "istio-system"); err == nil {
		t.Errorf("istiod-1-31-0 is still there:\n%s", out)
	}
	if got := jsonpath("namespace", "shop", "-o", `jsonpath={.metadata.labels.istio-injection}`); got != "enabled" {
		t.Errorf("shop's injection label is %q, want istio-injection=enabled again", got)
	}
	if got := jsonpath("mesh", "default", "-o", "jsonpath={.status.proxies.outdated}"); got != "0" {
		t.Errorf("status.proxies.outdated = %s, want 0", got)
	}
	t.Log(kubectl("get", "mesh", "-o", "wide"))
}
