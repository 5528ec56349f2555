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

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestEnrollmentChangedFollowsTheStatusThatDecidesEnrollment: a namespace's enrollment, which the
// namespace, policy and Ingress controllers act on, follows the canary revision (and the canary the
// spec ended, until the tag moves to it) and whether istiod injects for the CNI agent, of the status. An update that changes one of them must wake those
// controllers; one that changes neither must not.
func TestEnrollmentChangedFollowsTheStatusThatDecidesEnrollment(t *testing.T) {
	canaryMesh := func() *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{}
		mesh.Name, mesh.Generation = meshv1alpha1.ServiceMeshName, 3
		mesh.Spec.Namespace = "istio-system"
		mesh.Spec.Injection.Namespaces = []string{"shop"}
		mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
			Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
		mesh.Spec.CNI.Enabled = ptr.To(true)
		mesh.Status.Version = "1.31.0"
		mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, Namespace: "istio-system"}
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
			{Name: "1-31-1", State: meshv1alpha1.RevisionCanary},
		}
		return mesh
	}
	// promoting ends the canary in the spec while the status still reports the tag on 1-31-0.
	promoting := func(m *meshv1alpha1.ServiceMesh) {
		m.Spec.UpdateStrategy.Canary = nil
		m.Status.ActiveRevision = "1-31-0"
		m.Status.Revisions[1].Ready = true
	}
	tests := map[string]struct {
		before func(*meshv1alpha1.ServiceMesh)
		change func(*meshv1alpha1.ServiceMesh)
		want   bool
	}{
		"the default tag moves to the canary the spec ended": {
			before: promoting,
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Status.ActiveRevision = "1-31-1"
				m.Status.Revisions[0].State, m.Status.Revisions[1].State = meshv1alpha1.RevisionDraining, meshv1alpha1.RevisionActive
			},
			want: true,
		},
		"the canary revision becomes ready": {
			change: func(m *meshv1alpha1.ServiceMesh) { m.Status.Revisions[1].Ready = true },
			want:   true,
		},
		"the CNI agent is no longer recorded as installed, so istiod injects istio-init": {
			change: func(m *meshv1alpha1.ServiceMesh) { m.Status.CNI.Namespace = "" },
			want:   true,
		},
		"a count of the status only": {
			change: func(m *meshv1alpha1.ServiceMesh) { m.Status.Namespaces.Enrolled = 7 },
			want:   false,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			old, updated := canaryMesh(), canaryMesh()
			if tc.before != nil {
				tc.before(old)
				tc.before(updated)
			}
			tc.change(updated)
			if got := EnrollmentChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: updated}); got != tc.want {
				t.Errorf("the enrollment controllers are woken: %v, want %v", got, tc.want)
			}
		})
	}
}
