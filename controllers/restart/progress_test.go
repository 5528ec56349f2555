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
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// daemonSet is a DaemonSet of 200 nodes restarted at restartedAt, of which updated pods are updated
// and ready.
func daemonSet(restartedAt time.Time, updated int32) *workload {
	d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent", Generation: 4}}
	d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	d.Status = appsv1.DaemonSetStatus{ObservedGeneration: 4, DesiredNumberScheduled: 200, UpdatedNumberScheduled: updated,
		NumberReady: 199 + updated/200, NumberAvailable: 199 + updated/200}
	return asWorkload(d)
}

// A DaemonSet found rolling out after a restart of meshkeeper: its no-progress clock starts at the
// first pass that sees it, each rise of its counts starts it again, and the pass looks again when it
// would run out.
func TestADaemonSetStallsAfterNoProgressForItsDeadline(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	mesh := &meshv1alpha1.ServiceMesh{}
	check := func(at time.Time, updated int32, wantStalled bool, wantRequeue time.Duration) {
		t.Helper()
		p := &pass{now: at}
		r.track(p, daemonSet(restarted, updated), shop)
		if len(p.rolling) != 1 || (len(p.stalled) == 1) != wantStalled {
			t.Fatalf("at %s with %d updated: rolling %d, stalled %d, want stalled %v", at.Sub(restarted), updated,
				len(p.rolling), len(p.stalled), wantStalled)
		}
		result, err := r.restart(context.Background(), mesh, p)
		if err != nil || result.RequeueAfter != wantRequeue {
			t.Errorf("at %s: requeue after %s (%v), want %s", at.Sub(restarted), result.RequeueAfter, err, wantRequeue)
		}
	}
	check(restarted.Add(5*time.Minute), 10, false, 10*time.Minute+time.Second) // first seen: the clock starts now
	check(restarted.Add(14*time.Minute), 10, false, time.Minute+time.Second)
	check(restarted.Add(14*time.Minute), 11, false, 10*time.Minute+time.Second) // progress
	check(restarted.Add(24*time.Minute), 11, false, time.Second)
	check(restarted.Add(24*time.Minute+time.Second), 11, true, 0)
}

// A Deployment's Progressing condition is the Deployment controller's verdict, for the generation it
// observed: ProgressDeadlineExceeded of a generation before meshkeeper's restart is not this rollout's.
func TestADeploymentStallsAsItsControllerSays(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		observed  int64
		condition *appsv1.DeploymentCondition
		after     time.Duration
		want      bool
	}{
		"progressing, past the deadline": {4, &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}, time.Hour, false},
		"deadline exceeded": {4, &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}, 2 * time.Minute, true},
		"deadline exceeded of the generation before": {3, &appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"}, 2 * time.Minute, false},
		"no condition, within the deadline": {4, nil, time.Minute, false},
		"no condition, past the deadline":   {4, nil, time.Minute + time.Second, true},
	} {
		t.Run(name, func(t *testing.T) {
			w := cachedDeployment("uid-1", restarted)
			d := w.obj.(*appsv1.Deployment)
			d.Generation, d.Status.ObservedGeneration, d.Status.UpdatedReplicas = 4, tc.observed, 0
			if tc.condition != nil {
				d.Status.Conditions = []appsv1.DeploymentCondition{*tc.condition}
			}
			r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
			r.followRollout(w)
			p := &pass{now: restarted.Add(tc.after)}
			r.track(p, asWorkload(d), shop)
			if len(p.rolling) != 1 || (len(p.stalled) == 1) != tc.want {
				t.Errorf("rolling %d, stalled %d, want stalled %v", len(p.rolling), len(p.stalled), tc.want)
			}
		})
	}
}

// A StatefulSet's or DaemonSet's rollout whose counts fall and rise back (a new pod that turns ready and
// crashes again and again, a node that goes NotReady and comes back) makes no progress by it: its
// no-progress clock runs on, and it stalls after its deadline. A count above the highest it reached is
// progress.
func TestARolloutWhoseCountsFlapStalls(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	for name, rollout := range map[string]func(updated, ready int32) *workload{
		"StatefulSet": func(updated, ready int32) *workload {
			s := statefulSet(restarted, "db-2").obj.(*appsv1.StatefulSet)
			s.Status.UpdatedReplicas, s.Status.ReadyReplicas, s.Status.AvailableReplicas = updated, ready, ready
			return asWorkload(s)
		},
		"DaemonSet": func(updated, ready int32) *workload {
			d := daemonSet(restarted, 10).obj.(*appsv1.DaemonSet)
			d.Status.UpdatedNumberScheduled, d.Status.NumberReady, d.Status.NumberAvailable = updated, ready, ready
			return asWorkload(d)
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
			check := func(after time.Duration, updated, ready int32, wantStalled bool) {
				t.Helper()
				p := &pass{now: restarted.Add(after)}
				r.track(p, rollout(updated, ready), shop)
				if len(p.rolling) != 1 || (len(p.stalled) == 1) != wantStalled {
					t.Fatalf("after %s with %d updated and %d ready: rolling %d, stalled %d, want stalled %v", after, updated, ready,
						len(p.rolling), len(p.stalled), wantStalled)
				}
			}
			check(0, 1, 2, false)             // first seen: the clock starts now
			check(5*time.Minute, 2, 2, false) // one more updated pod: progress
			check(8*time.Minute, 2, 1, false)
			check(11*time.Minute, 2, 2, false)
			check(14*time.Minute, 2, 1, false)
			check(15*time.Minute+time.Second, 2, 2, true) // back up to where it was: no progress for 10 minutes
		})
	}
}
