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
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// lowestPort is the lowest port FreePorts hands out: below it lie the well-known and many registered
// services' ports.
const lowestPort = 10000

// FreePorts returns n distinct loopback ports that are free now, for servers a test starts as processes
// of their own (etcd, kube-apiserver, istiod). They are chosen outside the kernel's ephemeral port range:
// a port from there (what listening on port 0 gives) is also the source port of any outgoing connection,
// and the tiers run side by side open thousands of them, so between the check and the server's own
// listen another process could take it (an etcd of the simulated cluster once failed to start so: bind:
// address already in use). A port outside the range is taken only by a server that chose the same one.
func FreePorts(n int) ([]int, error) {
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
		ports = append(ports, port)
	}
	return ports, nil
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
