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

// Package fault is the fault tier: the real manager binary, run as processes against the simulated
// cluster, is killed at chosen points, the API server is restarted under it, two replicas compete for
// the lead, and a mesh is installed and uninstalled around a snapshot of the whole cluster. After each
// scenario the invariants of invariants_test.go must hold. docs/reliability.md describes the scenarios.
package fault

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// The simulated cluster and the manager binary, shared by every test of the package: starting a
// cluster takes longer than most scenarios. Each scenario leaves the cluster as it found it (no
// ServiceMesh), which its invariants check.
var (
	sim     *cluster.Cluster
	binary  string
	workDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if workDir, err = os.MkdirTemp("", "meshkeeper-fault-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if sim, err = cluster.Start(ctx, cluster.Options{Dir: filepath.Join(workDir, "cluster")}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := 1
	defer func() {
		if err := sim.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
		if code == 0 {
			_ = os.RemoveAll(workDir)
		} else {
			fmt.Fprintf(os.Stderr, "the cluster's and the managers' logs are in %s\n", workDir)
		}
	}()
	if err := testenv.InstallCRD(sim.Kubeconfig()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if binary, err = testenv.BuildImageBinary(workDir); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code = m.Run()
	return code
}
