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
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"
)

// A restart this process made and saw roll out, which its owner took back since (kubectl rollout undo
// to the template of an earlier restart), is held on the same target like one taken back while it
// rolled out: the rollout of the template brought back is its owner's, and another restart would
// override the owner. A change of the target releases it.
func TestARestartTakenBackAfterItRolledOutIsHeld(t *testing.T) {
	earlier := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	restarted := earlier.Add(2 * time.Hour)
	judged := target{revision: "default", version: "1.31.2"}
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: recorder}
	// What restart does after its apply succeeded.
	applied := cachedDeployment("uid-1", restarted)
	r.rememberTarget(&candidate{workload: applied, target: judged})
	r.mu.Lock()
	r.followRollout(applied)
	r.mu.Unlock()

	r.track(&pass{now: restarted.Add(time.Minute)}, applied, shop)
	if len(recorder.Events) != 1 {
		t.Fatalf("%d Events once the restart rolled out, want its Restarted", len(recorder.Events))
	}
	<-recorder.Events

	undone := cachedDeployment("uid-1", earlier)
	p := &pass{now: restarted.Add(time.Hour)}
	r.track(p, undone, shop)
	if len(recorder.Events) != 0 || len(p.rolling) != 0 {
		t.Errorf("the owner's rollout is meshkeeper's: %d Events, rolling %d", len(recorder.Events), len(p.rolling))
	}
	why := r.heldAfterUndo(&candidate{workload: undone, target: judged})
	if want := "which rolled out and was taken back by its owner since"; !strings.Contains(why, want) {
		t.Errorf("held %q, want it held saying %q", why, want)
	}
	upgraded := judged
	upgraded.version = "1.31.3"
	if why := r.heldAfterUndo(&candidate{workload: undone, target: upgraded}); why != "" {
		t.Errorf("held %q after the target changed", why)
	}
}
