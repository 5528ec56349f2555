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
	"maps"
	"testing"

	"k8s.io/apimachinery/pkg/util/sets"
)

// A canary from one release candidate to the next: rc.10 is newer than rc.9, so the base chart (the
// Istio CRDs) moves to rc.10 with its revision, as for any newer version.
func TestReconcileRevisionsBaseChartFollowsTheNewerReleaseCandidate(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.32.0-rc.10"
	r, ensured := revisionChartsReconciler(t, mesh, []string{"1.32.0-rc.9", "1.32.0-rc.10"},
		revisionIstiod(mesh, "1-32-0-rc-9", "docker.io/istio/pilot:1.32.0-rc.9"))
	if _, err := r.reconcileRevisions(t.Context(), mesh, "1.32.0-rc.10"); err != nil {
		t.Logf("reconcileRevisions: %v", err) // istiod not available: what it ensured is what counts
	}
	if got := releaseChart(*ensured, baseRelease); got != "1.32.0-rc.10" {
		t.Errorf("istio-base ensured with the chart of %q, want 1.32.0-rc.10 (the newest version running)", got)
	}
}

// spec.values may give istiod an image tag of the user's hub (global.tag: "the version is the hub's to
// serve"), which every revision renders. A revision is named after the version it was installed for,
// and kept with that version's charts: read from the image tag, its version was the tag, whose charts
// do not exist, and a canary upgrade failed (ChartNotFound, "Istio corp-7 still runs as a revision
// beside spec.version") for as long as the old revision ran.
func TestReconcileRevisionsKeepsARevisionWithAnImageTagOfItsOwn(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.31.1"
	r, ensured := revisionChartsReconciler(t, mesh, []string{"1.30.2", "1.31.1"},
		revisionIstiod(mesh, "1-30-2", "registry.example/istio/pilot:corp-7"),
		revisionIstiod(mesh, "1-31-1", "registry.example/istio/pilot:1.31.1-corp"))
	if _, err := r.reconcileRevisions(t.Context(), mesh, "1.31.1"); errors.Is(err, errCharts) {
		t.Fatalf("reconcileRevisions: %v", err)
	} else if err != nil {
		t.Logf("reconcileRevisions: %v", err) // the fake charts render no tag: what it ensured is what counts
	}
	if got := releaseChart(*ensured, revisionReleasePrefix+"1-30-2"); got != "1.30.2" {
		t.Errorf("istiod-1-30-2 ensured with the chart of %q, want its own 1.30.2", got)
	}
	found, _, err := r.observeRevisions(t.Context(), mesh)
	if err != nil {
		t.Fatal(err)
	}
	versions := map[string]string{}
	for _, f := range found {
		versions[f.Name] = f.Version
	}
	if want := map[string]string{"1-30-2": "1.30.2", "1-31-1": "1.31.1"}; !maps.Equal(versions, want) {
		t.Errorf("the revisions' versions = %v, want %v", versions, want)
	}
}

// A revision found only by the records of an install that failed before it made its Deployment is
// named after spec.version; a pre-release's dots and dashes both become dashes in the name, so the
// version is spec.version's, not the name with its first two dashes made dots.
func TestFailedWithoutDeploymentTakesAPreReleaseVersionFromTheSpec(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.32.0-rc.1"
	releases := map[string]releaseHistory{revisionReleasePrefix + "1-32-0-rc-1": {meshkeepers: true}}
	failed := failedWithoutDeployment(mesh, sets.New[string](), releases)
	if len(failed) != 1 || failed[0].Version != "1.32.0-rc.1" {
		t.Errorf("failedWithoutDeployment = %+v, want revision 1-32-0-rc-1 of Istio 1.32.0-rc.1", failed)
	}
}
