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

// Command demo brings meshkeeper up on a local simulated cluster: an API server, controller manager,
// scheduler and fake nodes (kwok), the ServiceMesh CRD, the manager, and the sample ServiceMesh. It
// waits until the mesh is Ready, shows what meshkeeper created, and keeps the cluster running until
// interrupted.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

func main() {
	dir := flag.String("dir", ".demo", "Directory for the cluster's data, logs and kubeconfig; emptied first.")
	nodes := flag.Int("nodes", 3, "Number of fake nodes.")
	flag.Parse()
	if err := run(*dir, *nodes); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(dir string, nodes int) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	step("Starting the simulated cluster (%d fake nodes) in %s", nodes, dir)
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster"), Nodes: nodes})
	if err != nil {
		return err
	}
	defer func() {
		step("Stopping the cluster")
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "demo:", err)
		}
	}()
	kubeconfig := c.Kubeconfig()

	step("Installing the ServiceMesh CRD")
	if err := testenv.InstallCRD(kubeconfig); err != nil {
		return err
	}
	logPath := filepath.Join(dir, "meshkeeper.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return err
	}
	defer logFile.Close()
	step("Starting meshkeeper (log: %s)", logPath)
	if err := testenv.StartManager(ctx, c.RESTConfig(), logFile); err != nil {
		return err
	}

	sample := filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml")
	show(kubeconfig, "apply", "-f", sample)
	start := time.Now()
	show(kubeconfig, "wait", "--for=condition=Ready", "servicemesh/default", "--timeout=5m")
	step("Ready after %s", time.Since(start).Round(100*time.Millisecond))

	step("What meshkeeper created")
	show(kubeconfig, "get", "mesh")
	show(kubeconfig, "get", "secrets", "-n", "istio-system", "-l", "owner=helm",
		"-L", "name,version,status", "--no-headers")
	show(kubeconfig, "get", "deployments,services,configmaps,poddisruptionbudgets", "-n", "istio-system")
	show(kubeconfig, "get", "pods", "-n", "istio-system", "-o", "wide")
	show(kubeconfig, "get", "mutatingwebhookconfigurations,validatingwebhookconfigurations")
	show(kubeconfig, "get", "configmap", "istio", "-n", "istio-system", "-o", "jsonpath={.data.mesh}")

	fmt.Printf("\nThe cluster keeps running. Try:\n  export KUBECONFIG=%s\n  %s get mesh\n  %s describe servicemesh default\nCtrl-C stops it.\n",
		kubeconfig, filepath.Join(testenv.AssetsDir(), "kubectl"), filepath.Join(testenv.AssetsDir(), "kubectl"))
	<-ctx.Done()
	return nil
}

func step(format string, args ...any) {
	fmt.Printf("\n==> "+format+"\n", args...)
}

// show runs kubectl and prints the command and its output.
func show(kubeconfig string, args ...string) {
	fmt.Printf("\n$ kubectl %s\n", strings.Join(args, " "))
	out, err := testenv.Kubectl(kubeconfig, "", args...)
	fmt.Println(out)
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo: kubectl:", err)
	}
}
