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

// deployment is a Deployment of desired replicas restarted at restartedAt, in the rollout of its
// revision, whose status counts replicas pods (updated of them of the current template), ready and
// available of them; the Deployment controller says it progresses (Progressing True), as it says through
// every scale of the rollout's ReplicaSets.
func deployment(restartedAt time.Time, revision string, desired, replicas, updated, ready, available int32) *workload {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: 2,
		Annotations: map[string]string{revisionAnnotation: revision}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(desired), ProgressDeadlineSeconds: ptr.To[int32](600)}}
	d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: replicas, UpdatedReplicas: updated, ReadyReplicas: ready,
		AvailableReplicas: available, Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing,
			Status: corev1.ConditionTrue, Reason: "ReplicaSetUpdated"}}}
	return asWorkload(d)
}

// A Deployment whose rollout does not move (its new pods never turn ready) while an autoscaler scales it
// up and down every few minutes never gets ProgressDeadlineExceeded: the Deployment controller counts
// the pods each scale adds to the new ReplicaSet, or takes from the old one, as progress. meshkeeper's
// own judgement does not: it stalls after its deadline (and a canary is rolled back).
func TestADeploymentScaledWithoutProgressStalls(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	type counts struct {
		after                                        time.Duration
		desired, replicas, updated, ready, available int32
		behind                                       bool
	}
	// maxSurge and maxUnavailable 25%: the old ReplicaSet's pods ready, the new one's never.
	passes := []counts{
		{0, 4, 5, 2, 3, 3, false}, // first seen: the clock starts now
		{2 * time.Minute, 8, 10, 4, 6, 6, false},
		{3 * time.Minute, 4, 10, 4, 6, 6, true}, // scaled down, its controller not caught up yet
		{5 * time.Minute, 4, 5, 2, 3, 3, false},
		{8 * time.Minute, 6, 8, 3, 5, 5, false},
		{9 * time.Minute, 4, 5, 2, 3, 3, false},
	}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	check := func(c counts, wantStalled bool) {
		t.Helper()
		w := deployment(restarted, "5", c.desired, c.replicas, c.updated, c.ready, c.available)
		d := w.obj.(*appsv1.Deployment)
		// Each scale is a generation of its own.
		d.Generation, d.Status.ObservedGeneration = 2+int64(c.after/time.Minute), 2+int64(c.after/time.Minute)
		if c.behind {
			d.Status.ObservedGeneration--
		}
		p := &pass{now: restarted.Add(c.after)}
		r.track(p, asWorkload(d), shop)
		if len(p.rolling) != 1 || (len(p.stalled) == 1) != wantStalled {
			t.Fatalf("after %s with %+v: rolling %d, stalled %d, want stalled %v", c.after, c, len(p.rolling), len(p.stalled), wantStalled)
		}
	}
	for _, c := range passes {
		check(c, false)
	}
	last := passes[len(passes)-1]
	last.after = 10*time.Minute + time.Second
	check(last, true) // no progress for 10 minutes
}

// A Deployment's rollout that moves is not stalled by meshkeeper's own judgement: its new pods created
// (Recreate: all at once), then made ready and available one by one, each within the deadline, though
// the pods of the old template were ready and available as it started; and a new pod template (a new
// revision) starts its count again. The Deployment controller's verdict alone stalls it.
func TestADeploymentThatProgressesIsNotStalled(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	check := func(after time.Duration, w *workload, wantStalled bool) {
		t.Helper()
		p := &pass{now: restarted.Add(after)}
		r.track(p, w, shop)
		if len(p.rolling) != 1 || (len(p.stalled) == 1) != wantStalled {
			d := w.obj.(*appsv1.Deployment)
			t.Fatalf("after %s with %+v: rolling %d, stalled %d, want stalled %v", after, d.Status, len(p.rolling), len(p.stalled), wantStalled)
		}
	}
	check(0, deployment(restarted, "5", 4, 4, 0, 4, 4), false)
	check(time.Minute, deployment(restarted, "5", 4, 0, 0, 0, 0), false) // the old pods gone
	check(2*time.Minute, deployment(restarted, "5", 4, 4, 4, 0, 0), false)
	for i := range int32(3) {
		check(time.Duration(11+9*i)*time.Minute, deployment(restarted, "5", 4, 4, 4, i+1, i+1), false)
	}
	// Its owner writes a new pod template: its rollout starts again, all four pods to update.
	check(39*time.Minute, deployment(restarted, "6", 4, 5, 1, 3, 3), false)
	check(48*time.Minute, deployment(restarted, "6", 4, 5, 1, 3, 3), false)
	check(49*time.Minute+time.Second, deployment(restarted, "6", 4, 5, 1, 3, 3), true)

	// The Deployment controller says it exceeded its deadline: stalled, whatever meshkeeper counted.
	r = &Reconciler{Recorder: events.NewFakeRecorder(10)}
	exceeded := deployment(restarted, "5", 4, 5, 2, 3, 3)
	exceeded.obj.(*appsv1.Deployment).Status.Conditions[0].Status = corev1.ConditionFalse
	exceeded.obj.(*appsv1.Deployment).Status.Conditions[0].Reason = meshctx.ProgressDeadlineExceeded
	check(time.Minute, exceeded, true)
}
