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

package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// ImageBinaryEnv names an environment variable with the path of a manager binary already built as the
// image builds it: make builds one before the test tiers, so the tests that run the manager as a process
// share it instead of each linking its own.
const ImageBinaryEnv = "MESHKEEPER_IMAGE_BINARY"

// With ImageBinaryEnv set, a chart that is not built in renders in that binary (see internal/helm,
// sandbox.go), not in a new start of the test binary, whose start takes three to four times as long.
func init() {
	if built := os.Getenv(ImageBinaryEnv); built != "" {
		helm.UseRenderBinary(built)
	}
}

// DependOn makes the files at paths part of what go test keys the package's cached result on. go test
// uses a package's earlier result while its test binary, and the files and environment variables its
// tests read, are the same; a tier that runs the manager binary as a process, or installs the CRD with
// kubectl, reads neither file itself, and its test binary need not change with the manager's code. A
// stat made from a test (not from TestMain before m.Run, which go test does not watch yet) makes the
// file's size and modification time part of the key: a rebuilt manager or a changed CRD runs the tier
// again.
func DependOn(paths ...string) {
	for _, path := range paths {
		_, _ = os.Stat(path)
	}
}

// ManagerInputs are the files a tier that runs the manager binary at binary as a process depends on
// beyond its test binary: the binary and the CRD (InstallCRD).
func ManagerInputs(binary string) []string {
	return []string{binary, filepath.Join(RepoRoot(), "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml")}
}

// BuildImageBinary builds meshkeeper's manager into dir as the image builds it (hack/trimdeps: the unused
// API groups left out, no cgo, -trimpath, stripped), so the tests and benchmarks that run it as a process
// run the shipped binary, and returns its path. With ImageBinaryEnv set it builds nothing and returns
// that binary, which must exist.
func BuildImageBinary(dir string) (string, error) {
	if built := os.Getenv(ImageBinaryEnv); built != "" {
		if info, err := os.Stat(built); err != nil || !info.Mode().IsRegular() {
			return "", fmt.Errorf("%s=%s is no manager binary: %v", ImageBinaryEnv, built, err)
		}
		return built, nil
	}
	binary := filepath.Join(dir, "meshkeeper")
	build := exec.Command("go", "run", "./hack/trimdeps", "-o", binary)
	build.Dir = RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building meshkeeper: %w\n%s", err, out)
	}
	return binary, nil
}

// FreeAddr returns a free loopback address (see FreePorts).
func FreeAddr() (string, error) {
	addrs, err := FreeAddrs(1)
	if err != nil {
		return "", err
	}
	return addrs[0], nil
}

// FreeAddrs returns n distinct free loopback addresses (see FreePorts).
func FreeAddrs(n int) ([]string, error) {
	ports, err := FreePorts(n)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, len(ports))
	for i, port := range ports {
		addrs[i] = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	}
	return addrs, nil
}

// ProcStatus returns the named fields of a process's /proc status, in kB (VmRSS, VmHWM, RssAnon,
// RssFile, …).
func ProcStatus(pid int, names ...string) (map[string]int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return nil, err
	}
	out := map[string]int64{}
	for _, line := range strings.Split(string(status), "\n") {
		for _, name := range names {
			if rest, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return nil, fmt.Errorf("%s in /proc/%d/status: %w", name, pid, err)
				}
				out[name] = kb
			}
		}
	}
	for _, name := range names {
		if _, ok := out[name]; !ok {
			return nil, fmt.Errorf("no %s in /proc/%d/status", name, pid)
		}
	}
	return out, nil
}

// CPUTime is the CPU time a process has spent so far, user and system together.
func CPUTime(pid int) (time.Duration, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name, in parentheses, may hold spaces: the fields counted are those after it.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	var ticks int64
	for _, f := range fields[11:13] { // utime and stime, fields 14 and 15 of the whole line
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	// The kernel reports USER_HZ ticks, 100 per second on every Linux architecture Go supports.
	return time.Duration(ticks) * 10 * time.Millisecond, nil
}
