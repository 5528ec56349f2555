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

package meshctx

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// A workload has rolled out only when every one of its desired pods runs the current template and is
// available: a pod that is ready but not yet available (minReadySeconds) still counts as rolling out,
// since the restarts start their next rollout, and count this one done, on that answer.
func TestRolledOut(t *testing.T) {
	deployment := func(edit func(*appsv1.DeploymentStatus)) client.Object {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}}
		edit(&d.Status)
		return d
	}
	statefulSet := func(edit func(*appsv1.StatefulSetStatus)) client.Object {
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2}}
		edit(&s.Status)
		return s
	}
	daemonSet := func(edit func(*appsv1.DaemonSetStatus)) client.Object {
		d := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 3},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberReady: 2,
				NumberAvailable: 2}}
		edit(&d.Status)
		return d
	}
	tests := map[string]struct {
		obj  client.Object
		want bool
	}{
		"Deployment rolled out":                              {deployment(func(*appsv1.DeploymentStatus) {}), true},
		"Deployment whose controller has not seen the spec":  {deployment(func(s *appsv1.DeploymentStatus) { s.ObservedGeneration = 2 }), false},
		"Deployment with a pod of the old template":          {deployment(func(s *appsv1.DeploymentStatus) { s.UpdatedReplicas = 1 }), false},
		"Deployment with an old pod still terminating":       {deployment(func(s *appsv1.DeploymentStatus) { s.Replicas = 3 }), false},
		"Deployment with a pod not ready":                    {deployment(func(s *appsv1.DeploymentStatus) { s.ReadyReplicas = 1 }), false},
		"Deployment with a ready pod not yet available":      {deployment(func(s *appsv1.DeploymentStatus) { s.AvailableReplicas = 1 }), false},
		"StatefulSet rolled out":                             {statefulSet(func(*appsv1.StatefulSetStatus) {}), true},
		"StatefulSet whose controller has not seen the spec": {statefulSet(func(s *appsv1.StatefulSetStatus) { s.ObservedGeneration = 2 }), false},
		"StatefulSet with a pod of the old template":         {statefulSet(func(s *appsv1.StatefulSetStatus) { s.UpdatedReplicas = 1 }), false},
		"StatefulSet with a pod not ready":                   {statefulSet(func(s *appsv1.StatefulSetStatus) { s.ReadyReplicas = 1 }), false},
		"StatefulSet with a ready pod not yet available":     {statefulSet(func(s *appsv1.StatefulSetStatus) { s.AvailableReplicas = 1 }), false},
		"DaemonSet rolled out":                               {daemonSet(func(*appsv1.DaemonSetStatus) {}), true},
		"DaemonSet whose controller has not seen the spec":   {daemonSet(func(s *appsv1.DaemonSetStatus) { s.ObservedGeneration = 2 }), false},
		"DaemonSet with a pod of the old template":           {daemonSet(func(s *appsv1.DaemonSetStatus) { s.UpdatedNumberScheduled = 1 }), false},
		"DaemonSet with a pod not ready":                     {daemonSet(func(s *appsv1.DaemonSetStatus) { s.NumberReady = 1 }), false},
		"DaemonSet with a ready pod not yet available":       {daemonSet(func(s *appsv1.DaemonSetStatus) { s.NumberAvailable = 1 }), false},
		"a kind the restarts do not roll":                    {&corev1.Pod{}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := RolledOut(tt.obj); got != tt.want {
				t.Errorf("RolledOut() = %v, want %v", got, tt.want)
			}
		})
	}
}

// A workload without spec.replicas has the one replica the API server defaults it to.
func TestDesiredReplicasDefaultsToOne(t *testing.T) {
	if got := DesiredReplicas(nil); got != 1 {
		t.Errorf("DesiredReplicas(nil) = %d, want 1", got)
	}
	if got := DesiredReplicas(ptr.To[int32](0)); got != 0 {
		t.Errorf("DesiredReplicas(0) = %d, want 0", got)
	}
}

// The Deployment and StatefulSet controllers' verdict that the rollout of the current template completed
// holds through a later scale-up whose new pod is not ready, and not while pods of an older template are
// left (a rollout with maxSurge 0 or the Recreate strategy, whose old pods are gone before the new ones
// come), nor once the controller has started on a new template, nor before it has seen the current spec.
func TestRolloutCompleted(t *testing.T) {
	condition := func(status corev1.ConditionStatus, reason string) []appsv1.DeploymentCondition {
		return []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason}}
	}
	deployment := func(edit func(*appsv1.DeploymentStatus)) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				Conditions: condition(corev1.ConditionTrue, NewReplicaSetAvailable)}}
		edit(&d.Status)
		return d
	}
	statefulSet := func(edit func(*appsv1.StatefulSetStatus)) *appsv1.StatefulSet {
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Generation: 3}, Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				CurrentReplicas: 2, CurrentRevision: "db-7d9c", UpdateRevision: "db-7d9c"}}
		edit(&s.Status)
		return s
	}
	tests := map[string]struct {
		obj  client.Object
		want bool
	}{
		"rolled out": {deployment(func(*appsv1.DeploymentStatus) {}), true},
		"scaled up, the new pod waiting for a node": {deployment(func(s *appsv1.DeploymentStatus) {
			s.ReadyReplicas, s.AvailableReplicas, s.UnavailableReplicas = 1, 1, 1
		}), true},
		"the ReplicaSet of a new template created": {deployment(func(s *appsv1.DeploymentStatus) {
			s.Conditions = condition(corev1.ConditionTrue, "NewReplicaSetCreated")
		}), false},
		"rolling out": {deployment(func(s *appsv1.DeploymentStatus) {
			s.Replicas, s.UpdatedReplicas, s.Conditions = 3, 1, condition(corev1.ConditionTrue, "ReplicaSetUpdated")
		}), false},
		"stalled": {deployment(func(s *appsv1.DeploymentStatus) {
			s.Conditions = condition(corev1.ConditionFalse, ProgressDeadlineExceeded)
		}), false},
		"the spec not yet seen":                                 {deployment(func(s *appsv1.DeploymentStatus) { s.ObservedGeneration = 2 }), false},
		"the old pods gone, the new not yet come":               {deployment(func(s *appsv1.DeploymentStatus) { s.Replicas, s.UpdatedReplicas = 0, 0 }), false},
		"an old pod left":                                       {deployment(func(s *appsv1.DeploymentStatus) { s.Replicas = 3 }), false},
		"no Progressing condition (no progressDeadlineSeconds)": {deployment(func(s *appsv1.DeploymentStatus) { s.Conditions = nil }), false},
		"StatefulSet rolled out":                                {statefulSet(func(*appsv1.StatefulSetStatus) {}), true},
		"StatefulSet scaled up, the new pod waiting for a node": {statefulSet(func(s *appsv1.StatefulSetStatus) {
			s.Replicas, s.UpdatedReplicas, s.CurrentReplicas = 3, 3, 3
		}), true},
		"StatefulSet rolling out a new template": {statefulSet(func(s *appsv1.StatefulSetStatus) {
			s.UpdateRevision, s.UpdatedReplicas, s.CurrentReplicas = "db-5f4b", 1, 1
		}), false},
		"StatefulSet whose controller has not seen the spec": {statefulSet(func(s *appsv1.StatefulSetStatus) { s.ObservedGeneration = 2 }), false},
		"StatefulSet without revisions yet":                  {statefulSet(func(s *appsv1.StatefulSetStatus) { s.CurrentRevision, s.UpdateRevision = "", "" }), false},
		"DaemonSet (its status keeps no verdict)":            {&appsv1.DaemonSet{}, false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := RolloutCompleted(tt.obj); got != tt.want {
				t.Errorf("RolloutCompleted() = %v, want %v", got, tt.want)
			}
		})
	}
}
