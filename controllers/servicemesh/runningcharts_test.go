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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// A canary upgrade whose spec also moves spec.charts.repository to one without the version still
// running (or clears it, for built-in charts that do not carry it) cannot keep that revision: the
// failure names the running version, not spec.version alone, and says what to set.
func TestRunningRevisionWithoutItsChartsSaysWhatToSet(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.31.1"
	r, ensured := revisionChartsReconciler(t, mesh, []string{"1.31.1"}, revisionIstiod(mesh, "1-30-2", "docker.io/istio/pilot:1.30.2"))
	_, err := r.reconcileRevisions(t.Context(), mesh, "1.31.1")
	if err == nil {
		t.Fatal("reconciled a revision whose charts are nowhere")
	}
	if got := meshctx.Classify(err).Reason; got != meshv1alpha1.ReasonChartNotFound {
		t.Errorf("reason %s, want %s", got, meshv1alpha1.ReasonChartNotFound)
	}
	for _, want := range []string{"Istio 1.30.2 still runs as a revision", "set spec.charts.repository to a repository that has them"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if len(*ensured) != 0 {
		t.Errorf("releases ensured before the charts of every running revision were found: %d", len(*ensured))
	}
}
