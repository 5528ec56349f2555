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

import "testing"

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
