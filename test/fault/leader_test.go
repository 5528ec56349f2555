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

package fault

import (
	"strings"
	"testing"
	"time"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// leaderArgs are the flags of a replica: leader election with a Lease in the default namespace (out of
// a cluster there is no namespace of the pod's own) and short timings, so a standby takes over within
// seconds of the leader's death.
var leaderArgs = []string{
	"--leader-elect",
	"--leader-election-namespace=default",
	"--leader-election-lease-duration=4s",
	"--leader-election-renew-deadline=3s",
	"--leader-election-retry-period=500ms",
}

// acquired is what controller-runtime's leader election logs when a replica takes the lead.
const acquired = "Successfully acquired lease"

// TestLeaderElection runs two replicas with leader election. The leader installs the mesh; during an
// upgrade, with istiod's new revision pending, the leader is SIGKILLed; the standby takes the lead and
// finishes the upgrade. Every status of every release Secret is watched: no two revisions of a release
// are ever pending at once (no two Helm actions overlapped), and no replica ever met Helm's "another
// operation is in progress".
func TestLeaderElection(t *testing.T) {
	e := newEnv(t, 8*time.Minute)
	releases := e.watchReleases("")
	a := e.start("a", leaderArgs...)
	b := e.start("b", leaderArgs...)
	var leader, standby *manager
	e.waitFor("a leader", time.Minute, func() string {
		switch {
		case strings.Contains(a.Log(), acquired):
			leader, standby = a, b
		case strings.Contains(b.Log(), acquired):
			leader, standby = b, a
		default:
			return "neither replica has the lease"
		}
		return ""
	})
	e.apply(meshManifest("1.31.0", "fault-leader"))
	e.waitFor("the mesh Ready on 1.31.0", 4*time.Minute, e.ready("1.31.0"))
	if strings.Contains(standby.Log(), acquired) {
		e.fatalf("both replicas acquired the lease")
	}

	e.apply(meshManifest("1.31.1", "fault-leader"))
	pending := releases.until(e, "an upgrade of istiod pending", 2*time.Minute, status("istiod", "pending-upgrade"))
	leader.Kill()
	killed := time.Now()
	t.Logf("killed the leader %s with %s %q", leader.name, pending.Name, e.releaseStatus("istiod", revision(pending)))
	e.waitFor("the standby to take the lead", time.Minute, func() string {
		if !strings.Contains(standby.Log(), acquired) {
			return "the standby has not acquired the lease"
		}
		return ""
	})
	t.Logf("the standby took the lead %s after the kill", time.Since(killed).Round(100*time.Millisecond))
	e.waitFor("the mesh Ready on 1.31.1", 4*time.Minute, e.ready("1.31.1"))
	e.checkInvariants(meshReady)

	e.deleteMesh()
	e.waitFor("the ServiceMesh gone", 3*time.Minute, e.gone)
	e.checkInvariants(uninstalled)

	if overlaps := releases.overlaps(); len(overlaps) > 0 {
		t.Errorf("Helm actions overlapped: %v", overlaps)
	}
	for _, m := range []*manager{a, b} {
		if strings.Contains(m.Log(), "another operation") {
			t.Errorf("replica %s met a concurrent Helm operation:\n%s", m.name, testenv.TailLines(m.Log(), 30))
		}
	}
	t.Logf("release statuses seen: %v", releases.statuses())
}
