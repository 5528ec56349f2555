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
	"time"

	"github.com/meshkeeper/meshkeeper/test/faultkit"
)

// The end states a scenario converges to.
const (
	meshReady   = faultkit.MeshReady
	uninstalled = faultkit.Uninstalled
)

// checkInvariants waits up to a minute for every invariant of faultkit.Violations to hold in the given
// end state (the garbage collector and the controllers of the cluster may still be finishing), and
// fails the test with each violation when they do not.
func (e *env) checkInvariants(state faultkit.State) {
	e.t.Helper()
	var violations []string
	deadline := time.Now().Add(time.Minute)
	for {
		violations = faultkit.Violations(e.ctx, sim.RESTConfig(), e.client, controlPlaneNamespace, state)
		if len(violations) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	if len(violations) > 0 {
		e.fatalf("invariants broken (%s):\n  %s", state, strings.Join(violations, "\n  "))
	}
}
