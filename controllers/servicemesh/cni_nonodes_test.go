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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A DaemonSet whose controller has seen its template and schedules it on no node (spec.cni.tolerations
// admit no Linux node's taints) runs the agent nowhere: every pod injected for it fails in
// istio-validation, wherever it lands. meshkeeper runs on a Linux node itself, so a cluster it manages
// has one; zero nodes is never a rolled-out agent, and CNIReady says what keeps it off the nodes.
func TestCNIReadinessOfAnAgentScheduledOnNoNode(t *testing.T) {
	nowhere := appsv1.DaemonSetStatus{ObservedGeneration: 2}
	value, reason, message := cniReadiness(&cniObservation{enabled: true, daemonSet: cniDaemonSetWith(2, nowhere)})
	if value != metav1.ConditionFalse || reason != meshv1alpha1.ReasonNodesNotReady {
		t.Fatalf("CNIReady of an agent scheduled on no node = %s/%s (%q), want False/%s", value, reason, message, meshv1alpha1.ReasonNodesNotReady)
	}
	for _, want := range []string{"no node", "spec.cni.tolerations", "istio-validation"} {
		if !strings.Contains(message, want) {
			t.Errorf("CNIReady's message %q does not say %q", message, want)
		}
	}
}

// Nodes that should run the agent but have no agent pod at all are nodes whose pod the DaemonSet
// controller could not create (a PriorityClass that does not exist, a ResourceQuota, an admission
// policy): no pod names them, and the cause is only in the DaemonSet's Events, which CNIReady sends the
// reader to.
func TestCNIReadinessSaysWhereToLookForAgentPodsNotCreated(t *testing.T) {
	st := appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, CurrentNumberScheduled: 1,
		UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1, NumberUnavailable: 2}
	ds := cniDaemonSetWith(2, st)
	ds.Namespace = "kube-system"
	value, reason, message := cniReadiness(&cniObservation{enabled: true, daemonSet: ds})
	if value != metav1.ConditionFalse || reason != meshv1alpha1.ReasonNodesNotReady {
		t.Fatalf("CNIReady = %s/%s (%q), want False/%s", value, reason, message, meshv1alpha1.ReasonNodesNotReady)
	}
	for _, want := range []string{"2 node(s) have no agent pod", "kubectl describe daemonset -n kube-system istio-cni-node"} {
		if !strings.Contains(message, want) {
			t.Errorf("CNIReady's message %q does not say %q", message, want)
		}
	}
	created := st
	created.CurrentNumberScheduled = 3
	if _, _, message := cniReadiness(&cniObservation{enabled: true, daemonSet: cniDaemonSetWith(2, created)}); strings.Contains(message, "no agent pod") {
		t.Errorf("CNIReady says agent pods are missing when every node has one: %q", message)
	}
}
