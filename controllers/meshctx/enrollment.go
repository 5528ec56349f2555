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
	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Enrollment returns the enrollment decision of a ServiceMesh, with the one error rule every controller
// follows: without a live ServiceMesh there is none (nil: nothing is enrolled, and meshkeeper gives its
// labels back); a spec whose selector cannot be used is a terminal InvalidSpec failure, on which every
// controller leaves what it wrote as it is and the ServiceMesh reports it. The enrollment knows whether
// the mesh runs the CNI agent as the ServiceMesh decides it (ServiceMesh.CNIEnabled), for the Pod
// Security check.
func Enrollment(mesh *meshv1alpha1.ServiceMesh) (*policy.Enrollment, error) {
	if !Live(mesh) {
		return nil, nil
	}
	spec := mesh.Spec
	cni, _ := mesh.CNIEnabled()
	spec.CNI.Enabled = &cni
	enrollment, err := policy.NewEnrollment(&spec, "")
	if err != nil {
		return nil, Terminal(meshv1alpha1.ReasonInvalidSpec, err)
	}
	if mesh.Spec.UpdateStrategy.Canary != nil {
		enrollment = enrollment.WithCanary(mesh.Spec.UpdateStrategy.Canary.Namespaces, CanaryRevision(mesh))
	}
	return enrollment, nil
}
