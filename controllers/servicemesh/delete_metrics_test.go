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
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// A blocked uninstall reports the one condition that is current, Ready UninstallBlocked: the others the
// status still holds are the control plane's before its releases went, and would keep their alerts
// firing (a RollingOut, a RestartStalled) or contradict the metrics (ControlPlaneReady Available next to
// meshkeeper_control_plane_ready 0) for as long as the uninstall stays blocked.
func TestBlockedUninstallReportsReadyOnly(t *testing.T) {
	mesh := testMesh()
	now := metav1.Now()
	mesh.DeletionTimestamp = &now
	mesh.Status.Conditions = []metav1.Condition{
		{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: meshv1alpha1.ReasonRollingOut, LastTransitionTime: now},
		{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionFalse, Reason: meshv1alpha1.ReasonRollingOut, LastTransitionTime: now},
		{Type: meshv1alpha1.ConditionDataPlaneUpToDate, Status: metav1.ConditionFalse, Reason: "RestartStalled", LastTransitionTime: now},
	}
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	metrics.SetConditions(mesh.Status.Conditions)
	metrics.ControlPlaneReady.Set(1)
	metrics.SetProxies(12, 2, 7, map[string]int{"shop": 9})
	metrics.SetCNINodes(true, 3, 3)

	err := tr.reportUninstallBlocked(t.Context(), mesh, errors.New("namespace shop: denied by policy keep-injection"))
	if err == nil || !strings.Contains(err.Error(), "uninstall blocked") {
		t.Errorf("reportUninstallBlocked = %v, want the blocked uninstall, for a retry", err)
	}
	if tr.applied == nil {
		t.Fatal("no status written")
	}
	want := `
# HELP meshkeeper_condition 1 for each condition of the ServiceMesh, with its type, status and reason: exactly one series per condition type.
# TYPE meshkeeper_condition gauge
meshkeeper_condition{reason="UninstallBlocked",status="False",type="Ready"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), metrics.ConditionName); err != nil {
		t.Errorf("a blocked uninstall exports conditions besides Ready: %v", err)
	}
	if v := testutil.ToFloat64(metrics.ControlPlaneReady); v != 0 {
		t.Errorf("%s = %v once the releases are gone, want 0", metrics.ControlPlaneReadyName, v)
	}
	// The proxies of the control plane gone are not outdated ones to restart, and the agent is gone from
	// its nodes.
	if v := testutil.ToFloat64(metrics.Proxies.WithLabelValues("outdated")); v != 0 {
		t.Errorf("meshkeeper_proxies{state=\"outdated\"} = %v once the releases are gone, want 0", v)
	}
	for _, name := range []string{metrics.ProxiesNeedingRestartName, metrics.CNINodesName} {
		if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, name); err != nil || n != 0 {
			t.Errorf("%s has %d series once the releases are gone (%v), want none", name, n, err)
		}
	}
	// The ServiceMesh is still there, and its Ready alert must go on.
	if v := servicemeshPresent(t); v != "1" {
		t.Errorf("%s = %s during a blocked uninstall, want 1", metrics.ServiceMeshPresentName, v)
	}
}

// A failed uninstall step reports Ready UninstallFailed in the metrics, and that alone, as a blocked
// uninstall does: MeshkeeperMeshNotReady goes on, the other conditions are those of the mesh before its
// deletion, and what the uninstall has reached (here the CNI agent, uninstalled, and istiod, partly) is
// no longer reported running.
func TestFailedUninstallReportsReadyOnly(t *testing.T) {
	mesh := testMesh()
	now := metav1.Now()
	mesh.DeletionTimestamp = &now
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, Namespace: "istio-system", DesiredNodes: 3, ReadyNodes: 3}
	mesh.Status.Conditions = []metav1.Condition{
		{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: meshv1alpha1.ReasonSucceeded, LastTransitionTime: now},
		{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionTrue, Reason: meshv1alpha1.ReasonAvailable, LastTransitionTime: now},
	}
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	metrics.SetConditions(mesh.Status.Conditions)
	metrics.ControlPlaneReady.Set(1)
	metrics.SetProxies(12, 2, 7, map[string]int{"shop": 9})
	metrics.SetCNINodes(true, 3, 3)

	failure := errors.New("uninstalling release istio-system/istiod: deleting ServiceAccount istiod: forbidden")
	if err := tr.reportUninstallFailed(t.Context(), mesh, failure, uninstallingControlPlane); !errors.Is(err, failure) {
		t.Errorf("reportUninstallFailed = %v, want the failure, for a retry", err)
	}
	want := `
# HELP meshkeeper_condition 1 for each condition of the ServiceMesh, with its type, status and reason: exactly one series per condition type.
# TYPE meshkeeper_condition gauge
meshkeeper_condition{reason="UninstallFailed",status="False",type="Ready"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), metrics.ConditionName); err != nil {
		t.Errorf("a failed uninstall exports conditions other than Ready UninstallFailed: %v", err)
	}
	if v := testutil.ToFloat64(metrics.ControlPlaneReady); v != 0 {
		t.Errorf("%s = %v while istiod's release is being uninstalled, want 0", metrics.ControlPlaneReadyName, v)
	}
	if v := testutil.ToFloat64(metrics.Proxies.WithLabelValues("outdated")); v != 0 {
		t.Errorf("meshkeeper_proxies{state=\"outdated\"} = %v while istiod's release is being uninstalled, want 0", v)
	}
	if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, metrics.CNINodesName); err != nil || n != 0 {
		t.Errorf("%s has %d series once the agent is uninstalled (%v), want none", metrics.CNINodesName, n, err)
	}
	if v := servicemeshPresent(t); v != "1" {
		t.Errorf("%s = %s during a failed uninstall, want 1", metrics.ServiceMeshPresentName, v)
	}
}

// The alerts tell a ServiceMesh gone from a meshkeeper pod that has not reported yet by
// meshkeeper_servicemesh_present: a reconcile of a live ServiceMesh sets it to 1, and one that finds the
// ServiceMesh gone to 0.
func TestServiceMeshPresent(t *testing.T) {
	ensure := func(helm.Release) (helm.Result, error) {
		return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
	}
	if status, _, _, _, _ := reconcileWith(t, testMesh(), &fakeCharts{ensure: ensure}); status == nil {
		t.Fatal("no status written")
	}
	if v := servicemeshPresent(t); v != "1" {
		t.Errorf("%s = %s after the reconcile of a ServiceMesh, want 1", metrics.ServiceMeshPresentName, v)
	}

	mesh := testMesh()
	mesh.Finalizers = nil
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	if err := tr.Delete(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("Reconcile of a ServiceMesh gone: %v", err)
	}
	if v := servicemeshPresent(t); v != "0" {
		t.Errorf("%s = %s after the reconcile of a ServiceMesh gone, want 0", metrics.ServiceMeshPresentName, v)
	}

	metrics.SetConditions([]metav1.Condition{{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Succeeded"}})
	resetMetrics()
	if v := servicemeshPresent(t); v != "0" {
		t.Errorf("%s = %s after resetMetrics, want 0", metrics.ServiceMeshPresentName, v)
	}
}

// servicemeshPresent returns the value of meshkeeper_servicemesh_present, "none" without a series.
func servicemeshPresent(t *testing.T) string {
	t.Helper()
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() == metrics.ServiceMeshPresentName && len(f.GetMetric()) == 1 {
			return fmt.Sprint(f.GetMetric()[0].GetGauge().GetValue())
		}
	}
	return "none"
}
