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
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// injectionLabelled is a namespace labelled istio-injection=enabled, by meshkeeper's apply when
// byMeshkeeper and by a user's kubectl otherwise.
func injectionLabelled(name string, byMeshkeeper bool) *corev1.Namespace {
	entry := metav1.ManagedFieldsEntry{Manager: "kubectl-label", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:istio-injection":{}}}}`)}
	if byMeshkeeper {
		entry.Manager, entry.Operation = meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply
		entry.FieldsV1 = metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio-injection":{}}}}`)
	}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"istio-injection": "enabled"},
		ManagedFields: []metav1.ManagedFieldsEntry{entry}}}
}

// An uninstall held reports what is still enrolled and counts no proxies once the control plane goes.
// The uninstall takes meshkeeper's injection labels back first, so status.namespaces.enrolled (the
// ENROLLED column of kubectl get servicemesh) counts the namespaces that refused to give theirs back, not
// the namespaces enrolled before the deletion, and no namespace is one the mesh should enroll (a
// conflict). Once the control plane's releases are being uninstalled, status.proxies counts no pods, as
// meshkeeper_proxies does: OUTDATED 40 would ask for restarts onto a control plane that is going. An
// uninstall that stopped before the control plane keeps the counts of the istiod that still serves them.
func TestHeldUninstallReportsWhatIsStillEnrolledAndNoProxiesOnceTheControlPlaneGoes(t *testing.T) {
	before := meshv1alpha1.ProxiesStatus{Total: 50, Current: 8, WithoutSidecar: 2, Outdated: 40, NotRestartable: 3}
	tests := map[string]struct {
		hold        uninstallHold
		wantProxies meshv1alpha1.ProxiesStatus
	}{
		"blocked once the control plane is uninstalled": {hold: blockedUninstall},
		"failed while the control plane was uninstalled": {
			hold: failedUninstall("uninstalling release istio-system/istiod: forbidden", uninstallingControlPlane),
		},
		"failed while the CNI agent was uninstalled": {
			hold:        failedUninstall("uninstalling release istio-system/istio-cni: forbidden", uninstallingCNI),
			wantProxies: before,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Status.Namespaces = meshv1alpha1.NamespacesStatus{Enrolled: 12, Conflicts: 1}
			mesh.Status.Proxies = before
			metrics.EnrolledNamespaces.Set(12)
			metrics.NamespaceConflicts.Set(1)
			applied := holdUninstall(t, mesh, func(tr *testReconciler) {
				// shop refused to give meshkeeper's label back; team's label is its own; web was unenrolled.
				// The namespaces are read from the API server, with their managed fields.
				tr.APIReader = fake.NewClientBuilder().WithScheme(tr.Client.Scheme()).WithReturnManagedFields().
					WithObjects(injectionLabelled("shop", true), injectionLabelled("team", false),
						&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "web"}}).Build()
			}, tc.hold)
			if got := applied.Namespaces; got != (meshv1alpha1.NamespacesStatus{Enrolled: 1}) {
				t.Errorf("status.namespaces = %+v, want enrolled 1 (shop, which refused) and no conflicts", got)
			}
			if v := testutil.ToFloat64(metrics.EnrolledNamespaces); v != 1 {
				t.Errorf("meshkeeper_enrolled_namespaces = %v, want 1 as the status says", v)
			}
			if v := testutil.ToFloat64(metrics.NamespaceConflicts); v != 0 {
				t.Errorf("namespace conflicts gauge = %v, want 0 as the status says", v)
			}
			got := applied.Proxies
			if got.Total != tc.wantProxies.Total || got.Current != tc.wantProxies.Current || got.WithoutSidecar != tc.wantProxies.WithoutSidecar ||
				got.Outdated != tc.wantProxies.Outdated || got.NotRestartable != tc.wantProxies.NotRestartable {
				t.Errorf("status.proxies = %+v, want %+v", got, tc.wantProxies)
			}
			if got.Total != got.Current+got.WithoutSidecar+got.Outdated {
				t.Errorf("status.proxies total %d is not current %d + withoutSidecar %d + outdated %d",
					got.Total, got.Current, got.WithoutSidecar, got.Outdated)
			}
		})
	}
}
