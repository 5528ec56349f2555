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

package metrics

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

func TestSetCNINodes(t *testing.T) {
	SetCNINodes(true, 121, 40)
	SetCNINodes(true, 121, 41)
	want := `
# HELP meshkeeper_cni_nodes Nodes of the CNI agent by state (status.cni): desired (that should run it), ready (running its current version ready and available); no series while the mesh runs without it.
# TYPE meshkeeper_cni_nodes gauge
meshkeeper_cni_nodes{state="desired"} 121
meshkeeper_cni_nodes{state="ready"} 41
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), CNINodesName); err != nil {
		t.Error(err)
	}
	SetCNINodes(false, 0, 0)
	if n, _ := testutil.GatherAndCount(ctrlmetrics.Registry, CNINodesName); n != 0 {
		t.Errorf("%d series after the agent was turned off, want none", n)
	}
}
