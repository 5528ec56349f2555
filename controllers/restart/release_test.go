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

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
)

// A StatefulSet or DaemonSet whose owner holds the rollout meshkeeper started (a partition raised, the
// update strategy set to OnDelete) makes no progress while held, and that is not the rollout's doing:
// once released, its deadline runs from then, not from the last progress before it was held. The
// first pass after the release sees the status of before it (its controller has not acted yet).
func TestARolloutReleasedAfterBeingHeldIsNotStalledAtOnce(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		w    *workload
		hold func(w *workload, held bool) *workload
	}{
		"a StatefulSet's partition": {statefulSet(restarted, "db-2"), func(w *workload, held bool) *workload {
			s := w.obj.(*appsv1.StatefulSet).DeepCopy()
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType}
			if held {
				s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](2)}
			}
			return asWorkload(s)
		}},
		"a DaemonSet's OnDelete": {daemonSet(restarted, 10), func(w *workload, held bool) *workload {
			d := w.obj.(*appsv1.DaemonSet).DeepCopy()
			if held {
				d.Spec.UpdateStrategy.Type = appsv1.OnDeleteDaemonSetStrategyType
			}
			return asWorkload(d)
		}},
	} {
		t.Run(name, func(t *testing.T) {
			w, hold := tc.w, tc.hold
			recorder := events.NewFakeRecorder(10)
			r := &Reconciler{Recorder: recorder}
			r.followRollout(w)
			r.startProgress(w) // meshkeeper's restart

			p := &pass{now: restarted.Add(time.Minute)}
			r.track(p, hold(w, false), shop)
			if len(p.rolling) != 1 || len(p.stalled) != 0 {
				t.Fatalf("rolling %d, stalled %d: want rolling, not stalled", len(p.rolling), len(p.stalled))
			}
			p = &pass{now: restarted.Add(2 * time.Minute)} // held by its owner for an hour
			r.track(p, hold(w, true), shop)
			if len(p.rolling) != 0 || len(p.stalled) != 0 {
				t.Fatalf("held: rolling %d, stalled %d, want neither", len(p.rolling), len(p.stalled))
			}
			p = &pass{now: restarted.Add(62 * time.Minute)} // released; its controller has not acted yet
			r.track(p, hold(w, false), shop)
			r.follow(nil, p)
			if len(p.rolling) != 1 || len(p.stalled) != 0 {
				t.Errorf("just released after an hour held: rolling %d, stalled %d, want rolling and not stalled",
					len(p.rolling), len(p.stalled))
			}
			select {
			case e := <-recorder.Events:
				t.Errorf("an Event for a rollout released this instant: %s", e)
			default:
			}
			p = &pass{now: restarted.Add(72*time.Minute + time.Second)} // still no progress for its deadline since
			r.track(p, hold(w, false), shop)
			if len(p.stalled) != 1 {
				t.Errorf("no progress for its deadline since the release: stalled %d, want 1", len(p.stalled))
			}
		})
	}
}
