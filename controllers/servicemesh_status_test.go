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

package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestSummarizeReady(t *testing.T) {
	cond := func(conditionType string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: conditionType, Status: status, Reason: reason, Message: reason + " message"}
	}
	tests := map[string]struct {
		conditions  []metav1.Condition
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage string
	}{
		"every condition true makes Ready true": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available"),
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, "Enrolled"),
			},
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonSucceeded,
			wantMessage: "The mesh matches the spec",
		},
		"the first condition that is not true explains Ready": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available"),
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, "LabelConflict"),
				cond(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, "PeerAuthenticationConflict"),
			},
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
		"a stale Ready does not summarise itself": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionReady, metav1.ConditionFalse, "Old"),
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, "Available"),
			},
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonSucceeded,
			wantMessage: "The mesh matches the spec",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status := meshv1alpha1.ServiceMeshStatus{Conditions: tc.conditions}
			summarizeReady(&status, 7)
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

func TestComputeStatusIsStableForAnUnchangedMesh(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: 3}}
	first := computeStatus(mesh)
	if first.ObservedGeneration != 3 {
		t.Fatalf("observedGeneration = %d, want 3", first.ObservedGeneration)
	}
	// Pretend the first status was written an hour ago: recomputing must keep its transition times,
	// otherwise every reconcile would write.
	for i := range first.Conditions {
		first.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
	}
	mesh.Status = first
	second := computeStatus(mesh)
	if !equality.Semantic.DeepEqual(first, second) {
		t.Errorf("recomputing an unchanged mesh changed its status:\nbefore %+v\nafter  %+v", first, second)
	}

	mesh.Generation = 4
	third := computeStatus(mesh)
	if third.ObservedGeneration != 4 || third.Conditions[0].ObservedGeneration != 4 {
		t.Errorf("a new generation is not reflected: %+v", third)
	}
}
