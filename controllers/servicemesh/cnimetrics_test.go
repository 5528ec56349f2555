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

	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// meshkeeper_cni_nodes follows status.cni's counts as written (which a pass whose CNI phase did not run
// keeps), and is gone when the mesh runs without the agent or the ServiceMesh is deleted.
func TestSetMetricsCNINodes(t *testing.T) {
	gauge := func(desired, ready string) string {
		return `
# HELP meshkeeper_cni_nodes Nodes of the CNI agent by state (status.cni): desired (that should run it), ready (running its current version ready and available); no series while the mesh runs without it.
# TYPE meshkeeper_cni_nodes gauge
meshkeeper_cni_nodes{state="desired"} ` + desired + `
meshkeeper_cni_nodes{state="ready"} ` + ready + "\n"
	}
	check := func(t *testing.T, want string) {
		t.Helper()
		if want == "" {
			if n, _ := testutil.GatherAndCount(ctrlmetrics.Registry, metrics.CNINodesName); n != 0 {
				t.Errorf("%d series of %s, want none", n, metrics.CNINodesName)
			}
			return
		}
		if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), metrics.CNINodesName); err != nil {
			t.Error(err)
		}
	}
	rollingOut := &meshv1alpha1.CNIStatus{Enabled: true, Namespace: "istio-system", DesiredNodes: 121, ReadyNodes: 41}
	setCNIMetrics(rollingOut)
	check(t, gauge("121", "41"))

	setCNIMetrics(&meshv1alpha1.CNIStatus{Enabled: false})
	check(t, "")

	setCNIMetrics(rollingOut)
	setCNIMetrics(nil)
	check(t, "")

	setCNIMetrics(rollingOut)
	resetMetrics()
	check(t, "")
}
