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

package v1alpha1

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCNIEnabled(t *testing.T) {
	on, off := true, false
	reconciled := ServiceMeshStatus{ObservedGeneration: 4, Conditions: []metav1.Condition{{Type: ConditionReady, Status: metav1.ConditionTrue}}}
	tests := map[string]struct {
		spec    *bool
		status  ServiceMeshStatus
		want    bool
		wantWhy CNIDecision
	}{
		"a new ServiceMesh runs CNI":                          {want: true, wantWhy: CNIByNewMesh},
		"a mesh from before CNI keeps running without it":     {status: reconciled, want: false, wantWhy: CNIByExistingMesh},
		"the spec turns it on for an existing mesh":           {spec: &on, status: reconciled, want: true, wantWhy: CNIBySpec},
		"the spec turns it off for a new mesh":                {spec: &off, want: false, wantWhy: CNIBySpec},
		"the recorded decision of a new mesh stands":          {status: withCNI(reconciled, true, CNIByNewMesh), want: true, wantWhy: CNIByNewMesh},
		"the recorded decision of an existing mesh stands":    {status: withCNI(reconciled, false, CNIByExistingMesh), want: false, wantWhy: CNIByExistingMesh},
		"the spec's last word stands once the field is unset": {status: withCNI(reconciled, true, CNIBySpec), want: true, wantWhy: CNIBySpec},
		"the spec wins over a recorded decision":              {spec: &off, status: withCNI(reconciled, true, CNIByNewMesh), want: false, wantWhy: CNIBySpec},
		"a status with only a generation is not new":          {status: ServiceMeshStatus{ObservedGeneration: 1}, want: false, wantWhy: CNIByExistingMesh},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := &ServiceMesh{Spec: ServiceMeshSpec{CNI: CNISpec{Enabled: tc.spec}}, Status: tc.status}
			got, why := mesh.CNIEnabled()
			if got != tc.want || why != tc.wantWhy {
				t.Errorf("CNIEnabled() = %t, %s; want %t, %s", got, why, tc.want, tc.wantWhy)
			}
		})
	}
}

func withCNI(status ServiceMeshStatus, enabled bool, by CNIDecision) ServiceMeshStatus {
	status.CNI = &CNIStatus{Enabled: enabled, EnabledBy: by}
	return status
}

func TestCNINamespace(t *testing.T) {
	spec := &ServiceMeshSpec{Namespace: "mesh-system"}
	if got := spec.CNINamespace(); got != "mesh-system" {
		t.Errorf("CNINamespace() = %q, want the control-plane namespace", got)
	}
	spec.CNI.Namespace = "kube-system"
	if got := spec.CNINamespace(); got != "kube-system" {
		t.Errorf("CNINamespace() = %q, want kube-system", got)
	}
}
