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

package chaos

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// faultedWriteBound is how many times the writes of a clean run a faulted run may make. A faulted
// write is retried, and a failed pass retries what it had not finished, so a run at fault rate r
// needs about 1/(1-r) of the clean writes plus the status updates that report each failure; three
// times is room for that, and a retry loop that rewrote what was already applied, or a hot loop,
// exceeds it.
const faultedWriteBound = 3

// TestConvergesThroughAFaultyAPIServer runs the same install, enrollment and spec change twice behind
// the proxy: first without faults, counting the writes; then, after an uninstall, with faults
// (CHAOS_FAULT_RATE, default 0.15) until the spec change had time to apply, then without. The
// mesh must converge, the users' fields set as another field manager must be untouched, and the
// faulted run may make at most faultedWriteBound times the clean run's writes.
func TestConvergesThroughAFaultyAPIServer(t *testing.T) {
	rate := 0.15
	if v := os.Getenv("CHAOS_FAULT_RATE"); v != "" {
		var err error
		if rate, err = strconv.ParseFloat(v, 64); err != nil || rate <= 0 || rate >= 1 {
			t.Fatalf("CHAOS_FAULT_RATE=%q: want a number between 0 and 1", v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	e := startEnv(ctx, t, 1)
	m := newModel("ns-a", "ns-b", "ns-c")
	e.createUserObjects(m)

	run := func(faulted bool) Counts {
		t.Helper()
		m.installed, m.mtls = true, "PERMISSIVE"
		m.listed = map[string]bool{"ns-a": true, "ns-b": true}
		e.proxy.Reset()
		if faulted {
			e.proxy.SetFaultRate(rate)
		}
		start := time.Now()
		e.applyMesh(m)
		if faulted {
			// The install and enrollment go on under faults; converged or not, the spec changes.
			if err := e.waitConverged(m, 2*time.Minute); err != nil {
				t.Logf("not yet converged under faults after 2m: %v", err)
			}
		} else {
			e.settle(m)
		}
		m.listed["ns-c"], m.mtls = true, "STRICT"
		e.applyMesh(m)
		if faulted {
			if err := e.waitConverged(m, time.Minute); err != nil {
				t.Logf("the spec change not yet converged under faults after 1m: %v", err)
			}
			e.proxy.SetFaultRate(0)
			t.Logf("faults off after %s: %+v", time.Since(start).Round(time.Second), e.proxy.Counts())
		}
		e.settle(m)
		counts := e.proxy.Counts()
		t.Logf("faulted=%t: converged and quiet after %s: %d writes reached the API server %v; faults %v",
			faulted, time.Since(start).Round(time.Second), counts.Writes(), counts.Reached, counts.Faults)
		return counts
	}

	clean := run(false)
	m.installed = false
	e.deleteMesh()
	e.settle(m)
	faulted := run(true)

	if faulted.Faults[FaultConflict]+faulted.Faults[FaultThrottle]+faulted.Faults[FaultInternal] == 0 {
		t.Errorf("no request was faulted: %v", faulted.Faults)
	}
	if bound := faultedWriteBound * clean.Writes(); faulted.Writes() > bound {
		t.Errorf("the faulted run made %d writes, more than %d× the clean run's %d; the most written:\n%s\nin the clean run:\n%s",
			faulted.Writes(), faultedWriteBound, clean.Writes(),
			strings.Join(faulted.TopTargets(15), "\n"), strings.Join(clean.TopTargets(15), "\n"))
	}
	// The users' fields were checked by settle; check them once more after the faults, in case a
	// late retry wrote over them.
	if err := e.converged(m); err != nil {
		t.Error(err)
	}
}
