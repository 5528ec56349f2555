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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// A revision is reported pruned once. The manager's cache shows the pruned revision's istiod Deployment
// for a while after its release was uninstalled, and a reconcile in that while finds the revision again,
// unused for longer than its grace period: its release is gone, so nothing is removed, and a second
// RevisionPruned Event would tell an application team that reads the Events a revision was removed
// twice. The status of that reconcile does not list the revision either.
func TestARevisionIsReportedPrunedOnce(t *testing.T) {
	target, old := revision.Name(charts.BuiltinVersion), "1-31-0"
	mesh := testMesh()
	mesh.Spec.Version = charts.BuiltinVersion
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		InactiveRevisionDeletionGracePeriod: &metav1.Duration{Duration: time.Minute}}
	mesh.Status.ActiveRevision = target
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: target, Version: charts.BuiltinVersion, State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: old, Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true,
			UnusedSince: &metav1.Time{Time: time.Now().Add(-time.Hour)}},
	}
	tr := newTestReconciler(t, mesh, nil)
	// The uninstall removes the release's records and leaves its istiod Deployment in the fake client,
	// as the cache shows it until the deletion reaches it.
	tr.Charts = &fakeCharts{
		ensure: func(helm.Release) (helm.Result, error) {
			return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
		},
		uninstall: func(namespace, name string) (bool, error) {
			return deleteReleaseRecords(tr.Client, namespace, name)
		},
	}
	for _, rev := range []string{target, old} {
		createIstiod(t, tr.Client, mesh, rev)
		createReleaseRecord(t, tr.Client, mesh.Spec.Namespace, revisionReleasePrefix+rev)
	}

	for i := range 2 {
		if _, err := tr.reconcile(t); err != nil {
			t.Fatalf("Reconcile %d: %v", i+1, err)
		}
		if tr.applied == nil {
			t.Fatalf("Reconcile %d wrote no status", i+1)
		}
		for _, st := range tr.applied.Revisions {
			if st.Name == old {
				t.Errorf("Reconcile %d: status.revisions lists %s, which was pruned", i+1, old)
			}
		}
	}
	close(tr.recorder.Events)
	var pruned []string
	for e := range tr.recorder.Events {
		if strings.Contains(e, meshv1alpha1.ReasonRevisionPruned) {
			pruned = append(pruned, e)
		}
	}
	if len(pruned) != 1 {
		t.Errorf("%d RevisionPruned Event(s), want 1: %q", len(pruned), pruned)
	}
}
