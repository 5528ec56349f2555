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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

func deployment(replicas int32, status appsv1.DeploymentStatus) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "controller", Generation: 3},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To(replicas)}, Status: status}
	return d
}

func TestRolloutOf(t *testing.T) {
	tests := map[string]struct {
		kind     string
		obj      client.Object
		done     bool
		mentions []string
	}{
		"Deployment rolled out": {
			kind: "Deployment",
			obj: deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2,
				AvailableReplicas: 2}),
			done: true,
		},
		"Deployment scaled to zero": {
			kind: "Deployment",
			obj:  deployment(0, appsv1.DeploymentStatus{ObservedGeneration: 3}),
			done: true,
		},
		"Deployment whose controller has not seen the change": {
			kind:     "Deployment",
			obj:      deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 2}),
			mentions: []string{"Deployment ingress-nginx/controller", "not seen yet", "run without the sidecar"},
		},
		"Deployment with an old pod left": {
			kind:     "Deployment",
			obj:      deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2, AvailableReplicas: 2}),
			mentions: []string{"2 of 2 pods updated, 2 available, 1 old"},
		},
		"Deployment whose new pod is not available": {
			kind:     "Deployment",
			obj:      deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, AvailableReplicas: 1}),
			mentions: []string{"2 of 2 pods updated, 1 available, 0 old"},
		},
		"Deployment whose new pods are rejected": {
			kind: "Deployment",
			obj: deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 0, AvailableReplicas: 2,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate",
						Message: `pods "controller-7d9f" is forbidden: exceeded quota: pods`},
					{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
						Message: `ReplicaSet "controller-7d9f" has timed out progressing.`},
				}}),
			mentions: []string{"0 of 2 pods updated", "FailedCreate: pods \"controller-7d9f\" is forbidden: exceeded quota",
				"ProgressDeadlineExceeded: ReplicaSet \"controller-7d9f\" has timed out"},
		},
		"paused Deployment": {
			kind: "Deployment",
			obj: func() client.Object {
				d := deployment(1, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 0, AvailableReplicas: 1})
				d.Spec.Paused = true
				return d
			}(),
			mentions: []string{"is paused (kubectl rollout resume)"},
		},
		"DaemonSet rolled out": {
			kind: "DaemonSet",
			obj: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "controller", Generation: 2},
				Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberReady: 3,
					NumberAvailable: 3}},
			done: true,
		},
		"DaemonSet on its way": {
			kind: "DaemonSet",
			obj: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "controller", Generation: 2},
				Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 1, NumberAvailable: 3}},
			mentions: []string{"DaemonSet ingress-nginx/controller", "1 of 3 pods updated, 3 available"},
		},
		"DaemonSet that replaces its pods only when they are deleted": {
			kind: "DaemonSet",
			obj: &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "controller", Generation: 2},
				Spec:   appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}},
				Status: appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, UpdatedNumberScheduled: 0, NumberAvailable: 3}},
			mentions: []string{"0 of 3 pods updated", "OnDelete: delete its old pods"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := rolloutOf(tc.kind, tc.obj)
			if got.Done != tc.done {
				t.Fatalf("rolloutOf = %+v, want done %t", got, tc.done)
			}
			if tc.done && got.Message != "" {
				t.Errorf("a finished rollout says %q", got.Message)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q does not mention %q", got.Message, m)
				}
			}
		})
	}
}

// configuredWorkload is a Deployment whose pod template carries settings meshkeeper applied, as the API
// server records them in its managed fields.
func configuredWorkload(uid, annotation string, status appsv1.DeploymentStatus) *Workload {
	d := deployment(1, status)
	d.UID = types.UID(uid)
	d.Spec.Template.Labels = map[string]string{"app": "nginx", "sidecar.istio.io/inject": "true"}
	d.Spec.Template.Annotations = map[string]string{"traffic.sidecar.istio.io/includeOutboundIPRanges": annotation}
	d.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:template":{"f:metadata":{` +
			`"f:labels":{"f:sidecar.istio.io/inject":{}},"f:annotations":{"f:traffic.sidecar.istio.io/includeOutboundIPRanges":{}}}}}}`)}}
	return &Workload{object: d, kind: "Deployment", template: &d.Spec.Template, Decision: policy.PodTemplateDecision{
		Configured:  true,
		Labels:      map[string]string{"sidecar.istio.io/inject": "true"},
		Annotations: map[string]string{"traffic.sidecar.istio.io/includeOutboundIPRanges": annotation},
	}}
}

func TestJudgeRollout(t *testing.T) {
	rolledOut := appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	rolling := appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 1, AvailableReplicas: 1}
	observed := func(w *Workload) Observed {
		w.rollout = w.judgeRollout(Observed{}, false)
		return w.observed(ControllerInput{})
	}
	if !configuredWorkload("a", "10.96.0.0/12", rolledOut).Applied() {
		t.Fatal("the test's workload does not carry its decision")
	}

	tests := map[string]struct {
		w       *Workload
		prev    Observed
		hadPrev bool
		done    bool
	}{
		"rolled out, nothing known before":  {w: configuredWorkload("a", "10.96.0.0/12", rolledOut), done: true},
		"rolling out, nothing known before": {w: configuredWorkload("a", "10.96.0.0/12", rolling)},
		// The manager restarted while a pod was not available (a node not ready): none runs without the
		// sidecar, since every pod is of the template that carries the settings.
		"every pod of the template, one not available, nothing known before": {w: configuredWorkload("a", "10.96.0.0/12",
			appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1}), done: true},
		"a change its controller has not seen, nothing known before": {w: configuredWorkload("a", "10.96.0.0/12",
			appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1})},
		// Its owner's own rollout (a new image) replaces pods that have the sidecar with pods that have it.
		"rolling out after the same settings rolled out": {w: configuredWorkload("a", "10.96.0.0/12", rolling),
			prev: observed(configuredWorkload("a", "10.96.0.0/12", rolledOut)), hadPrev: true, done: true},
		"rolling out what was not rolled out before either": {w: configuredWorkload("a", "10.96.0.0/12", rolling),
			prev: observed(configuredWorkload("a", "10.96.0.0/12", rolling)), hadPrev: true},
		// meshkeeper's settings changed (a Service range added): the old pods run the old ones.
		"rolling out new settings": {w: configuredWorkload("a", "10.96.0.0/12,10.200.0.0/16", rolling),
			prev: observed(configuredWorkload("a", "10.96.0.0/12", rolledOut)), hadPrev: true},
		// Deleted and created again under the same name: its pods are new.
		"another workload of the same name": {w: configuredWorkload("b", "10.96.0.0/12", rolling),
			prev: observed(configuredWorkload("a", "10.96.0.0/12", rolledOut)), hadPrev: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := tc.w.judgeRollout(tc.prev, tc.hadPrev)
			if got.Done != tc.done {
				t.Errorf("judgeRollout = %+v, want done %t", got, tc.done)
			}
		})
	}

	t.Run("a pod template without the settings is not rolled out", func(t *testing.T) {
		w := configuredWorkload("a", "10.96.0.0/12", rolledOut)
		w.Decision.Annotations["traffic.sidecar.istio.io/includeOutboundIPRanges"] = "10.0.0.0/8"
		if got := w.judgeRollout(Observed{}, false); got.Done {
			t.Errorf("judgeRollout = %+v for a template that does not carry the decision", got)
		}
	})
}

func TestEveryPodOfTheTemplate(t *testing.T) {
	daemonSet := func(status appsv1.DaemonSetStatus) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Generation: 2}, Status: status}
	}
	for name, tc := range map[string]struct {
		obj  client.Object
		want bool
	}{
		"a DaemonSet whose every pod is updated, one not available": {daemonSet(appsv1.DaemonSetStatus{ObservedGeneration: 2,
			DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 2}), true},
		"a DaemonSet with an old pod": {daemonSet(appsv1.DaemonSetStatus{ObservedGeneration: 2,
			DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 2, NumberAvailable: 3}), false},
		"a DaemonSet whose change its controller has not seen": {daemonSet(appsv1.DaemonSetStatus{ObservedGeneration: 1,
			DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberAvailable: 3}), false},
		"a Deployment with an old pod":            {deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2}), false},
		"a Deployment whose every pod is updated": {deployment(2, appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2}), true},
	} {
		if got := everyPodOfTheTemplate(tc.obj); got != tc.want {
			t.Errorf("%s: everyPodOfTheTemplate = %t, want %t", name, got, tc.want)
		}
	}
}
