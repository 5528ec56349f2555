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
	"context"
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// uninstallHold stops the uninstall of mesh, reporting it held, as reconcileDelete does.
type uninstallHold func(context.Context, *testReconciler, *meshv1alpha1.ServiceMesh) error

// blockedUninstall is an uninstall that a namespace's admission policy blocked once the control plane
// was uninstalled.
func blockedUninstall(ctx context.Context, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh) error {
	return tr.reportUninstallBlocked(ctx, mesh, errors.New("namespace shop: denied by policy keep-injection"))
}

// failedUninstall is an uninstall whose step failed with failure when it had reached progress.
func failedUninstall(failure string, progress uninstallProgress) uninstallHold {
	return func(ctx context.Context, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh) error {
		return tr.reportUninstallFailed(ctx, mesh, errors.New(failure), progress)
	}
}

// holdUninstall marks mesh deleted, has prepare (when not nil) set up its reconciler, holds its
// uninstall with hold, and returns the status the reconciler wrote. A hold that returns no error for a
// retry, or writes no status, fails the test.
func holdUninstall(t *testing.T, mesh *meshv1alpha1.ServiceMesh, prepare func(*testReconciler), hold uninstallHold) *meshv1alpha1.ServiceMeshStatus {
	t.Helper()
	now := metav1.Now()
	mesh.DeletionTimestamp = &now
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	if prepare != nil {
		prepare(tr)
	}
	if err := hold(t.Context(), tr, mesh); err == nil {
		t.Error("the held uninstall returned no error, want one for a retry")
	}
	if tr.applied == nil {
		t.Fatal("no status written")
	}
	return tr.applied
}

// An uninstall held after the control plane's releases are gone reports no control plane: the VERSION
// and REVISION columns of kubectl get servicemesh read status.version and status.activeRevision, and an
// Istio version shown beside Ready False UninstallBlocked would say that istiod still runs. An uninstall
// that stopped before the releases went still reports the control plane it has.
func TestHeldUninstallReportsTheVersionUntilTheControlPlaneIsGone(t *testing.T) {
	running := meshv1alpha1.ServiceMeshStatus{Version: "1.31.1", ChartVersion: "1.31.1", Revision: "1-31-1",
		ActiveRevision: "1-31-1", Revisions: []meshv1alpha1.RevisionStatus{{Name: "1-31-1", Version: "1.31.1",
			State: meshv1alpha1.RevisionActive, Ready: true}}}
	tests := map[string]struct {
		hold uninstallHold
		want meshv1alpha1.ServiceMeshStatus
	}{
		"blocked once the control plane is uninstalled": {hold: blockedUninstall},
		"failed after the control plane was uninstalled": {
			hold: failedUninstall("deleting namespace istio-system: forbidden", controlPlaneUninstalled),
		},
		"failed while the CNI agent was uninstalled": {
			hold: failedUninstall("uninstalling release istio-system/istio-cni: forbidden", uninstallingCNI),
			want: running,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Status = *running.DeepCopy()
			got := holdUninstall(t, mesh, nil, tc.hold)
			if got.Version != tc.want.Version || got.ChartVersion != tc.want.ChartVersion || got.Revision != tc.want.Revision ||
				got.ActiveRevision != tc.want.ActiveRevision || len(got.Revisions) != len(tc.want.Revisions) {
				t.Errorf("status version %q, chartVersion %q, revision %q, activeRevision %q, %d revision(s); want %q, %q, %q, %q, %d",
					got.Version, got.ChartVersion, got.Revision, got.ActiveRevision, len(got.Revisions),
					tc.want.Version, tc.want.ChartVersion, tc.want.Revision, tc.want.ActiveRevision, len(tc.want.Revisions))
			}
		})
	}
}
