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
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestRestorePendingInjector: a mesh whose status names no version is taken for one that turns CNI on
// with its status lost (status.cni.injectorPending restored, so that istiod keeps injecting istio-init)
// only when an istiod of the mesh's injects istio-init and an agent of the mesh's is not ready on every
// node. A new mesh, whose first istiod injects for the agent from the start, is never taken for one,
// whatever number of its passes run before its first status write lands.
func TestRestorePendingInjector(t *testing.T) {
	const forInit, forAgent = `{"pilot": {"cni": {"enabled": false, "provider": "default"}}}`,
		`{"pilot": {"cni": {"enabled": true, "provider": "default"}}}`
	tests := map[string]struct {
		// injector is the values of istiod's injector ConfigMap; "" when there is none.
		injector string
		// agent is the namespace of the mesh's agent DaemonSet, "" for none; ready whether it runs ready
		// on every node.
		agent string
		ready bool
		// mesh changes the mesh, whose status is lost and spec.cni.enabled true.
		mesh        func(*meshv1alpha1.ServiceMesh)
		allowed     []string
		wantPending bool
	}{
		"a running mesh turning CNI on, its agent not ready": {injector: forInit, agent: "istio-system", wantPending: true},
		"the agent in kube-system, spec.cni.namespace naming it": {injector: forInit, agent: "kube-system", wantPending: true,
			mesh: func(m *meshv1alpha1.ServiceMesh) { m.Spec.CNI.Namespace = "kube-system" }},
		"a running mesh turning CNI on, its agent ready everywhere": {injector: forInit, agent: "istio-system", ready: true},
		"a running mesh turning CNI on, its agent not installed":    {injector: forInit},
		"a new mesh, its first istiod injecting for the agent":      {injector: forAgent, agent: "istio-system"},
		"a new mesh, nothing installed yet":                         {agent: "istio-system"},
		"an injector whose values do not say":                       {injector: `{"global": {}}`, agent: "istio-system"},
		"an injector whose values cannot be read":                   {injector: `{`, agent: "istio-system"},
		"the status names a version": {injector: forInit, agent: "istio-system",
			mesh: func(m *meshv1alpha1.ServiceMesh) { m.Status.Version = "1.31.1" }},
		"CNI off": {injector: forInit, agent: "istio-system",
			mesh: func(m *meshv1alpha1.ServiceMesh) { m.Spec.CNI.Enabled = ptr.To(false) }},
		// The cache holds no object of a namespace the installer did not allow, and fails a list there.
		"spec.namespace not allowed": {injector: forInit, agent: "istio-system", allowed: []string{"other-system"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Spec.CNI.Enabled = ptr.To(true)
			mesh.Status = meshv1alpha1.ServiceMeshStatus{}
			if tc.mesh != nil {
				tc.mesh(mesh)
			}
			tr := newTestReconciler(t, mesh, &recordingCharts{})
			tr.Policy.Namespaces = tc.allowed
			labels := map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}
			owners := []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: mesh.UID}}
			if tc.injector != "" {
				cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio-sidecar-injector",
					Labels: labels, OwnerReferences: owners}, Data: map[string]string{"values": tc.injector}}
				if err := tr.Create(t.Context(), cm); err != nil {
					t.Fatal(err)
				}
			}
			if tc.agent != "" {
				ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: tc.agent, Name: cniDaemonSet, Labels: labels,
					OwnerReferences: owners}}
				if err := tr.Create(t.Context(), ds); err != nil {
					t.Fatal(err)
				}
				ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 3, CurrentNumberScheduled: 3, UpdatedNumberScheduled: 3,
					NumberReady: 2, NumberAvailable: 2, NumberUnavailable: 1}
				if tc.ready {
					ds.Status.NumberReady, ds.Status.NumberAvailable, ds.Status.NumberUnavailable = 3, 3, 0
				}
				if err := tr.Status().Update(t.Context(), ds); err != nil {
					t.Fatal(err)
				}
			}
			enabled, by := settleCNI(mesh)
			if err := tr.restorePendingInjector(t.Context(), mesh, enabled, by); err != nil {
				t.Fatal(err)
			}
			pending := mesh.Status.CNI != nil && mesh.Status.CNI.InjectorPending
			if pending != tc.wantPending {
				t.Fatalf("status.cni = %+v, want injectorPending %t", mesh.Status.CNI, tc.wantPending)
			}
			if !pending {
				return
			}
			if want := (meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: tc.agent, InjectorPending: true}); !equality.Semantic.DeepEqual(*mesh.Status.CNI, want) {
				t.Errorf("status.cni = %+v, want %+v", *mesh.Status.CNI, want)
			}
			if meshctx.CNIInjects(mesh) {
				t.Error("istiod is rendered for an agent that is not ready on every node")
			}
		})
	}
}
