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

// A restart annotation dated further ahead than maxClockSkew is nobody's restart: a workload whose pods
// need a restart, rolled out and carrying such a time (written by hand, or on a pod template copied
// from elsewhere), waits for no cool-off and is restarted like any other, not held until that time
// (here a year ahead) without a word; within the skew it is a restart of meshkeeper's, which the pods
// from before it wait for.
func TestARestartDatedFarAheadHoldsNothingBack(t *testing.T) {
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for ahead, want := range map[time.Duration]int{365 * 24 * time.Hour: 1, 2 * maxClockSkew: 1, maxClockSkew: 0, 30 * time.Second: 0} {
		w := cachedDeployment("uid-1", now.Add(ahead))
		p := &pass{now: now, candidates: []*candidate{{workload: w, ready: true, newest: now.Add(-time.Hour), oldest: now.Add(-time.Hour)}}}
		if got := len(p.waiting()); got != want {
			t.Errorf("restarted-at %s ahead: %d waiting for a restart, want %d", ahead, got, want)
		}
	}
}
