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
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// scope is what one reconcile of a ServiceMesh works on: the object as read and the status being built.
type scope struct {
	mesh   *meshv1alpha1.ServiceMesh
	status *meshv1alpha1.ServiceMeshStatus
	// terminal marks a failure that retrying the same generation cannot fix (a chart version that does
	// not exist): the generation counts as observed.
	terminal bool
}

func newScope(mesh *meshv1alpha1.ServiceMesh) *scope {
	return &scope{mesh: mesh, status: mesh.Status.DeepCopy()}
}

// setCondition sets a condition, keeping its last transition time when its status did not change.
func (s *scope) setCondition(conditionType string, value metav1.ConditionStatus, reason, message string) {
	setCondition(s.status, s.mesh.Generation, conditionType, value, reason, message)
}

// summarizeReady sets Ready to True only when every other condition is True; otherwise Ready carries the
// reason and message of the first condition that is not. DataPlaneUpToDate does not count: pods that
// need a restart are their owners' to restart, and the mesh meshkeeper manages is in place without it.
func summarizeReady(status *meshv1alpha1.ServiceMeshStatus, generation int64) {
	if meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady) == nil {
		// A reconcile that failed before it could look at istiod has not shown the mesh to be anything.
		setCondition(status, generation, meshv1alpha1.ConditionReady, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			meshv1alpha1.ConditionControlPlaneReady+": the control plane has not been observed yet")
		return
	}
	for _, c := range status.Conditions {
		if c.Type == meshv1alpha1.ConditionReady || c.Type == meshv1alpha1.ConditionDataPlaneUpToDate ||
			c.Status == metav1.ConditionTrue {
			continue
		}
		setCondition(status, generation, meshv1alpha1.ConditionReady, metav1.ConditionFalse, c.Reason,
			c.Type+": "+c.Message)
		return
	}
	setCondition(status, generation, meshv1alpha1.ConditionReady, metav1.ConditionTrue,
		meshv1alpha1.ReasonSucceeded, "The mesh matches the spec")
}

func setCondition(status *meshv1alpha1.ServiceMeshStatus, generation int64, conditionType string,
	value metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               conditionType,
		Status:             value,
		ObservedGeneration: generation,
		Reason:             reason,
		Message:            message,
	})
}
