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
