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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// notReadyNode is a DaemonSet restarted at restartedAt that runs a pod of its current template on each
// of its 200 nodes, one of them not ready: a node gone NotReady after the rollout, or the last pod of the
// rollout still starting.
func notReadyNode(restartedAt time.Time) *workload {
	d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent", Generation: 4, UID: "agent-1"}}
	d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	d.Status = appsv1.DaemonSetStatus{ObservedGeneration: 4, DesiredNumberScheduled: 200, UpdatedNumberScheduled: 200,
		NumberReady: 199, NumberAvailable: 199, NumberUnavailable: 1}
	return asWorkload(d)
}

// A manager that takes over judges a DaemonSet restart it did not follow done once every node runs a pod
// of the current template, whatever the nodes' readiness; one it follows must also become ready and
// available, and one the status records as stalled stays stalled, as for any other kind.
func TestADaemonSetRestartOnEveryNodeIsDoneForAManagerThatTakesOver(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	now := restarted.Add(time.Minute)
	later := restarted.Add(15 * time.Minute) // past the deadline of 10 minutes, within twice the cool-off
	key := notReadyNode(restarted).key()

	t.Run("taken over", func(t *testing.T) {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		for _, at := range []time.Time{now, later} {
			p := &pass{now: at}
			r.track(p, notReadyNode(restarted), shop)
			if len(p.rolling) != 0 || len(p.stalled) != 0 {
				t.Errorf("at %s: rolling %d, stalled %d, want the restart done", at.Sub(restarted), len(p.rolling), len(p.stalled))
			}
		}
		if !r.completed[key].Equal(restarted) {
			t.Errorf("completed restarts %v, want %s's of %s", r.completed, key, restarted)
		}
	})

	t.Run("taken over before its controller saw the restart", func(t *testing.T) {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		w := notReadyNode(restarted)
		w.obj.(*appsv1.DaemonSet).Status.ObservedGeneration = 3
		p := &pass{now: now}
		r.track(p, asWorkload(w.obj), shop)
		if len(p.rolling) != 1 {
			t.Errorf("rolling %d, want the restart its controller has not seen yet rolling out", len(p.rolling))
		}
	})

	t.Run("taken over with no pod available", func(t *testing.T) {
		// On a DaemonSet of one node, or with every node's pod not ready, nothing shows that the restarted
		// template can run at all.
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		w := notReadyNode(restarted)
		w.obj.(*appsv1.DaemonSet).Status.NumberReady, w.obj.(*appsv1.DaemonSet).Status.NumberAvailable = 0, 0
		p := &pass{now: later}
		r.track(p, asWorkload(w.obj), shop)
		if len(p.rolling) != 1 || len(r.completed) != 0 {
			t.Errorf("rolling %d, completed %v, want the restart of which no pod is available followed as rolling out",
				len(p.rolling), r.completed)
		}
	})

	t.Run("followed by this process", func(t *testing.T) {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		r.rolling = map[string]types.UID{key: "agent-1"}
		r.startProgress(notReadyNode(restarted))
		p := &pass{now: later}
		r.track(p, notReadyNode(restarted), shop)
		if len(p.rolling) != 1 || len(p.stalled) != 1 {
			t.Errorf("rolling %d, stalled %d, want the restart this process made stalled with a pod not ready for its deadline",
				len(p.rolling), len(p.stalled))
		}
	})

	t.Run("recorded as stalled", func(t *testing.T) {
		r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
		p := &pass{now: now, recordedStalls: map[string]time.Time{key: restarted}}
		r.track(p, notReadyNode(restarted), shop)
		if len(p.rolling) != 1 || len(p.stalled) != 1 {
			t.Errorf("rolling %d, stalled %d, want the recorded stall to hold until the DaemonSet rolls out", len(p.rolling), len(p.stalled))
		}
	})
}
