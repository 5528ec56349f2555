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

package render

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestValuesOverrides: a key of spec.values counts as overriding a field when the merged values lose
// what the field rendered. Keys that agree with the field, or only add to a map it renders, override
// nothing; a list (tolerations) that spec.values sets replaces the field's whole list.
func TestValuesOverrides(t *testing.T) {
	for name, tc := range map[string]struct {
		mutate func(*meshv1alpha1.ServiceMeshSpec)
		values string
		want   []string
	}{
		"no spec.values": {},
		"push tuning and proxy metadata": {
			values: `{"env":{"PILOT_DEBOUNCE_MAX":"1m","PILOT_PUSH_THROTTLE":"100"},` +
				`"meshConfig":{"defaultConfig":{"holdApplicationUntilProxyStarts":false,"proxyMetadata":{"ISTIO_META_DNS_CAPTURE":"true"}}}}`,
			want: []string{"spec.values env.PILOT_DEBOUNCE_MAX overrides controlPlane.pushTuning.debounceMax",
				"spec.values meshConfig.defaultConfig.holdApplicationUntilProxyStarts overrides proxy.holdApplicationUntilProxyStarts"},
		},
		"the fixed replica count and the disruption budget": {
			values: `{"replicaCount":1,"global":{"defaultPodDisruptionBudget":{"enabled":false}}}`,
			want: []string{"spec.values replicaCount overrides controlPlane.replicas",
				"spec.values global.defaultPodDisruptionBudget.enabled overrides controlPlane.podDisruptionBudget"},
		},
		"autoscaling turned on over the replica count": {
			values: `{"autoscaleEnabled":true}`,
			want:   []string{"spec.values autoscaleEnabled overrides controlPlane.replicas and controlPlane.autoscaling"},
		},
		"a replica count under autoscaling, which the chart does not use": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.ControlPlane.Autoscaling = &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}
			},
			values: `{"replicaCount":1}`,
		},
		"placement: a label added, tolerations replaced": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.ControlPlane.NodeSelector = map[string]string{"role": "infra"}
				s.ControlPlane.Tolerations = []corev1.Toleration{{Key: "infra", Operator: corev1.TolerationOpExists}}
			},
			values: `{"nodeSelector":{"zone":"a"},"tolerations":[{"key":"gpu","operator":"Exists"}]}`,
			want:   []string{"spec.values tolerations overrides controlPlane.tolerations"},
		},
		"resources: a request added, a limit changed": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) {
				s.ControlPlane.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("4Gi")}
				s.Proxy.Resources.Limits = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("256Mi")}
			},
			values: `{"resources":{"requests":{"cpu":"1"}},"global":{"proxy":{"resources":{"limits":{"memory":"1Gi"}}}}}`,
			want:   []string{"spec.values global.proxy.resources overrides proxy.resources"},
		},
		"the chart's hold switch over the field set to false": {
			mutate: func(s *meshv1alpha1.ServiceMeshSpec) { s.Proxy.HoldApplicationUntilProxyStarts = ptr.To(false) },
			values: `{"global":{"proxy":{"holdApplicationUntilProxyStarts":true}}}`,
			want:   []string{"spec.values global.proxy.holdApplicationUntilProxyStarts overrides proxy.holdApplicationUntilProxyStarts"},
		},
		"the images' hub, tag and pull policy": {
			values: `{"global":{"hub":"registry.example.com/istio","tag":"1.31.1-fips","imagePullPolicy":"Always"}}`,
			want: []string{"spec.values global.hub overrides images.hub", "spec.values global.tag overrides version",
				"spec.values global.imagePullPolicy overrides images.pullPolicy"},
		},
		"istiod's own hub and tag, which the chart takes before the global ones": {
			values: `{"hub":"registry.example.com/istio","tag":"1.31.2"}`,
			want:   []string{"spec.values hub overrides images.hub for istiod's image", "spec.values tag overrides version for istiod's image"},
		},
		"the images' hub, tag and pull policy as the fields render them, istiod's tag left empty": {
			values: `{"global":{"hub":"docker.io/istio","tag":"1.31.1","imagePullPolicy":"IfNotPresent"},"hub":"docker.io/istio","tag":""}`,
		},
		"the chart's hold switch with the field true": {
			values: `{"global":{"proxy":{"holdApplicationUntilProxyStarts":true}}}`,
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := defaultedSpec()
			if tc.mutate != nil {
				tc.mutate(spec)
			}
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			got := ValuesOverrides(spec, "1.31.1")
			slices.Sort(got)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("ValuesOverrides = %q, want %q", got, want)
			}
		})
	}
}
