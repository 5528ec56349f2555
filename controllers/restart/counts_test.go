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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// statefulSet is a StatefulSet of three replicas restarted at restartedAt, one of them updated to
// updateRevision.
func statefulSet(restartedAt time.Time, updateRevision string) *workload {
	s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", Generation: 2},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3)}}
	s.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	s.Status = appsv1.StatefulSetStatus{ObservedGeneration: 2, Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3,
		CurrentRevision: "db-1", UpdateRevision: updateRevision}
	return asWorkload(s)
}

// A change of the revision a StatefulSet updates to, or of the generation a DaemonSet's controller
// observed, is progress of its rollout, though no count of pods moved: the no-progress clock starts
// again.
func TestARolloutProgressesWithItsRevisionOrGeneration(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	observed := func(generation int64) *workload {
		w := daemonSet(restarted, 10)
		d := w.obj.(*appsv1.DaemonSet)
		d.Generation, d.Status.ObservedGeneration = generation, generation
		return asWorkload(d)
	}
	for name, rollout := range map[string][2]*workload{
		"a StatefulSet's update revision":   {statefulSet(restarted, "db-2"), statefulSet(restarted, "db-3")},
		"a DaemonSet's observed generation": {observed(4), observed(5)},
	} {
		t.Run(name, func(t *testing.T) {
			r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
			p := &pass{now: restarted.Add(5 * time.Minute)} // first seen: the clock starts now
			r.track(p, rollout[0], shop)
			p = &pass{now: restarted.Add(16 * time.Minute)} // 11 minutes on, past the 10-minute deadline
			r.track(p, rollout[1], shop)
			if len(p.rolling) != 1 || len(p.stalled) != 0 {
				t.Errorf("rolling %d, stalled %d, want rolling 1 and not stalled: its rollout moved", len(p.rolling), len(p.stalled))
			}
		})
	}
}

// Only Progressing False is the Deployment controller's verdict that the rollout ran out of its
// deadline: the condition's reason alone is not.
func TestOnlyProgressingFalseExceedsTheDeadline(t *testing.T) {
	for status, want := range map[corev1.ConditionStatus]bool{corev1.ConditionFalse: true, corev1.ConditionTrue: false,
		corev1.ConditionUnknown: false} {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: appsv1.DeploymentStatus{ObservedGeneration: 2,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: status,
				Reason: meshctx.ProgressDeadlineExceeded}}}}
		if got := meshctx.ProgressDeadlinePassed(d); got != want {
			t.Errorf("Progressing %s with reason %s: exceeded %t, want %t", status, meshctx.ProgressDeadlineExceeded, got, want)
		}
	}
}

// A paused Deployment is held as paused, whoever controls it: that is what keeps a change of its pod
// template from rolling it out.
func TestAPausedDeploymentIsHeldAsPausedWhateverItsController(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "web-00001",
			UID: "uid-revision", Controller: ptr.To(true)}}}, Spec: appsv1.DeploymentSpec{Paused: true}}
	if got := asWorkload(d).held; got != "paused" {
		t.Errorf("held %q, want paused", got)
	}
	d.Spec.Paused = false
	if got := asWorkload(d).held; got != "controlled by Revision web-00001" {
		t.Errorf("held %q, want controlled by Revision web-00001", got)
	}
}

// An autoscaler that scales a StatefulSet whose rollout does not move, every few minutes, or nodes
// added to and removed from the cluster of a DaemonSet, start no new stage of the rollout, and the pods
// they add or take away, counted as they come and go, are no progress of it: its no-progress clock runs
// on, and it stalls after its deadline (and a canary is rolled back). A StatefulSet's status of the
// generation before a scale (its controller not caught up yet) is none either.
func TestARolloutScaledWithoutProgressStalls(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	type counts struct {
		after                   time.Duration
		desired, updated, ready int32
		behind                  bool
	}
	statefulSetOf := func(c counts) *workload {
		s := statefulSet(restarted, "db-2").obj.(*appsv1.StatefulSet)
		s.Spec.Replicas = ptr.To(c.desired)
		s.Generation, s.Status.ObservedGeneration = 2+int64(c.after/time.Minute), 2+int64(c.after/time.Minute)
		if c.behind {
			s.Status.ObservedGeneration--
		}
		s.Status.UpdatedReplicas, s.Status.ReadyReplicas, s.Status.AvailableReplicas = c.updated, c.ready, c.ready
		return asWorkload(s)
	}
	daemonSetOf := func(c counts) *workload {
		d := daemonSet(restarted, 10).obj.(*appsv1.DaemonSet)
		d.Status.DesiredNumberScheduled, d.Status.UpdatedNumberScheduled = c.desired, c.updated
		d.Status.NumberReady, d.Status.NumberAvailable = c.ready, c.ready
		return asWorkload(d)
	}
	for name, tc := range map[string]struct {
		rollout func(counts) *workload
		passes  []counts
	}{
		// Its pod of the highest ordinal updated and never ready; scaled with podManagementPolicy Parallel:
		// the new pods, of the new template, turn ready.
		"StatefulSet": {statefulSetOf, []counts{
			{0, 3, 1, 2, false}, // first seen: the clock starts now
			{2 * time.Minute, 4, 1, 2, false},
			{3 * time.Minute, 4, 2, 3, false},
			{5 * time.Minute, 3, 2, 3, true}, // scaled down, its controller not caught up yet
			{6 * time.Minute, 3, 1, 2, false},
			{8 * time.Minute, 5, 1, 2, false},
			{9 * time.Minute, 5, 3, 4, false},
		}},
		// Its pod of one node not ready; a node added, whose pod turns ready, and removed again.
		"DaemonSet": {daemonSetOf, []counts{
			{0, 200, 10, 199, false},
			{2 * time.Minute, 201, 11, 199, false},
			{3 * time.Minute, 201, 11, 200, false},
			{6 * time.Minute, 200, 10, 199, false},
			{8 * time.Minute, 201, 11, 199, false},
			{9 * time.Minute, 201, 11, 200, false},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
			check := func(c counts, wantStalled bool) {
				t.Helper()
				p := &pass{now: restarted.Add(c.after)}
				r.track(p, tc.rollout(c), shop)
				if len(p.rolling) != 1 || (len(p.stalled) == 1) != wantStalled {
					t.Fatalf("after %s with %+v: rolling %d, stalled %d, want stalled %v", c.after, c, len(p.rolling), len(p.stalled), wantStalled)
				}
			}
			for _, c := range tc.passes {
				check(c, false)
			}
			last := tc.passes[len(tc.passes)-1]
			last.after = 10*time.Minute + time.Second
			check(last, true) // no progress for 10 minutes
		})
	}
}
