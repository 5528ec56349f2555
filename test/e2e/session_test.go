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
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// session is a test on a simulated cluster with meshkeeper's binary running against it, driven as a
// user would: kubectl, and manifests applied as a GitOps tool applies them.
type session struct {
	t          *testing.T
	dir        string
	cluster    *cluster.Cluster
	kubeconfig string
	log        *os.File
	binary     string
	manager    *exec.Cmd
	metricsURL string
}

// startSession starts a simulated cluster with opts in a directory of the test, installs the CRD and
// runs meshkeeper's binary, as a process, against it. Both stop when the test ends.
func startSession(ctx context.Context, t *testing.T, opts cluster.Options) *session {
	t.Helper()
	dir := t.TempDir()
	opts.Dir = filepath.Join(dir, "cluster")
	c, err := cluster.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Stop(); err != nil {
			t.Error(err)
		}
	})
	s := &session{t: t, dir: dir, cluster: c, kubeconfig: c.Kubeconfig()}
	if s.log, err = os.Create(filepath.Join(dir, "meshkeeper.log")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.log.Close() })
	if err := testenv.InstallCRD(s.kubeconfig); err != nil {
		t.Fatal(err)
	}

	// meshkeeper's binary, as a process: the package's other test runs a manager in this one.
	if s.binary, err = testenv.BuildImageBinary(dir); err != nil {
		t.Fatal(err)
	}
	testenv.DependOn(testenv.ManagerInputs(s.binary)...)
	s.startManager(ctx)
	// Cleanups run last first: the manager stops before the cluster.
	t.Cleanup(s.killManager)
	return s
}

// startManager runs meshkeeper's binary against the cluster, its log appended to meshkeeper.log, its
// metrics served over plain HTTP on a free port of the loopback interface (metricsURL).
func (s *session) startManager(ctx context.Context) {
	s.t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		s.t.Fatal(err)
	}
	address := l.Addr().String()
	_ = l.Close()
	s.metricsURL = "http://" + address + "/metrics"
	s.manager = exec.CommandContext(ctx, s.binary, "--metrics-bind-address="+address, "--metrics-secure=false",
		"--health-probe-bind-address=0")
	s.manager.Env = append(os.Environ(), "KUBECONFIG="+s.kubeconfig)
	s.manager.Stdout, s.manager.Stderr = s.log, s.log
	if err := s.manager.Start(); err != nil {
		s.t.Fatal(err)
	}
}

// killManager kills the manager with SIGKILL, as an OOM kill or a lost node would, and waits for it.
func (s *session) killManager() {
	if s.manager == nil {
		return
	}
	_ = s.manager.Process.Kill()
	_ = s.manager.Wait()
	s.manager = nil
}

// metric is the value of one series in the manager's metrics, as its exposition prints the series
// (name{labels}); "" when the manager does not export it. A manager that has not started serving yet
// is an error.
func (s *session) metric(series string) (string, error) {
	resp, err := http.Get(s.metricsURL) //nolint:noctx // a loopback scrape in a test
	if err != nil {
		return "", fmt.Errorf("scraping meshkeeper's metrics: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("scraping meshkeeper's metrics: %w", err)
	}
	for _, line := range strings.Split(string(body), "\n") {
		if value, ok := strings.CutPrefix(line, series+" "); ok {
			return value, nil
		}
	}
	return "", nil
}

// meshkeeperLog is the end of meshkeeper's log, for failure messages.
func (s *session) meshkeeperLog() string {
	log, _ := os.ReadFile(s.log.Name())
	return testenv.TailLines(string(log), 40)
}

func (s *session) kubectl(args ...string) string {
	s.t.Helper()
	out, err := testenv.Kubectl(s.kubeconfig, "", args...)
	if err != nil {
		s.t.Fatalf("kubectl %s: %v\n%s\nmeshkeeper's log:\n%s", strings.Join(args, " "), err, out, s.meshkeeperLog())
	}
	return out
}

// get is kubectl get.
func (s *session) get(args ...string) string {
	s.t.Helper()
	return s.kubectl(append([]string{"get"}, args...)...)
}

// apply applies a manifest server-side as the field manager "git".
func (s *session) apply(manifest string) {
	s.t.Helper()
	path := filepath.Join(s.dir, fmt.Sprintf("manifest-%d.yaml", time.Now().UnixNano()))
	if err := os.WriteFile(path, []byte(manifest), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.kubectl("apply", "--server-side", "--field-manager=git", "-f", path)
}

// eventually polls check until it returns "" and fails the test with its last answer after timeout.
func (s *session) eventually(what string, timeout time.Duration, check func() string) {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := check()
		if got == "" {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("%s: %s\n%s\nmeshkeeper's log:\n%s", what, got, s.get("mesh", "default", "-o", "yaml"), s.meshkeeperLog())
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// want is a check for eventually: kubectl get args prints value.
func (s *session) want(what, value string, args ...string) func() string {
	return func() string {
		if got := strings.TrimSpace(s.get(args...)); got != strings.TrimSpace(value) {
			return fmt.Sprintf("%s is %q, want %q", what, got, value)
		}
		return ""
	}
}

// waitReady waits for the mesh's Ready condition.
func (s *session) waitReady(timeout time.Duration) {
	s.t.Helper()
	s.eventually("the mesh Ready", timeout, func() string {
		if out, err := testenv.Kubectl(s.kubeconfig, "", "wait", "--for=condition=Ready", "servicemesh/default", "--timeout=5s"); err != nil {
			return out
		}
		return ""
	})
}
