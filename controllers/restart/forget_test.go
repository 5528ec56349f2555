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

package restart

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
)

// What this process follows of a workload goes with it once the cache no longer lists it. A restart
// it applied that the cache never showed (the workload went first) has no other way out: lagging drops
// it only for a workload it sees. This is the part of forgetGone no pass shows through the API
// server (test/integration/restart covers what a pass does with the rest): the memory of a manager
// that outlives many CI namespaces. It needs no store.
func TestForgetGoneDropsWhatIsFollowedOfWorkloadsGone(t *testing.T) {
	at := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	const gone, kept = "Deployment ci/gone", "Deployment ci/kept"
	note := "stalled at " + at.Format(time.RFC3339)
	r := &Reconciler{rolling: map[string]types.UID{gone: "uid-1", kept: "uid-2"},
		written: map[string]writtenRestart{gone: {uid: "uid-1", at: at}, kept: {uid: "uid-2", at: at}}}
	r.reported.Changed(gone, note)
	r.reported.Changed(kept, note)
	r.forgetGone(sets.New(kept))
	if _, ok := r.rolling[kept]; len(r.rolling) != 1 || !ok {
		t.Errorf("rolling after %s went: %v, want only %s", gone, r.rolling, kept)
	}
	if _, ok := r.written[kept]; len(r.written) != 1 || !ok {
		t.Errorf("written after %s went: %v, want only %s", gone, r.written, kept)
	}
	if !r.reported.Changed(gone, note) {
		t.Errorf("the stall of %s is still remembered after it went", gone)
	}
	if r.reported.Changed(kept, note) {
		t.Errorf("the stall of %s, still listed, was forgotten", kept)
	}
}
