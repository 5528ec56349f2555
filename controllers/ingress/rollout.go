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

package ingress

import (
	"fmt"
	"maps"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// Rollout is how far the ingress-nginx controller workload has rolled out a pod template that carries
// meshkeeper's sidecar settings: only then do all of its pods run with the sidecar.
type Rollout struct {
	// Done: every pod of the workload was created from a pod template carrying the settings, and is
	// available.
	Done bool
	// Message says what the rollout waits for while it is not done.
	Message string
}

// rolloutOf judges the rollout of the workload's current pod template from its status
// (meshctx.RolledOut, as the restarts judge theirs), and says what it waits for.
func rolloutOf(kind string, obj client.Object) Rollout {
	if meshctx.RolledOut(obj) {
		return Rollout{Done: true}
	}
	name := fmt.Sprintf("%s %s", kind, client.ObjectKeyFromObject(obj))
	var waits []string
	switch o := obj.(type) {
	case *appsv1.Deployment:
		st := o.Status
		switch {
		case o.Spec.Paused:
			waits = append(waits, "is paused (kubectl rollout resume)")
		case st.ObservedGeneration < o.Generation:
			waits = append(waits, "has a change its Deployment controller has not seen yet")
		default:
			waits = append(waits, fmt.Sprintf("has %d of %d pods updated, %d available, %d old", st.UpdatedReplicas,
				meshctx.DesiredReplicas(o.Spec.Replicas), st.AvailableReplicas, max(st.Replicas-st.UpdatedReplicas, 0)))
		}
		// Why it does not progress, in the Deployment controller's words: pods it cannot create (a
		// quota, an admission rule), or its progress deadline passed.
		for _, c := range o.Status.Conditions {
			if (c.Status == corev1.ConditionTrue && c.Type == appsv1.DeploymentReplicaFailure) ||
				(c.Type == appsv1.DeploymentProgressing && c.Reason == meshctx.ProgressDeadlineExceeded) {
				waits = append(waits, fmt.Sprintf("%s: %s", c.Reason, c.Message))
			}
		}
	case *appsv1.DaemonSet:
		st := o.Status
		if st.ObservedGeneration < o.Generation {
			waits = append(waits, "has a change its DaemonSet controller has not seen yet")
			break
		}
		waits = append(waits, fmt.Sprintf("has %d of %d pods updated, %d available", st.UpdatedNumberScheduled,
			st.DesiredNumberScheduled, st.NumberAvailable))
		if o.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
			waits = append(waits, "its updateStrategy is OnDelete: delete its old pods to have them created again with the sidecar")
		}
	default:
		return Rollout{}
	}
	return Rollout{Message: fmt.Sprintf("the ingress-nginx controller %s is rolling out its sidecar settings: it %s; "+
		"until it has, some of its pods run without the sidecar", name, strings.Join(waits, "; "))}
}

// judgeRollout is the rollout of w, whose pod template carries the settings of its decision: done when
// its current template is rolled out, or when prev, what was last found of the same workload, says a
// template with the same settings rolled out already. A later rollout of its owner's (a new image) then
// replaces pods that had the sidecar with pods that have it too.
func (w *Workload) judgeRollout(prev Observed, hadPrev bool) Rollout {
	if w.object == nil || !w.Decision.Configured || !w.Applied() {
		return Rollout{}
	}
	if hadPrev && prev.Rollout.Done && prev.Applied && prev.UID == w.object.GetUID() &&
		maps.Equal(prev.Decision.Labels, w.Decision.Labels) && maps.Equal(prev.Decision.Annotations, w.Decision.Annotations) {
		return Rollout{Done: true}
	}
	if !hadPrev && everyPodOfTheTemplate(w.object) {
		// Nothing is known of earlier rollouts (the manager just started): every pod of the workload
		// was created from the template that carries the settings, so none runs without the sidecar,
		// whether or not each is available now (a node not ready, a pod pending on a full node).
		return Rollout{Done: true}
	}
	return rolloutOf(w.kind, w.object)
}

// everyPodOfTheTemplate tells whether every pod of a Deployment or DaemonSet was created from its
// current pod template, as its controller last counted them, available or not.
func everyPodOfTheTemplate(obj client.Object) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Status.ObservedGeneration >= o.Generation && o.Status.UpdatedReplicas == o.Status.Replicas
	case *appsv1.DaemonSet:
		st := o.Status
		return st.ObservedGeneration >= o.Generation && st.UpdatedNumberScheduled == st.CurrentNumberScheduled && st.NumberMisscheduled == 0
	}
	return false
}

// workloadKey names a workload of a kind.
type workloadKey struct {
	kind string
	key  types.NamespacedName
}
