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
)

// A workload deleted and created again under its name between two passes (kubectl replace --force, a
// restore from a backup), its pod template carrying meshkeeper's annotation of the old one, is not the
// rollout meshkeeper followed: this process does not follow it, so a new Deployment that its
// controller has not judged yet is not taken for a stall of meshkeeper's restart hours ago, and its
// rollout neither holds the budget nor ends in a Restarted Event. meshkeeper's own restart of the
// workload it applied to stays followed.
func TestAWorkloadCreatedAgainIsNotTheRolloutFollowed(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	// The old one: meshkeeper restarted it at restarted and follows its rollout, which moves slowly and
	// was never stalled (Progressing True): its new pod created by the second pass.
	d := cachedDeployment("uid-1", restarted).obj.(*appsv1.Deployment)
	d.Generation, d.Status.ObservedGeneration, d.Status.UpdatedReplicas = 4, 4, 0
	d.Status.Conditions = []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue,
		Reason: "ReplicaSetUpdated"}}
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: recorder}
	for i, after := range []time.Duration{time.Minute, 3 * time.Hour} {
		d.Status.Replicas, d.Status.UpdatedReplicas = int32(1+i), int32(i)
		p := &pass{now: restarted.Add(after)}
		r.track(p, asWorkload(d), shop)
		if len(p.rolling) != 1 || len(p.stalled) != 0 {
			t.Fatalf("the old one after %s: rolling %d, stalled %d, want rolling and not stalled", after, len(p.rolling), len(p.stalled))
		}
	}

	// Created again, with the old one's pod template: a new object its controller has not acted on yet.
	again := cachedDeployment("uid-2", restarted).obj.(*appsv1.Deployment)
	again.Generation, again.Status = 1, appsv1.DeploymentStatus{}
	p := &pass{now: restarted.Add(3*time.Hour + time.Minute)}
	r.track(p, asWorkload(again), shop)
	r.follow(nil, p)
	if len(p.rolling) != 0 || len(p.stalled) != 0 {
		t.Errorf("created again: rolling %d, stalled %d, want neither: meshkeeper did not restart it", len(p.rolling), len(p.stalled))
	}
	for _, e := range drain(recorder) {
		t.Errorf("an Event for a workload meshkeeper did not restart: %s", e)
	}
	again.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	p = &pass{now: restarted.Add(3*time.Hour + 2*time.Minute)}
	r.track(p, asWorkload(again), shop)
	for _, e := range drain(recorder) {
		t.Errorf("an Event for a rollout meshkeeper did not start: %s", e)
	}
}

// drain returns the Events recorded so far.
func drain(recorder *events.FakeRecorder) []string {
	var recorded []string
	for {
		select {
		case e := <-recorder.Events:
			recorded = append(recorded, e)
		default:
			return recorded
		}
	}
}

// A workload created again under its name within twice the deadline of meshkeeper's restart of the one
// before, its pod template copied with that restart's annotation, is not followed either: created after
// the restart, it cannot be the workload restarted, and its rollout, stuck or not, is its owner's, not a
// stall of meshkeeper's restart (which would stop every restart, or roll a canary back).
func TestAWorkloadCreatedAgainSoonAfterARestartIsNotFollowed(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	old := cachedDeployment("uid-1", restarted)
	old.obj.SetCreationTimestamp(metav1.NewTime(restarted.Add(-24 * time.Hour)))
	r.followRollout(old)
	r.startProgress(old)

	again := cachedDeployment("uid-2", restarted).obj.(*appsv1.Deployment)
	again.CreationTimestamp = metav1.NewTime(restarted.Add(75 * time.Second))
	again.Generation, again.Status = 1, appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1}
	// Within twice its deadline of a minute of the restart, the time a rollout not complete counts as
	// meshkeeper's.
	for _, after := range []time.Duration{76 * time.Second, 2 * time.Minute} {
		p := &pass{now: restarted.Add(after)}
		r.track(p, asWorkload(again), shop)
		if len(p.rolling) != 0 || len(p.stalled) != 0 {
			t.Fatalf("created again, after %s: rolling %d, stalled %d, want neither: meshkeeper did not restart it",
				after, len(p.rolling), len(p.stalled))
		}
	}
}
