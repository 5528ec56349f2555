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
)

// A pod that carries another restarted-at value than its workload's pod template predates the
// template's restart, whichever value is the later: the template was changed back since (kubectl
// rollout undo brings back the previous annotations) and the pod is not of the restart it names.
// The workload waits for its rollout; it is neither restarted again nor held as futile.
func TestAPodOfALaterRestartPredatesTheTemplate(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	later := restarted.Add(time.Hour)
	c := &candidate{workload: cachedDeployment("uid-1", restarted), ready: true, target: target{revision: "default", version: "1.31.1"},
		newest: later, oldest: later, sample: podOfRestart(later, later), pods: []string{"shop/web-1"}}
	if !c.predatesRestart() {
		t.Errorf("a pod carrying the restart of %s does not predate the template's restart of %s", later, restarted)
	}
	p := &pass{now: restarted.Add(24 * time.Hour), candidates: []*candidate{c}}
	if got := p.waiting(); len(got) != 0 {
		t.Errorf("waiting %d, want none: its pod is not of the template's restart", len(got))
	}
}
