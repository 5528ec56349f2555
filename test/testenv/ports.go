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
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// lowestPort is the lowest port FreePorts hands out: below it lie the well-known and many registered
// services' ports.
const lowestPort = 10000

// reservedFor is how long a port FreePorts handed out is not handed out again, by any process that
// shares the reservation directory: long enough for the slowest server to start listening on it (a
// simulated cluster's last component starts up to a minute after its ports were chosen), after which
// a listening server makes the port fail the check anyway.
const reservedFor = 10 * time.Minute

// FreePorts returns n distinct loopback ports that are free now, for servers a test starts as processes
// of their own (etcd, kube-apiserver, istiod). They are chosen outside the kernel's ephemeral port range:
// a port from there (what listening on port 0 gives) is also the source port of any outgoing connection,
// and the tiers run side by side open thousands of them, so between the check and the server's own
// listen another process could take it (an etcd of the simulated cluster once failed to start so: bind:
// address already in use). A port outside the range is taken only by a server that chose the same one:
// so that no other test process (the tiers run side by side) chooses it before the server listens, a
// port handed out is reserved for reservedFor in a directory every process of the tiers shares (a
// kube-scheduler once failed to start so, its port chosen by a test of another package while the
// cluster's API server was starting).
func FreePorts(n int) ([]int, error) {
	return freePorts(n, filepath.Join(os.TempDir(), "meshkeeper-test-ports"), time.Now())
}

// freePorts is FreePorts with the reservation directory and the time given.
func freePorts(n int, reservations string, now time.Time) ([]int, error) {
	if err := os.MkdirAll(reservations, 0o755); err != nil {
		return nil, fmt.Errorf("creating the port reservations: %w", err)
	}
	low, high, err := ephemeralPorts()
	if err != nil {
		return nil, err
	}
	below, above := max(low-lowestPort, 0), max(65535-high, 0)
	if below+above < 10*n {
		return nil, fmt.Errorf("the ephemeral port range %d–%d leaves too few ports outside it", low, high)
	}
	// Every port chosen is held until all are, so none is returned twice.
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	var ports []int
	for tries := 0; len(ports) < n; tries++ {
		if tries == 100*n {
			return nil, fmt.Errorf("no %d free ports outside the ephemeral range %d–%d after %d tries", n, low, high, tries)
		}
		r := rand.IntN(below + above) //nolint:gosec // test ports, not secrets
		port := lowestPort + r
		if r >= below {
			port = high + 1 + r - below
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			continue // in use
		}
		listeners = append(listeners, l)
		reserved, err := reserve(reservations, port, now)
		if err != nil {
			return nil, err
		}
		if !reserved {
			continue // handed out lately, its server perhaps not yet listening
		}
		ports = append(ports, port)
	}
	return ports, nil
}

// reserve records port as handed out at now, unless another call did so less than reservedFor
// before. The file is created exclusively, so of two processes reserving a new port at once one wins;
// a stale reservation is renewed in place, where two processes could both win only by choosing the
// same port at random within the same few microseconds.
func reserve(dir string, port int, now time.Time) (bool, error) {
	path := filepath.Join(dir, strconv.Itoa(port))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err == nil {
		if err := f.Close(); err != nil {
			return false, err
		}
		return true, os.Chtimes(path, now, now)
	}
	if !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("reserving port %d: %w", port, err)
	}
	info, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("reading the reservation of port %d: %w", port, err)
	}
	if now.Sub(info.ModTime()) < reservedFor {
		return false, nil
	}
	// Stale: the port has been free past its reservation.
	return true, os.Chtimes(path, now, now)
}

// ephemeralPorts is the kernel's range of ports for the local end of connections and for listening on
// port 0.
func ephemeralPorts() (low, high int, err error) {
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0, 0, fmt.Errorf("reading the ephemeral port range: %w", err)
	}
	fields := strings.Fields(string(data))
	if len(fields) != 2 {
		return 0, 0, fmt.Errorf("ephemeral port range %q: want two numbers", data)
	}
	if low, err = strconv.Atoi(fields[0]); err == nil {
		high, err = strconv.Atoi(fields[1])
	}
	if err != nil || low > high {
		return 0, 0, fmt.Errorf("ephemeral port range %q: want two numbers, the lower first", data)
	}
	return low, high, nil
}
