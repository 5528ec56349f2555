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

// computeStatus returns the status the ServiceMesh should carry. It keeps the last transition time of
// every condition whose status did not change, so an unchanged mesh yields an identical status.
func computeStatus(mesh *meshv1alpha1.ServiceMesh) meshv1alpha1.ServiceMeshStatus {
	status := *mesh.Status.DeepCopy()
	status.ObservedGeneration = mesh.Generation
	setCondition(&status, mesh.Generation, meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse,
		meshv1alpha1.ReasonNotImplemented,
		"meshkeeper accepted this ServiceMesh but does not install the Istio control plane yet")
	summarizeReady(&status, mesh.Generation)
	return status
}

// summarizeReady sets Ready to True only when every other condition is True; otherwise Ready carries the
// reason and message of the first condition that is not.
func summarizeReady(status *meshv1alpha1.ServiceMeshStatus, generation int64) {
	for _, c := range status.Conditions {
		if c.Type == meshv1alpha1.ConditionReady || c.Status == metav1.ConditionTrue {
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
