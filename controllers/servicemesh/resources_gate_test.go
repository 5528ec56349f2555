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

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestSetsResources: the resources check renders istiod's chart only for a spec that sets a request or
// limit somewhere (a field, or spec.values at any depth, a profile included); a spec that sets none
// leaves the chart's defaults, which it does not render again to judge.
func TestSetsResources(t *testing.T) {
	for name, tc := range map[string]struct {
		spec meshv1alpha1.ServiceMeshSpec
		want bool
	}{
		"nothing":                {meshv1alpha1.ServiceMeshSpec{}, false},
		"values without any":     {meshv1alpha1.ServiceMeshSpec{Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"env":{"A":"b"},"global":{"proxy":{"image":"x"}}}`)}}, false},
		"proxy.resources":        {meshv1alpha1.ServiceMeshSpec{Proxy: meshv1alpha1.ProxySpec{Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("1Gi")}}}}, true},
		"controlPlane.resources": {meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("1")}}}}, true},
		"values, the sidecar's":  {meshv1alpha1.ServiceMeshSpec{Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"global":{"proxy":{"resources":{"limits":{"memory":"100Mi"}}}}}`)}}, true},
		"values, a profile":      {meshv1alpha1.ServiceMeshSpec{Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"global":{"profile":"demo"}}`)}}, true},
		"values, defaults":       {meshv1alpha1.ServiceMeshSpec{Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"global":{"defaultResources":{"requests":{"cpu":"1"}}}}`)}}, true},
	} {
		if got := setsResources(&tc.spec); got != tc.want {
			t.Errorf("%s: setsResources = %v, want %v", name, got, tc.want)
		}
	}
}
