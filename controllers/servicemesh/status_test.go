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
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

func TestSummarizeReady(t *testing.T) {
	cond := func(conditionType string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: conditionType, Status: status, ObservedGeneration: 7, Reason: reason, Message: reason + " message"}
	}
	tests := map[string]struct {
		conditions  []metav1.Condition
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		"every condition true makes Ready true": {
			conditions: judged(7),
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonSucceeded,
			wantMessage: "The mesh matches the spec",
		},
		"the first condition that is not true explains Ready": {
			conditions: judged(7,
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, "LabelConflict"),
				cond(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, "PeerAuthenticationConflict"),
			),
			wantStatus: metav1.ConditionFalse, wantReason: "LabelConflict",
			wantMessage: "NamespacesEnrolled: LabelConflict message",
		},
		"an unknown condition keeps Ready false": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionUnknown, meshv1alpha1.ReasonReconciling),
			},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonReconciling,
			wantMessage: "ControlPlaneReady: Reconciling message",
		},
		"pods that need a restart do not hold Ready back": {
			conditions: judged(7,
				cond(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded),
			),
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonSucceeded,
			wantMessage: "The mesh matches the spec",
		},
		"a mesh whose control plane was never observed is not ready": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, "Enrolled"),
			},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonReconciling,
			wantMessage: "ControlPlaneReady: the control plane has not been observed yet",
		},
		"a True condition of an older generation does not make Ready true": {
			conditions: judged(7,
				metav1.Condition{Type: meshv1alpha1.ConditionIngressesConfigured, Status: metav1.ConditionTrue, ObservedGeneration: 6, Reason: "Configured"},
			),
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonReconciling,
			wantMessage: "IngressesConfigured: not judged yet for generation 7 (it is still generation 6's verdict); if this persists, " +
				"the operator log says which error stops the reconcile",
		},
		"a stale Ready does not summarise itself": {
			conditions: append([]metav1.Condition{cond(meshv1alpha1.ConditionReady, metav1.ConditionFalse, "Old")}, judged(7)...),
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonSucceeded,
			wantMessage: "The mesh matches the spec",
		},
		// The first reconcile stopped at an error after the control plane: the Ingresses, the policies
		// and mTLS are not judged at all.
		"a condition no pass has set keeps Ready false": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available"),
				cond(meshv1alpha1.ConditionCNIReady, metav1.ConditionTrue, "Available"),
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, "Enrolled"),
			},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonReconciling,
			wantMessage: "IngressesConfigured: not judged yet; if this persists, " +
				"the operator log says which error stops the reconcile",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status := meshv1alpha1.ServiceMeshStatus{Conditions: tc.conditions}
			summarizeReady(&status, &observation{generation: 7})
			ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady)
			if ready == nil {
				t.Fatal("no Ready condition")
			}
			if ready.Status != tc.wantStatus || ready.Reason != tc.wantReason || ready.Message != tc.wantMessage {
				t.Errorf("Ready = %s/%s %q, want %s/%s %q", ready.Status, ready.Reason, ready.Message,
					tc.wantStatus, tc.wantReason, tc.wantMessage)
			}
			if ready.ObservedGeneration != 7 {
				t.Errorf("Ready.observedGeneration = %d, want 7", ready.ObservedGeneration)
			}
		})
	}
}

func TestSetConditionKeepsTransitionTimeOfAnUnchangedCondition(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	obs := &observation{generation: 3, spec: &mesh.Spec}
	status := mesh.Status.DeepCopy()
	setCondition(status, obs, meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available", "ok")
	summarizeReady(status, obs)
	// Pretend the status was written an hour ago: setting the same conditions again must keep their
	// transition times, otherwise every reconcile would write.
	for i := range status.Conditions {
		status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	}
	mesh.Status = *status.DeepCopy()

	again := mesh.Status.DeepCopy()
	setCondition(again, obs, meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available", "ok")
	summarizeReady(again, obs)
	if !equality.Semantic.DeepEqual(mesh.Status, *again) {
		t.Errorf("recomputing an unchanged mesh changed its status:\nbefore %+v\nafter  %+v", mesh.Status, *again)
	}
}

func TestControlPlaneReadiness(t *testing.T) {
	deployment := func(generation, observed int64, replicas, updated, available, total int32) *appsv1.Deployment {
		return &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Generation: generation},
			Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
			Status: appsv1.DeploymentStatus{ObservedGeneration: observed, UpdatedReplicas: updated,
				AvailableReplicas: available, Replicas: total},
		}
	}
	tests := map[string]struct {
		deployment *appsv1.Deployment
		want       metav1.ConditionStatus
		reason     string
	}{
		"no Deployment yet":                       {nil, metav1.ConditionFalse, meshv1alpha1.ReasonDeploymentMissing},
		"all replicas updated and available":      {deployment(2, 2, 2, 2, 2, 2), metav1.ConditionTrue, meshv1alpha1.ReasonAvailable},
		"the controller has not seen the change":  {deployment(3, 2, 2, 2, 2, 2), metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut},
		"one replica still starting":              {deployment(1, 1, 2, 2, 1, 2), metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut},
		"an old replica still running":            {deployment(2, 2, 2, 2, 2, 3), metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut},
		"new template rolled out to one of two":   {deployment(2, 2, 2, 1, 2, 3), metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut},
		"scaled to zero is ready with no replica": {deployment(1, 1, 0, 0, 0, 0), metav1.ConditionTrue, meshv1alpha1.ReasonAvailable},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, reason, message := controlPlaneReadiness(tc.deployment)
			if status != tc.want || reason != tc.reason {
				t.Errorf("got %s/%s (%s), want %s/%s", status, reason, message, tc.want, tc.reason)
			}
		})
	}
}

// When the Deployment controller cannot create istiod's pods (a quota, a PriorityClass that does not
// exist, an admission rule), it says why in its ReplicaFailure condition, and no pod exists to look
// at: ControlPlaneReady carries the controller's words, while rolling out and once the progress
// deadline passed, and does not send the reader to pods that are not there.
func TestControlPlaneReadinessSaysWhyNoPodIsCreated(t *testing.T) {
	const forbidden = `pods "istiod-5d8f7c9b4-" is forbidden: no PriorityClass with name mesh-critical was found`
	deployment := func(deadlinePassed bool) *appsv1.Deployment {
		replicas := int32(2)
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod", Generation: 2},
			Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue, Reason: "FailedCreate", Message: forbidden},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetCreated"},
			}},
		}
		if deadlinePassed {
			d.Status.Conditions[1] = appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing,
				Status: corev1.ConditionFalse, Reason: meshctx.ProgressDeadlineExceeded}
		}
		return d
	}
	for name, tc := range map[string]struct {
		deadlinePassed bool
		reason         string
	}{
		"rolling out":       {false, meshv1alpha1.ReasonRollingOut},
		"past its deadline": {true, meshv1alpha1.ReasonProgressDeadlineExceeded},
	} {
		t.Run(name, func(t *testing.T) {
			status, reason, message := controlPlaneReadiness(deployment(tc.deadlinePassed))
			if status != metav1.ConditionFalse || reason != tc.reason {
				t.Errorf("got %s/%s, want False/%s", status, reason, tc.reason)
			}
			if !strings.Contains(message, "FailedCreate: "+forbidden) {
				t.Errorf("message %q does not say why the Deployment controller creates no pod", message)
			}
			if strings.Contains(message, "describe pods") {
				t.Errorf("message %q sends the reader to pods that do not exist", message)
			}
		})
	}
}
