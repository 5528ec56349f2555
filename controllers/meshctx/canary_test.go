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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestCanaryRevision(t *testing.T) {
	canaryMesh := func(generation int64, rollback *meshv1alpha1.CanaryRollbackStatus) *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: generation}}
		mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
			Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-1", State: meshv1alpha1.RevisionCanary, Ready: true},
			{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
		}
		mesh.Status.CanaryRollback = rollback
		return mesh
	}
	rollback := func(revision string, generation int64) *meshv1alpha1.CanaryRollbackStatus {
		return &meshv1alpha1.CanaryRollbackStatus{Revision: revision, Workload: "Deployment shop/app", ObservedGeneration: generation}
	}
	tests := map[string]struct {
		mesh                 *meshv1alpha1.ServiceMesh
		wantTarget, wantRev  string
		wantRollbackRevision string
	}{
		"a ready canary serves the canary namespaces": {
			mesh: canaryMesh(3, nil), wantTarget: "1-31-1", wantRev: "1-31-1",
		},
		"a rollback of this generation sends them back to the active revision": {
			mesh: canaryMesh(3, rollback("1-31-1", 3)), wantTarget: "1-31-1", wantRev: "", wantRollbackRevision: "1-31-1",
		},
		"a change of the spec ends it for the status pass; the canary waits for the status to say so": {
			mesh: canaryMesh(4, rollback("1-31-1", 3)), wantTarget: "1-31-1", wantRev: "",
		},
		"a rollback of another revision leaves this canary alone": {
			mesh: canaryMesh(3, rollback("1-31-2", 3)), wantTarget: "1-31-1", wantRev: "1-31-1", wantRollbackRevision: "1-31-2",
		},
		"no canary without canary namespaces": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				m := canaryMesh(3, nil)
				m.Spec.UpdateStrategy.Canary = nil
				return m
			}(),
		},
		"no mesh, no canary": {},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := CanaryTarget(tt.mesh); got != tt.wantTarget {
				t.Errorf("CanaryTarget = %q, want %q", got, tt.wantTarget)
			}
			if got := CanaryRevision(tt.mesh); got != tt.wantRev {
				t.Errorf("CanaryRevision = %q, want %q", got, tt.wantRev)
			}
			got := ""
			if rb := CanaryRollback(tt.mesh, nil); rb != nil {
				got = rb.Revision
			}
			if got != tt.wantRollbackRevision {
				t.Errorf("CanaryRollback().Revision = %q, want %q", got, tt.wantRollbackRevision)
			}
		})
	}
}

// TestPromotedCanary: once the spec ends a canary, its namespaces keep the canary revision until the
// status reports the default tag on it, and only then.
func TestPromotedCanary(t *testing.T) {
	promoting := func(change func(*meshv1alpha1.ServiceMesh)) *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 4}}
		mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased}
		mesh.Status.ActiveRevision = "1-31-0"
		mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
			{Name: "1-31-1", State: meshv1alpha1.RevisionCanary, Ready: true},
			{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
		}
		if change != nil {
			change(mesh)
		}
		return mesh
	}
	tests := map[string]struct {
		mesh *meshv1alpha1.ServiceMesh
		want string
	}{
		"the spec ended the canary and the tag is still on the active revision": {mesh: promoting(nil), want: "1-31-1"},
		"an emptied list ends it as well": {
			mesh: promoting(func(m *meshv1alpha1.ServiceMesh) { m.Spec.UpdateStrategy.Canary = &meshv1alpha1.CanarySpec{} }),
			want: "1-31-1",
		},
		"the tag moved to it": {
			mesh: promoting(func(m *meshv1alpha1.ServiceMesh) {
				m.Status.ActiveRevision = "1-31-1"
				m.Status.Revisions[0].State, m.Status.Revisions[1].State = meshv1alpha1.RevisionActive, meshv1alpha1.RevisionDraining
			}),
		},
		"the canary still runs": {
			mesh: promoting(func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.UpdateStrategy.Canary = &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}
			}),
		},
		"a canary that serves no pod and is not ready": {
			mesh: promoting(func(m *meshv1alpha1.ServiceMesh) { m.Status.Revisions[0].Ready = false }),
		},
		"a canary meshkeeper rolled back": {
			mesh: promoting(func(m *meshv1alpha1.ServiceMesh) {
				m.Status.CanaryRollback = &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", ObservedGeneration: 3}
			}),
		},
		"no mesh": {},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := PromotedCanary(tt.mesh); got != tt.want {
				t.Errorf("PromotedCanary = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCanaryRollbackReported(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 5}}
	reported := &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", ObservedGeneration: 5}
	if got := CanaryRollback(mesh, reported); got != reported {
		t.Errorf("a rollback reported for this generation, before the status records it, must hold; got %v", got)
	}
	if got := CanaryRollback(mesh, &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", ObservedGeneration: 4}); got != nil {
		t.Errorf("a rollback reported for an older generation must not hold; got %v", got)
	}
	recorded := &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", ObservedGeneration: 5, Workload: "Deployment shop/app"}
	mesh.Status.CanaryRollback = recorded
	if got := CanaryRollback(mesh, reported); got != recorded {
		t.Errorf("the status's record comes first; got %v", got)
	}
}
