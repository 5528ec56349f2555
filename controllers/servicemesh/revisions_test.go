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
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// A restarted meshkeeper remembers nothing, but the status says since when a revision is unused: the
// grace period is not started again, and one that has passed prunes at once.
func TestPlanRevisionsResumesTheGracePeriodFromTheStatus(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		InactiveRevisionDeletionGracePeriod: &metav1.Duration{Duration: 5 * time.Minute}}
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true,
			UnusedSince: &metav1.Time{Time: time.Now().Add(-6 * time.Minute)}},
		{Name: "1-30-0", Version: "1.30.0", State: meshv1alpha1.RevisionDraining, Ready: true,
			UnusedSince: &metav1.Time{Time: time.Now().Add(-time.Minute)}},
	}
	found := []revision.Installed{{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 3},
		{Name: "1-31-0", Version: "1.31.0", Ready: true}, {Name: "1-30-0", Version: "1.30.0", Ready: true}}

	r := &Reconciler{} // just started
	plan := r.planRevisions(mesh, "1-31-1", "1.31.1", "1-31-1", found)
	if !slices.Equal(plan.Prune, []string{"1-31-0"}) {
		t.Errorf("Prune = %v, want [1-31-0]: its grace period passed before the restart", plan.Prune)
	}
	if plan.RequeueAfter < 3*time.Minute || plan.RequeueAfter > 4*time.Minute {
		t.Errorf("RequeueAfter = %v, want about 4m: 1-30-0 has been unused for 1m of its 5m", plan.RequeueAfter)
	}
	r.rememberUnused(plan.Revisions)
	if _, ok := r.revisionState.unusedSince["1-31-1"]; ok {
		t.Error("the active revision is remembered as unused")
	}
	if got := r.revisionState.unusedSince["1-30-0"]; !got.Equal(mesh.Status.Revisions[2].UnusedSince.Time) {
		t.Errorf("remembered 1-30-0 unused since %v, want the status's %v", got, mesh.Status.Revisions[2].UnusedSince.Time)
	}
}

// A revision used again forgets since when it was unused; when it is unused once more, its grace
// period starts then, even though the status write of the pass that saw it used failed and the status
// still holds the old time: the process's own memory, not the stale status, says since when.
func TestPlanRevisionsDoesNotResumeAStaleGracePeriod(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		InactiveRevisionDeletionGracePeriod: &metav1.Duration{Duration: 5 * time.Minute}}
	stale := time.Now().Add(-time.Hour)
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true, UnusedSince: &metav1.Time{Time: stale}},
	}
	r := &Reconciler{}
	// A pass sees 1-31-0 used again (a namespace went back to it); its status write fails.
	used := []revision.Installed{{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 3},
		{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 1}}
	r.rememberUnused(r.planRevisions(mesh, "1-31-1", "1.31.1", "1-31-1", used).Revisions)
	// The next pass sees it unused again, with the status as it was.
	unused := []revision.Installed{{Name: "1-31-1", Version: "1.31.1", Ready: true, Proxies: 4},
		{Name: "1-31-0", Version: "1.31.0", Ready: true}}
	plan := r.planRevisions(mesh, "1-31-1", "1.31.1", "1-31-1", unused)
	if len(plan.Prune) != 0 {
		t.Errorf("Prune = %v: the grace period of 1-31-0 resumed from before it was used again", plan.Prune)
	}
	if plan.RequeueAfter < 4*time.Minute {
		t.Errorf("RequeueAfter = %v, want about 5m: 1-31-0 is unused since now", plan.RequeueAfter)
	}
}
