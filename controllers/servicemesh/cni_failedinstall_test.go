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
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// releaseKeepingCharts keeps the releases that exist as the chart manager leaves them: an install that
// fails leaves its release behind (a failed record, and what it applied, the DaemonSet perhaps), as
// Helm's does. The install of the agent in failAgentIn fails.
type releaseKeepingCharts struct {
	mu          sync.Mutex
	releases    map[string]bool
	failAgentIn string
}

func (c *releaseKeepingCharts) Ensure(_ context.Context, desired helm.Release) (helm.Result, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := desired.Namespace + "/" + desired.Name
	state := helm.StateInSync
	if !c.releases[key] {
		state = helm.StateAbsent
	}
	c.releases[key] = true
	if desired.Name == cniRelease && desired.Namespace == c.failAgentIn {
		return helm.Result{State: state, Action: helm.ActionInstalled}, errors.New("installing release " + key + ": the server was unable to return a response in the time allotted")
	}
	return helm.Result{State: state, Action: helm.ActionNone}, nil
}

func (c *releaseKeepingCharts) Uninstall(_ context.Context, namespace, name string, _ helm.Owner) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := namespace + "/" + name
	removed := c.releases[key]
	delete(c.releases, key)
	return removed, nil
}

func (c *releaseKeepingCharts) ReturnMemory() {}

func (c *releaseKeepingCharts) agents() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var agents []string
	for key := range maps.Keys(c.releases) {
		if strings.HasSuffix(key, "/"+cniRelease) {
			agents = append(agents, key)
		}
	}
	slices.Sort(agents)
	return agents
}

// status.cni.namespace is the only record of where the agent's release is: turning CNI off, moving the
// agent and deleting the ServiceMesh remove it from there. A first install of the agent that fails must
// not leave a release (and perhaps a running DaemonSet) anywhere else, or the next change of the spec
// leaves it running: an agent beside a mesh that runs without CNI, or a second agent on every node.
func TestReconcileCNILeavesNoAgentWhereTheStatusDoesNotSay(t *testing.T) {
	tests := map[string]struct {
		// mesh is the ServiceMesh of the first reconcile, whose agent install in failAgentIn fails;
		// existing, the agents' releases before it.
		mesh        func() *meshv1alpha1.ServiceMesh
		existing    []string
		failAgentIn string
		// change is what the user does next; wantAgents the agents' releases after the next reconcile.
		change     func(mesh *meshv1alpha1.ServiceMesh)
		wantAgents []string
	}{
		"a new mesh whose agent install fails, then CNI is turned off": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Status = meshv1alpha1.ServiceMeshStatus{}
				return mesh
			},
			failAgentIn: "istio-system",
			change:      func(mesh *meshv1alpha1.ServiceMesh) { mesh.Spec.CNI.Enabled = ptr.To(false) },
			wantAgents:  nil,
		},
		"an agent moved to kube-system whose install there fails, then moved back": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Enabled = ptr.To(true)
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system"}
				return mesh
			},
			existing:    []string{"istio-system/" + cniRelease},
			failAgentIn: "kube-system",
			change:      func(mesh *meshv1alpha1.ServiceMesh) { mesh.Spec.CNI.Namespace = "" },
			wantAgents:  []string{"istio-system/" + cniRelease},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			chartManager := &releaseKeepingCharts{releases: map[string]bool{}, failAgentIn: tc.failAgentIn}
			for _, key := range tc.existing {
				chartManager.releases[key] = true
			}
			mesh := tc.mesh()
			tr := newTestReconciler(t, mesh, chartManager)
			if _, err := tr.reconcile(t); err == nil {
				t.Fatal("the first reconcile succeeded, want the agent's install to fail")
			}
			if tr.applied == nil || tr.applied.CNI == nil {
				t.Fatal("the first reconcile wrote no status.cni")
			}
			recorded := tr.applied.CNI.Namespace
			for _, agent := range chartManager.agents() {
				if agent != recorded+"/"+cniRelease {
					t.Errorf("after the failed install, the agent's release %s exists where status.cni.namespace (%q) does not say", agent, recorded)
				}
			}

			// The user reacts to the failure: a new generation, read with the status just written.
			next := tc.mesh()
			next.Status = *tr.applied
			next.Generation++
			tc.change(next)
			chartManager.failAgentIn = ""
			tr = newTestReconciler(t, next, chartManager)
			if _, err := tr.reconcile(t); err != nil {
				t.Fatalf("the second reconcile: %v", err)
			}
			if got := chartManager.agents(); !slices.Equal(got, tc.wantAgents) {
				t.Errorf("the agent's releases after the change: %v, want %v", got, tc.wantAgents)
			}
		})
	}
}

// Only what a failed first install left is removed: an agent's release that was deployed before, which
// status.cni.namespace does not name (a status restored from a backup without it), stays when a change
// of it fails, since pods injected for it may depend on it.
func TestReconcileCNIKeepsADeployedAgentWhoseChangeFails(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec}
	chartManager := &releaseKeepingCharts{releases: map[string]bool{"istio-system/" + cniRelease: true}, failAgentIn: "istio-system"}
	tr := newTestReconciler(t, mesh, chartManager)
	if _, err := tr.reconcile(t); err == nil {
		t.Fatal("the reconcile succeeded, want the agent's upgrade to fail")
	}
	if got, want := chartManager.agents(), []string{"istio-system/" + cniRelease}; !slices.Equal(got, want) {
		t.Errorf("the agent's releases after its failed upgrade: %v, want %v", got, want)
	}
}
