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

package meshctx

import (
	"testing"

	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestCNIInjectsOnceTheAgentIsIn(t *testing.T) {
	running := func(cniOn bool, agentNamespace string) *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{}
		mesh.Spec.CNI.Enabled = ptr.To(cniOn)
		mesh.Status.Version = "1.31.1"
		mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: cniOn, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: agentNamespace}
		return mesh
	}
	fresh := &meshv1alpha1.ServiceMesh{} // a new mesh runs the agent, and its first istiod injects for it
	tests := map[string]struct {
		mesh *meshv1alpha1.ServiceMesh
		want bool
	}{
		"a new mesh, nothing installed yet":                 {fresh, true},
		"CNI on, the agent installed":                       {running(true, "istio-system"), true},
		"CNI just turned on, the agent not installed yet":   {running(true, ""), false},
		"CNI off, the agent still recorded while it drains": {running(false, "istio-system"), false},
		"CNI off": {running(false, ""), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := CNIInjects(tc.mesh); got != tc.want {
				t.Errorf("CNIInjects = %t, want %t", got, tc.want)
			}
		})
	}
	if !CNIInjectsChanged.Update(event.UpdateEvent{ObjectOld: running(true, ""), ObjectNew: running(true, "istio-system")}) {
		t.Error("the agent's install does not wake the enrollment")
	}
	if CNIInjectsChanged.Update(event.UpdateEvent{ObjectOld: running(true, "istio-system"), ObjectNew: running(true, "kube-system")}) {
		t.Error("a move of the agent wakes the enrollment, which it does not change")
	}
}
