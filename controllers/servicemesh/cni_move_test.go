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
	if got, want := chartManager.agents(), []string{"kube-system/" + cniRelease}; !slices.Equal(got, want) {
		t.Errorf("the agent's releases once the install in kube-system succeeded: %v, want %v", got, want)
	}
	if tr.applied == nil || tr.applied.CNI == nil || tr.applied.CNI.Namespace != "kube-system" {
		t.Errorf("status.cni once the install in kube-system succeeded: %+v, want namespace kube-system", tr.applied.CNI)
	}
}
