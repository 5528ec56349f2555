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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ProgressDeadlineExceeded is the reason of the Progressing condition with which the Deployment
// controller says that a rollout made no progress for its progressDeadlineSeconds.
const ProgressDeadlineExceeded = "ProgressDeadlineExceeded"

// ProgressDeadlinePassed tells whether the Deployment controller says that d's rollout of its current
// generation made no progress for its progressDeadlineSeconds: its Progressing condition is False with
// ProgressDeadlineExceeded (the reason alone is not the verdict). It says so until a rollout progresses
// again.
func ProgressDeadlinePassed(d *appsv1.Deployment) bool {
	if d.Status.ObservedGeneration < d.Generation {
		return false
	}
	for _, c := range d.Status.Conditions {
		if c.Type == appsv1.DeploymentProgressing {
			return c.Status == corev1.ConditionFalse && c.Reason == ProgressDeadlineExceeded
		}
	}
	return false
}

// NewReplicaSetAvailable is the reason of the Progressing condition with which the Deployment
// controller says that the rollout of a Deployment's current pod template completed.
const NewReplicaSetAvailable = "NewReplicaSetAvailable"

// RolloutCompleted tells whether a workload's controller says that it completed the rollout of its
// current pod template, in a verdict that holds through a later scale-up whose new pods wait for a
// node, where RolledOut does not:
//   - A Deployment, for its current generation, has every desired pod of that template (none of an
//     older one left), and its Progressing condition is True with NewReplicaSetAvailable. The
//     Deployment controller sets another reason as soon as it creates the ReplicaSet of a new template,
//     sets this one only once every desired pod of it is available, and leaves it as it is through a
//     later scale.
//   - A StatefulSet, for its current generation, has its current revision equal to its update
//     revision: the StatefulSet controller makes it so only once every replica is updated and ready,
//     keeps the current revision at a new template's first sync, and creates the pods of a scale-up
//     from the update revision.
//
// False for a DaemonSet, whose status keeps no such verdict, and for any other kind.
func RolloutCompleted(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		desired, s := DesiredReplicas(o.Spec.Replicas), o.Status
		if s.ObservedGeneration < o.Generation || s.UpdatedReplicas != desired || s.Replicas != desired {
			return false
		}
		for _, c := range s.Conditions {
			if c.Type == appsv1.DeploymentProgressing {
				return c.Status == corev1.ConditionTrue && c.Reason == NewReplicaSetAvailable
			}
		}
	case *appsv1.StatefulSet:
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdateRevision != "" && s.CurrentRevision == s.UpdateRevision
	}
	return false
}

// RolledOut tells whether a Deployment, StatefulSet or DaemonSet has rolled out its current pod
// template: its controller saw the current spec, and every desired pod is updated, ready and available
// (for a Deployment, with no pod of an older template left). False for any other kind.
func RolledOut(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		desired, s := DesiredReplicas(o.Spec.Replicas), o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdatedReplicas == desired && s.Replicas == desired &&
			s.ReadyReplicas == desired && s.AvailableReplicas == desired
	case *appsv1.StatefulSet:
		desired, s := DesiredReplicas(o.Spec.Replicas), o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdatedReplicas == desired &&
			s.ReadyReplicas == desired && s.AvailableReplicas == desired
	case *appsv1.DaemonSet:
		s := o.Status
		return s.ObservedGeneration >= o.Generation && s.UpdatedNumberScheduled == s.DesiredNumberScheduled &&
			s.NumberReady == s.DesiredNumberScheduled && s.NumberAvailable == s.DesiredNumberScheduled
	}
	return false
}

// DesiredReplicas is a workload's spec.replicas, which the API server defaults to 1.
func DesiredReplicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}
