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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestAMovedAgentRunsWhereItWasUntilItsInstallSucceeds: moving the agent (spec.cni.namespace) installs
// it in the new namespace first. While that install fails, the running agent stays, and so does
// status.cni.namespace: were it removed first, istiod would be rendered for istio-init again,
// namespaces that enforce restricted would leave the mesh and every pod injected for the agent would
// count as outdated, all to flip back once the install succeeds.
func TestAMovedAgentRunsWhereItWasUntilItsInstallSucceeds(t *testing.T) {
	mesh := func() *meshv1alpha1.ServiceMesh {
		m := testMesh()
		m.Spec.CNI.Enabled = ptr.To(true)
		m.Spec.CNI.Namespace = "kube-system"
		m.Status.Version = "1.31.1"
		m.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system"}
		return m
	}
	chartManager := &releaseKeepingCharts{releases: map[string]bool{"istio-system/" + cniRelease: true}, failAgentIn: "kube-system"}
	tr := newTestReconciler(t, mesh(), chartManager)
	if _, err := tr.reconcile(t); err == nil {
		t.Fatal("the reconcile succeeded, want the agent's install in kube-system to fail")
	}
	if got, want := chartManager.agents(), []string{"istio-system/" + cniRelease}; !slices.Equal(got, want) {
		t.Errorf("the agent's releases after the failed install in kube-system: %v, want %v", got, want)
	}
	if tr.applied == nil || tr.applied.CNI == nil {
		t.Fatal("the reconcile wrote no status.cni")
	}
	if got := tr.applied.CNI.Namespace; got != "istio-system" {
		t.Fatalf("status.cni.namespace after the failed install in kube-system: %q, want the running agent's, istio-system", got)
	}
	next := mesh()
	next.Status = *tr.applied
	if !meshctx.CNIInjects(next) {
		t.Error("istiod's values are rendered for istio-init while the agent still runs")
	}

	chartManager.failAgentIn = ""
	tr = newTestReconciler(t, next, chartManager)
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("the retry: %v", err)
	}
	if got, want := chartManager.agents(), []string{"istio-system/" + cniRelease, "kube-system/" + cniRelease}; !slices.Equal(got, want) {
		t.Errorf("the agent's releases once the install in kube-system succeeded: %v, want %v", got, want)
	}
	if tr.applied == nil || tr.applied.CNI == nil || tr.applied.CNI.Namespace != "istio-system" {
		t.Errorf("status.cni once the install in kube-system succeeded: %+v, want namespace istio-system, the running agent's", tr.applied.CNI)
	}

	// The new agent's DaemonSet ready on every node: the one it replaces goes.
	next.Status = *tr.applied
	tr = newTestReconciler(t, next, chartManager)
	ds := cniDaemonSetWith(1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
		UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2})
	ds.Namespace = "kube-system"
	if err := tr.Create(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("the reconcile once the agent in kube-system is ready: %v", err)
	}
	if got, want := chartManager.agents(), []string{"kube-system/" + cniRelease}; !slices.Equal(got, want) {
		t.Errorf("the agent's releases once the agent in kube-system is ready: %v, want %v", got, want)
	}
	if tr.applied == nil || tr.applied.CNI == nil || tr.applied.CNI.Namespace != "kube-system" {
		t.Errorf("status.cni once the agent in kube-system is ready: %+v, want namespace kube-system", tr.applied.CNI)
	}
}

// TestAMovedAgentRunsWhereItWasUntilTheNewOneIsReady: moving the agent (spec.cni.namespace) installs it
// in the new namespace, whose DaemonSet then starts a pod on each node. Were the running agent removed
// as soon as that install succeeds, a pod injected for the agent that starts on a node before the new
// agent is ready there would get no redirection set up. The running agent stays, and status.cni.namespace
// names it, until the new DaemonSet has rolled out; CNIReady says the move waits, and for what.
func TestAMovedAgentRunsWhereItWasUntilTheNewOneIsReady(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Spec.CNI.Namespace = "kube-system"
	mesh.Status.Version = "1.31.1"
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system"}
	for name, st := range map[string]appsv1.DaemonSetStatus{
		"not yet observed by its controller": {},
		"ready on one node of two": {ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
			UpdatedNumberScheduled: 2, NumberReady: 1, NumberAvailable: 1, NumberUnavailable: 1},
		"not updated on one node of two": {ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
			UpdatedNumberScheduled: 1, NumberReady: 2, NumberAvailable: 2},
	} {
		t.Run(name, func(t *testing.T) {
			chartManager := &releaseKeepingCharts{releases: map[string]bool{"istio-system/" + cniRelease: true}}
			tr := newTestReconciler(t, mesh.DeepCopy(), chartManager)
			ds := cniDaemonSetWith(1, st)
			ds.Namespace = "kube-system"
			if err := tr.Create(t.Context(), ds); err != nil {
				t.Fatal(err)
			}
			if _, err := tr.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if got, want := chartManager.agents(), []string{"istio-system/" + cniRelease, "kube-system/" + cniRelease}; !slices.Equal(got, want) {
				t.Errorf("the agent's releases while the one in kube-system is not ready: %v, want %v", got, want)
			}
			if tr.applied == nil || tr.applied.CNI == nil {
				t.Fatal("the reconcile wrote no status.cni")
			}
			if got := tr.applied.CNI.Namespace; got != "istio-system" {
				t.Errorf("status.cni.namespace while the agent in kube-system is not ready: %q, want the running agent's, istio-system", got)
			}
			c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionCNIReady)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonNodesNotReady ||
				!strings.Contains(c.Message, "the one in istio-system keeps running until the one in kube-system is ready") {
				t.Errorf("CNIReady = %+v, want False/NodesNotReady saying the move waits for the agent in kube-system", c)
			}
		})
	}
}
