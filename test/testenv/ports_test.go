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
	"net"
	"strconv"
	"testing"
	"time"
)

// TestFreePortsLieOutsideTheEphemeralRange: the ports handed to servers are free, distinct, and never
// ones the kernel gives out as the local end of a connection or for port 0, where another process
// could take them before the server listens.
func TestFreePortsLieOutsideTheEphemeralRange(t *testing.T) {
	low, high, err := ephemeralPorts()
	if err != nil {
		t.Fatal(err)
	}
	ports, err := FreePorts(50)
	if err != nil {
		t.Fatal(err)
	}
	if len(ports) != 50 {
		t.Fatalf("%d ports, want 50", len(ports))
	}
	seen := map[int]bool{}
	for _, port := range ports {
		if seen[port] {
			t.Errorf("port %d handed out twice", port)
		}
		seen[port] = true
		if port < lowestPort || port > 65535 || (port >= low && port <= high) {
			t.Errorf("port %d: want one from %d to 65535 outside the ephemeral range %d–%d", port, lowestPort, low, high)
		}
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		if err != nil {
			t.Errorf("port %d is not free: %v", port, err)
			continue
		}
		_ = l.Close()
	}
	addr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, p, _ := net.SplitHostPort(addr)
	if port, _ := strconv.Atoi(p); port >= low && port <= high {
		t.Errorf("FreeAddr gave %s, in the ephemeral range %d–%d", addr, low, high)
	}
}

// TestFreePortsAreNotHandedOutTwiceWhileReserved: a port handed out and released (its server not yet
// listening) is not handed out again, by this process or another sharing the reservations, until its
// reservation has expired. Two draws of a thousand ports from the ~27,000 outside the ephemeral range
// would share dozens without it.
func TestFreePortsAreNotHandedOutTwiceWhileReserved(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	first, err := freePorts(1000, dir, now)
	if err != nil {
		t.Fatal(err)
	}
	handed := map[int]bool{}
	for _, port := range first {
		handed[port] = true
	}
	second, err := freePorts(1000, dir, now.Add(reservedFor-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	var twice []int
	for _, port := range second {
		if handed[port] {
			twice = append(twice, port)
		}
	}
	if len(twice) > 0 {
		t.Errorf("ports %v handed out again within their reservation", twice)
	}

	// Past its reservation, a port is free to be handed out again, and is reserved anew.
	port := first[0]
	if ok, err := reserve(dir, port, now.Add(reservedFor-time.Second)); err != nil || ok {
		t.Errorf("reserving port %d again within its reservation: %v, %v; want false", port, ok, err)
	}
	later := now.Add(reservedFor + time.Second)
	if ok, err := reserve(dir, port, later); err != nil || !ok {
		t.Errorf("reserving port %d past its reservation: %v, %v; want true", port, ok, err)
	}
	if ok, err := reserve(dir, port, later.Add(time.Minute)); err != nil || ok {
		t.Errorf("reserving port %d a minute after it was reserved anew: %v, %v; want false", port, ok, err)
	}
}
