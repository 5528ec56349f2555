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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// A grace period of 0s removes an unused revision at once; only a grace period left unset takes the
// default.
func TestGracePeriodZeroIsKept(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	if got := gracePeriod(mesh); got != defaultGracePeriod {
		t.Errorf("gracePeriod unset = %v, want the default %v", got, defaultGracePeriod)
	}
	mesh.Spec.UpdateStrategy.InactiveRevisionDeletionGracePeriod = &metav1.Duration{}
	if got := gracePeriod(mesh); got != 0 {
		t.Errorf("gracePeriod 0s = %v, want 0", got)
	}
}

// A canary section without namespaces makes no canary: the tag moves to the new revision once it is
// ready, as without the section.
func TestPlanRevisionsCanaryWithoutNamespacesMovesTheTag(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{}}
	found := []revision.Installed{{Name: "1-31-1", Version: "1.31.1", Ready: true},
		{Name: "1-31-0", Version: "1.31.0", Ready: true, Proxies: 3}}
	r := &Reconciler{}
	plan := r.planRevisions(mesh, "1-31-1", "1.31.1", "1-31-0", found)
	if plan.Active != "1-31-1" || plan.Canary != "" {
		t.Errorf("Active = %q, Canary = %q; want the tag on the ready 1-31-1 and no canary", plan.Active, plan.Canary)
	}
}

// The istiod without a revision has no version in its name: without an image tag to read, its version
// is the one the status reports.
func TestDeploymentVersionOfTheIstiodWithoutARevision(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{Status: meshv1alpha1.ServiceMeshStatus{Version: "1.30.2"}}
	d := &appsv1.Deployment{}
	if got := deploymentVersion(d, revision.Legacy, mesh); got != "1.30.2" {
		t.Errorf("deploymentVersion(%s) = %q, want the status's 1.30.2", revision.Legacy, got)
	}
	if got := deploymentVersion(d, "1-31-0", mesh); got != "1.31.0" {
		t.Errorf("deploymentVersion(1-31-0) = %q, want 1.31.0", got)
	}
}

// Without a canary revision (none yet, or a rollback holds) the canary namespaces are served by the
// active revision.
func TestServingCanaryNamespacesWithoutACanary(t *testing.T) {
	ri := &revisionInstallation{active: "1-31-0", target: "1-31-0", canaryNamespaces: []string{"shop"},
		versions: map[string]string{"1-31-0": "1.31.0"}}
	if version, rev := ri.serving("shop"); version != "1.31.0" || rev != "1-31-0" {
		t.Errorf("serving(shop) = %q, %q; want 1.31.0, 1-31-0", version, rev)
	}
}

func TestUpgradeGate(t *testing.T) {
	tests := map[string]struct {
		strategy      meshv1alpha1.UpdateStrategyType
		statusVersion string
		chartVersion  string
		found         []revision.Installed
		crds, target  string
		refused       string // "" when allowed
	}{
		// The status lags the cluster: a revision it still reports was removed. The versions running
		// decide.
		"the revisions running, not the status, decide": {
			strategy: meshv1alpha1.UpdateRevisionBased, statusVersion: "1.29.0",
			found: []revision.Installed{{Name: "1-31-0", Version: "1.31.0"}}, target: "1.33.0",
		},
		"the status's version stands in for a revision of no known version": {
			strategy: meshv1alpha1.UpdateInPlace, statusVersion: "1.29.0",
			found: []revision.Installed{{Name: revision.Legacy}}, target: "1.31.0", refused: "from the running 1.29.0",
		},
		// The base chart the status reports carries CRDs newer than those read from the cluster.
		"the newer of the chart reported and the CRDs read": {
			strategy: meshv1alpha1.UpdateInPlace, chartVersion: "1.31.0", crds: "1.29.0", target: "1.28.0",
			refused: "installed Istio CRDs (1.31.0)",
		},
		"CRDs read newer than the chart reported": {
			strategy: meshv1alpha1.UpdateInPlace, chartVersion: "1.29.0", crds: "1.31.0", target: "1.28.0",
			refused: "installed Istio CRDs (1.31.0)",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := &meshv1alpha1.ServiceMesh{}
			mesh.Spec.UpdateStrategy.Type = tc.strategy
			mesh.Status.Version, mesh.Status.ChartVersion = tc.statusVersion, tc.chartVersion
			err := (&Reconciler{}).upgradeGate(context.Background(), mesh, tc.target, tc.found, tc.crds)
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && err == nil:
				t.Errorf("allowed, want refused with %q", tc.refused)
			case tc.refused != "" && !strings.Contains(err.Error(), tc.refused):
				t.Errorf("refused with %q, want %q", err, tc.refused)
			}
		})
	}
}
