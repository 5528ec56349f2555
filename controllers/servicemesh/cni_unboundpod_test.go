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

package servicemesh

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// daemonSetPodFor is an agent pod as the DaemonSet controller creates it for node: no spec.nodeName, which
// only the scheduler sets once it binds the pod, and a required node affinity on the node's name.
func daemonSetPodFor(node string) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "istio-cni-node-" + node},
		Spec: corev1.PodSpec{Affinity: &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{
			RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchFields: []corev1.NodeSelectorRequirement{{Key: "metadata.name", Operator: corev1.NodeSelectorOpIn, Values: []string{node}}},
			}}},
		}}},
		Status: corev1.PodStatus{Phase: corev1.PodPending, Conditions: []corev1.PodCondition{
			{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable},
		}},
	}
}

// An agent pod the scheduler cannot bind (a node joined a moment ago, or a full node where the agent's
// priority class preempts nothing) has no spec.nodeName, but the DaemonSet controller created it for one
// node, which its node affinity names: CNIReady names that node, since pods injected there fail until the
// agent runs on it.
func TestNodesNotReadyNamesTheNodeOfAnUnscheduledAgentPod(t *testing.T) {
	got := nodesNotReady([]corev1.Pod{daemonSetPodFor("node-new"), {Spec: corev1.PodSpec{NodeName: "node-a"}}})
	if want := []string{"node-a", "node-new"}; !slices.Equal(got, want) {
		t.Errorf("nodesNotReady = %v, want %v", got, want)
	}
}
