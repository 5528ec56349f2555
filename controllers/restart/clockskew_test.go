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

	"k8s.io/client-go/tools/events"
)

// A restart stamped by another replica of the manager whose clock runs ahead, by less than
// maxClockSkew, is meshkeeper's and rolling out; a time further ahead is nobody's restart.
func TestARestartStampedAheadWithinTheSkewIsFollowed(t *testing.T) {
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for ahead, want := range map[time.Duration]int{30 * time.Second: 1, maxClockSkew: 1, time.Hour: 0} {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		p := &pass{now: now}
		r.track(p, rollingDeployment("shop", "web", now.Add(ahead)), shop)
		if len(p.rolling) != want {
			t.Errorf("restarted %s ahead of this process's clock: rolling %d, want %d", ahead, len(p.rolling), want)
		}
	}
}
