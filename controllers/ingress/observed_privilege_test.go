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

package ingress

import (
	"testing"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The decision about the ingress-nginx controller is reused while its inputs are the same, which
// equality.Semantic.DeepEqual judges (Observed.Describes, and the WorkloadReport that wakes the status
// pass). The inputs carry the mesh's Pod Security Privilege, which has parts whenever injected pods need
// something a level rejects (istio-init without the CNI agent; a sidecar spec.values runs as root): the
// comparison must read them, not panic on them, or every Ingress reconcile fails while it lasts.
func TestControllerInputsWithAPrivilegeCompare(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
	spec.CNI.Enabled = new(bool)
	spec.Values = &meshv1alpha1.IstiodValues{}
	if err := spec.Values.UnmarshalJSON([]byte(`{"global": {"proxy": {"capNetBindService": true}}}`)); err != nil {
		t.Fatal(err)
	}
	input := func() ControllerInput {
		return ControllerInput{Spec: meshv1alpha1.IngressNginxSpec{Controller: meshv1alpha1.WorkloadReference{
			Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}, Privilege: policy.PrivilegeOf(spec)}
	}
	if input().Privilege.What == "" {
		t.Fatal("the spec's injected pods need nothing a Pod Security level rejects; the test needs a Privilege with parts")
	}
	observed := Observed{Input: input()}
	if !observed.Describes(input(), nil, nil) {
		t.Error("an observation of the same inputs does not describe them")
	}
	other := input()
	other.Privilege = policy.Privilege{}
	if observed.Describes(other, nil, nil) {
		t.Error("an observation describes inputs with another Privilege")
	}
	report := NewWorkloadReport()
	report.Set(observed)
	report.Set(Observed{Input: input()})
}
