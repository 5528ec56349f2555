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

// Package faultkit is the harness of the fault tier (test/fault, test/chaos): it runs meshkeeper's
// manager binary (testenv.BuildImageBinary builds it) as processes it can SIGKILL, tells whether a
// ServiceMesh is Ready, and checks the invariants that must hold whenever the system has settled
// (docs/reliability.md).
package faultkit

import (
	"fmt"
	"os"
	"os/exec"

	"github.com/meshkeeper/meshkeeper/test/cluster"
)

// Manager is one run of the manager binary.
type Manager struct {
	// LogPath is the file its output is appended to.
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{}
}

// StartManager runs binary against the API server of kubeconfig with the given extra flags, without
// metrics or health probes, appending its output to logPath after a line that names the run. On Linux
// the process is killed if the test binary dies.
func StartManager(binary, kubeconfig, logPath, run string, args ...string) (*Manager, error) {
	log, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "----- %s -----\n", run)
	m := &Manager{LogPath: logPath, done: make(chan struct{})}
	m.cmd = exec.Command(binary, append([]string{"--metrics-bind-address=0", "--health-probe-bind-address=0"}, args...)...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = log, log
	m.cmd.SysProcAttr = cluster.SysProcAttr()
	if err := m.cmd.Start(); err != nil {
		_ = log.Close()
		return nil, err
	}
	go func() {
		_ = m.cmd.Wait()
		_ = log.Close()
		close(m.done)
	}()
	return m, nil
}

// Kill kills the process (SIGKILL), as the kernel's OOM killer or a node failure would (no deferred function, no
// graceful shutdown runs), and waits for the exit. Killing an exited manager does nothing.
func (m *Manager) Kill() {
	if !m.Running() {
		return
	}
	_ = m.cmd.Process.Kill()
	<-m.done
}

// Running reports whether the process has not exited.
func (m *Manager) Running() bool {
	select {
	case <-m.done:
		return false
	default:
		return true
	}
}

// Log is what the manager wrote to its log so far.
func (m *Manager) Log() string {
	data, _ := os.ReadFile(m.LogPath)
	return string(data)
}
