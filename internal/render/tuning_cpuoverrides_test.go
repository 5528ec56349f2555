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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestValuesOverridesOfAnAutoscaledSpecWithoutCPU: docs/api.md and docs/troubleshooting.md say that
// each install or upgrade of istiod names, in a Warning ValuesOverrideSpec, every key of spec.values
// that wins over a field of the spec. A spec that autoscales istiod with resources that request no CPU
// renders on its own into values autoscaledCPURequest refuses, but spec.values can make the whole
// render valid: by adding the CPU request, or by turning autoscaling off. istiod is then installed with
// spec.values winning over the spec's fields, and those keys must still be named.
func TestValuesOverridesOfAnAutoscaledSpecWithoutCPU(t *testing.T) {
	for name, tc := range map[string]struct {
		values string
		want   []string
	}{
		"spec.values adds the CPU request and sets the push debounce": {
			values: `{"resources":{"requests":{"cpu":"500m"}},"env":{"PILOT_DEBOUNCE_AFTER":"1s"}}`,
			want:   []string{"spec.values env.PILOT_DEBOUNCE_AFTER overrides controlPlane.pushTuning.debounceAfter"},
		},
		"spec.values turns autoscaling off": {
			values: `{"autoscaleEnabled":false}`,
			want:   []string{"spec.values autoscaleEnabled overrides controlPlane.replicas and controlPlane.autoscaling"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			spec := defaultedSpec()
			spec.ControlPlane.Autoscaling = &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}
			spec.ControlPlane.Resources.Requests = corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("2Gi")}
			spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			// The install goes ahead: the values that spec.values completes render.
			if _, err := IstiodValues(spec, "1.31.1"); err != nil {
				t.Fatalf("IstiodValues: %v", err)
			}
			got := ValuesOverrides(spec, "1.31.1")
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ValuesOverrides = %q, want %q", got, tc.want)
			}
		})
	}
}
