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

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestRunningAgentVersionWithoutTheStatus: the upgrade gate judges the target version against the CNI
// agent's also when the status names no agent (lost whole, restored from a backup without it): the
// agent that runs is found from its DaemonSet, as the CNI phase finds it. Judged against none, an
// upgrade would leave the agent more than one minor version from the control plane.
func TestRunningAgentVersionWithoutTheStatus(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Status = meshv1alpha1.ServiceMeshStatus{}
	tr := newTestReconciler(t, mesh, &recordingCharts{})
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.CNINamespace(), Name: cniDaemonSet,
		Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: mesh.UID}}},
		Spec: appsv1.DaemonSetSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
			{Name: agentContainer, Image: "docker.io/istio/install-cni:1.29.3"}}}}}}
	if err := tr.Create(t.Context(), ds); err != nil {
		t.Fatal(err)
	}
	got, err := tr.runningAgentVersion(t.Context(), mesh)
	if err != nil {
		t.Fatal(err)
	}
	if got != "1.29.3" {
		t.Errorf("runningAgentVersion = %q, want 1.29.3", got)
	}
}
