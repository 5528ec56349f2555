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
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestUninstallAllCNIRemovesAnAgentTheStatusDoesNotName: a ServiceMesh deleted while its status names
// no agent (lost whole, restored from a backup without it) and spec.cni.namespace no longer names where
// its agent runs (a move under way) has that agent's release uninstalled too, found from its
// DaemonSet: its release records and the objects that carry no owner would stay behind.
func TestUninstallAllCNIRemovesAnAgentTheStatusDoesNotName(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Namespace = "kube-system"
	mesh.Status = meshv1alpha1.ServiceMeshStatus{}
	chartManager := &recordingCharts{}
	tr := newTestReconciler(t, mesh, chartManager)
	tr.Policy.Namespaces = []string{"istio-system", "kube-system", "old-cni"}
	// The agent of another installation's, in other-cni, is left alone.
	for namespace, owner := range map[string]types.UID{"old-cni": mesh.UID, "other-cni": "another-mesh"} {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cniDaemonSet,
			Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: owner}}}}
		if err := tr.Create(t.Context(), ds); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.uninstallAllCNI(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	slices.Sort(chartManager.uninstalled)
	if want := []string{"kube-system/istio-cni", "old-cni/istio-cni"}; !slices.Equal(chartManager.uninstalled, want) {
		t.Errorf("uninstalled %v, want %v", chartManager.uninstalled, want)
	}
}
