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

	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// A ServiceMesh uninstalled keeps no revision, blocked or not: the count of revisions kept for others'
// webhooks goes with the rest of the control plane's gauges, or its alert would fire on for a mesh that
// is gone.
func TestUninstallResetsBlockedPrunes(t *testing.T) {
	metrics.RevisionsPruneBlocked.Set(2)
	resetMetrics()
	if v := testutil.ToFloat64(metrics.RevisionsPruneBlocked); v != 0 {
		t.Errorf("%s = %v once the mesh is uninstalled, want 0", metrics.RevisionsPruneBlockedName, v)
	}
}
