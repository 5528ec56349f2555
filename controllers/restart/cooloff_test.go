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
	"context"
	"math"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// withDeadline is cachedDeployment's workload with progressDeadlineSeconds seconds.
func withDeadline(w *workload, seconds int32) *workload {
	d := w.obj.(*appsv1.Deployment)
	d.Spec.ProgressDeadlineSeconds = ptr.To(seconds)
	return asWorkload(d)
}

// A workload restarted less than its deadline ago waits for it to pass, and the pass looks again
// then, not at the next unrelated event.
func TestAPassLooksAgainWhenTheCoolOffEnds(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	mesh := &meshv1alpha1.ServiceMesh{}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	c := &candidate{workload: withDeadline(cachedDeployment("uid-1", restarted), 600), ready: true,
		newest: restarted.Add(time.Minute), oldest: restarted.Add(time.Minute), sample: podOfRestart(restarted.Add(time.Minute), restarted)}
	p := &pass{now: restarted.Add(5 * time.Minute), candidates: []*candidate{c}}
	result, err := r.restart(context.Background(), mesh, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.pending) != 0 {
		t.Errorf("pending %d, want none before the deadline of the last restart passed", len(p.pending))
	}
	if want := 5*time.Minute + time.Second; result.RequeueAfter != want {
		t.Errorf("requeue after %s, want %s", result.RequeueAfter, want)
	}
}

// progressDeadlineSeconds 2147483647 is Kubernetes' "no deadline": it holds back neither another
// restart of the workload for 68 years, nor makes every rollout of it after meshkeeper's restart
// meshkeeper's.
func TestNoDeadlineHoldsNothingBackForEver(t *testing.T) {
	restarted := time.Date(2025, 11, 28, 1, 0, 0, 0, time.UTC)
	now := restarted.Add(365 * 24 * time.Hour)
	w := withDeadline(cachedDeployment("uid-1", restarted), math.MaxInt32)
	if got := w.coolOff(); got > maxCoolOff {
		t.Errorf("cool-off %s, want at most %s", got, maxCoolOff)
	}
	c := &candidate{workload: w, ready: true, target: target{revision: "default", version: "1.31.2"},
		newest: restarted.Add(time.Minute), oldest: restarted.Add(time.Minute), sample: podOfRestart(restarted.Add(time.Minute), restarted)}
	p := &pass{now: now, candidates: []*candidate{c}}
	if got := p.waiting(); len(got) != 1 {
		t.Errorf("waiting %d, want the workload restarted a year ago", len(got))
	}

	// Its owner's rollout a year later, seen by a manager that did not follow the restart, is not
	// meshkeeper's.
	d := w.obj.(*appsv1.Deployment)
	d.Generation, d.Status.UpdatedReplicas = 4, 0
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	p = &pass{now: now}
	r.track(p, asWorkload(d), shop)
	if len(p.rolling) != 0 {
		t.Errorf("rolling %d, want none: a rollout a year after the restart is not meshkeeper's", len(p.rolling))
	}
}

// A deadline longer than maxCoolOff holds another restart back for maxCoolOff.
func TestTheCoolOffIsCapped(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for seconds, want := range map[int32]time.Duration{60: time.Minute, 600: 10 * time.Minute,
		7200: maxCoolOff, math.MaxInt32: defaultDeadline} {
		if got := withDeadline(cachedDeployment("uid-1", restarted), seconds).coolOff(); got != want {
			t.Errorf("progressDeadlineSeconds %d: cool-off %s, want %s", seconds, got, want)
		}
	}
}
