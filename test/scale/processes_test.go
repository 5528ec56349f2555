//go:build envtest

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

package scale

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/rest"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// cluster is the envtest cluster's own processes, found by their command lines: the benchmark accounts
// for the CPU each spends, since on a machine of a few cores the API server, etcd, the manager and the
// benchmark's own clients share them, and a convergence bound by the API server shows there.
type cluster struct {
	apiserver, etcd int
}

// findCluster finds the kube-apiserver that serves cfg (by its --secure-port) and the etcd it stores in
// (by its --etcd-servers). A process not found is 0, and its CPU is not accounted.
func findCluster(b *testing.B, cfg *rest.Config) cluster {
	b.Helper()
	host, err := url.Parse(cfg.Host)
	if err != nil {
		b.Fatal(err)
	}
	cmdlines := map[int][]string{}
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, dir := range dirs {
		pid, err := strconv.Atoi(filepath.Base(dir))
		if err != nil {
			continue
		}
		raw, err := os.ReadFile(filepath.Join(dir, "cmdline"))
		if err != nil || len(raw) == 0 {
			continue
		}
		cmdlines[pid] = strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
	}
	var c cluster
	var etcdServers string
	for pid, args := range cmdlines {
		if filepath.Base(args[0]) == "kube-apiserver" && hasArg(args, "--secure-port", host.Port()) {
			c.apiserver = pid
			etcdServers = argValue(args, "--etcd-servers")
		}
	}
	for pid, args := range cmdlines {
		if etcdServers != "" && filepath.Base(args[0]) == "etcd" && hasArg(args, "--listen-client-urls", etcdServers) {
			c.etcd = pid
		}
	}
	return c
}

// argValue is the value of a --flag=value or --flag value argument, or "".
func argValue(args []string, flag string) string {
	for i, arg := range args {
		if value, ok := strings.CutPrefix(arg, flag+"="); ok {
			return value
		}
		if arg == flag && i+1 < len(args) {
			return args[i+1]
		}
	}
	return ""
}

func hasArg(args []string, flag, value string) bool { return argValue(args, flag) == value }

// cpuTimes is the CPU time each process of the benchmark has spent so far: the API server, etcd, the
// manager (when running) and the benchmark itself, whose clients populate, watch and measure the floor.
type cpuTimes struct {
	apiserver, etcd, manager, benchmark time.Duration
}

func (c cluster) cpu(manager int) cpuTimes {
	of := func(pid int) time.Duration {
		if pid == 0 {
			return 0
		}
		t, _ := testenv.CPUTime(pid)
		return t
	}
	return cpuTimes{apiserver: of(c.apiserver), etcd: of(c.etcd), manager: of(manager), benchmark: of(os.Getpid())}
}

// since is the CPU each process spent from then to t, and its share of the cores over wall, the time
// that passed.
func (t cpuTimes) since(then cpuTimes, wall time.Duration) string {
	share := func(d time.Duration) string {
		return fmt.Sprintf("%.1f s (%.0f %% of a core)", d.Seconds(), 100*d.Seconds()/wall.Seconds())
	}
	s := fmt.Sprintf("kube-apiserver %s, etcd %s, benchmark %s", share(t.apiserver-then.apiserver),
		share(t.etcd-then.etcd), share(t.benchmark-then.benchmark))
	if t.manager > 0 {
		s += ", manager " + share(t.manager-then.manager)
	}
	return s
}
