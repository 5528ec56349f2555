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
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// A spec under which a container would request more of a resource than its limit allows is refused as
// InvalidSpec before any release is installed or upgraded: the API server refuses such pods, so the
// sidecar's would leave every pod the injector mutates uncreatable, and istiod's or the CNI agent's
// would leave their Deployment or DaemonSet without pods. The check compares what istiod's real chart
// renders, after it merged its defaults under spec.values, so a limit spec.values sets alone is caught
// beside the default request it keeps. Specs whose effective requests stay within their limits install
// as before.
func TestResourcesRequestAboveLimitIsInvalidSpec(t *testing.T) {
	quantities := func(kv ...string) corev1.ResourceList {
		list := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return list
	}
	tests := map[string]struct {
		change      func(*meshv1alpha1.ServiceMesh)
		wantMessage []string // empty: the spec installs
	}{
		"proxy.resources with a memory request above its limit": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Proxy.Resources = corev1.ResourceRequirements{Requests: quantities("memory", "2Gi"), Limits: quantities("memory", "1Gi")}
			},
			wantMessage: []string{"sidecar", "memory request 2Gi (proxy.resources.requests.memory) exceeds its limit 1Gi (proxy.resources.limits.memory)"},
		},
		"proxy.resources with a CPU request above its limit, as a revision": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.UpdateStrategy.Type = meshv1alpha1.UpdateRevisionBased
				m.Spec.Proxy.Resources = corev1.ResourceRequirements{Requests: quantities("cpu", "2"), Limits: quantities("cpu", "500m")}
			},
			wantMessage: []string{"sidecar", "cpu request 2 (proxy.resources.requests.cpu) exceeds its limit 500m (proxy.resources.limits.cpu)"},
		},
		"spec.values with a sidecar memory limit below the chart's request": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"proxy": {"resources": {"limits": {"memory": "100Mi"}}}}}`)}
			},
			wantMessage: []string{"sidecar", "memory request 128Mi (the chart's default) exceeds its limit 100Mi (spec.values global.proxy.resources.limits.memory)"},
		},
		"spec.values with a sidecar request above proxy.resources' limit": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Proxy.Resources = corev1.ResourceRequirements{Limits: quantities("memory", "256Mi")}
				m.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"proxy": {"resources": {"requests": {"memory": "512Mi"}}}}}`)}
			},
			wantMessage: []string{"memory request 512Mi (spec.values global.proxy.resources.requests.memory) exceeds its limit 256Mi (proxy.resources.limits.memory)"},
		},
		"controlPlane.resources with a memory request above its limit": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.ControlPlane.Resources = corev1.ResourceRequirements{Requests: quantities("memory", "4Gi"), Limits: quantities("memory", "2Gi")}
			},
			wantMessage: []string{"istiod", "Deployment istiod, container discovery",
				"memory request 4Gi (controlPlane.resources.requests.memory) exceeds its limit 2Gi (controlPlane.resources.limits.memory)"},
		},
		"spec.values with an istiod memory limit below the chart's request": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"resources": {"limits": {"memory": "1Gi"}}}`)}
			},
			wantMessage: []string{"istiod", "memory request 2Gi (the chart's default) exceeds its limit 1Gi (spec.values resources.limits.memory)"},
		},
		"cni.resources with a memory request above its limit": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.CNI.Enabled = ptr.To(true)
				m.Spec.CNI.Resources = corev1.ResourceRequirements{Requests: quantities("memory", "200Mi"), Limits: quantities("memory", "100Mi")}
			},
			wantMessage: []string{"cni.resources", "memory request 200Mi (cni.resources.requests.memory) exceeds its limit 100Mi (cni.resources.limits.memory)"},
		},
		"spec.values with a sidecar memory limit above the chart's request": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"proxy": {"resources": {"limits": {"memory": "512Mi"}}}}}`)}
			},
		},
		"proxy.resources with a request equal to its limit in other units": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Proxy.Resources = corev1.ResourceRequirements{Requests: quantities("memory", "1Gi", "cpu", "1"),
					Limits: quantities("memory", "1024Mi", "cpu", "1000m")}
			},
		},
		"proxy.resources with a request and no limit": {
			change: func(m *meshv1alpha1.ServiceMesh) {
				m.Spec.Proxy.Resources = corev1.ResourceRequirements{Requests: quantities("memory", "4Gi")}
			},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			tc.change(mesh)
			var mu sync.Mutex
			var ensured []string
			charts := &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
				mu.Lock()
				defer mu.Unlock()
				ensured = append(ensured, desired.Name)
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			status, otherApply, _, _, _ := reconcileWith(t, mesh, charts)
			if status == nil {
				t.Fatal("no status written")
			}
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
			if len(tc.wantMessage) == 0 {
				if c != nil && c.Reason == meshv1alpha1.ReasonInvalidSpec {
					t.Errorf("ControlPlaneReady = %+v, want the spec installed", c)
				}
				if len(ensured) == 0 {
					t.Error("no release was ensured, want the spec installed")
				}
				return
			}
			if len(ensured) > 0 || otherApply {
				t.Errorf("releases %v were ensured (other applies: %v), want nothing installed or upgraded", ensured, otherApply)
			}
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonInvalidSpec {
				t.Fatalf("ControlPlaneReady = %+v, want False/%s", c, meshv1alpha1.ReasonInvalidSpec)
			}
			for _, want := range tc.wantMessage {
				if !strings.Contains(c.Message, want) {
					t.Errorf("ControlPlaneReady message %q, want it to mention %q", c.Message, want)
				}
			}
			if ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady); ready == nil ||
				ready.Status != metav1.ConditionFalse || ready.Reason != meshv1alpha1.ReasonInvalidSpec {
				t.Errorf("Ready = %+v, want False/%s", ready, meshv1alpha1.ReasonInvalidSpec)
			}
		})
	}
}
