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

package policy

import (
	"maps"
	"testing"
)

// Istio's injector reads a sidecar.istio.io/inject annotation as asking for a sidecar when it is "y",
// "yes", "true" or "on" in any case (AsksForSidecar), and an empty one as asking for the namespace's
// default. Neither says the owner wants no sidecar, so neither keeps meshkeeper from putting the
// controller in the mesh; only a value that refuses the sidecar does.
func TestIngressNginxPodTemplateInjectAnnotationAsIstioReadsIt(t *testing.T) {
	tests := map[string]struct {
		value          string
		wantConfigured bool
		wantReason     string
	}{
		"True":  {value: "True", wantConfigured: true, wantReason: Configured},
		"yes":   {value: "yes", wantConfigured: true, wantReason: Configured},
		"on":    {value: "on", wantConfigured: true, wantReason: Configured},
		"empty": {value: "", wantConfigured: true, wantReason: Configured},
		"false": {value: "false", wantReason: AnnotationConflict},
		"no":    {value: "no", wantReason: AnnotationConflict},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := IngressNginxPodTemplate(PodTemplateInput{IngressNginx: ingressNginx(),
				Template: controllerTemplate(nil, map[string]string{SidecarInject: tc.value})})
			if got.Reason != tc.wantReason || got.Configured != tc.wantConfigured {
				t.Fatalf("Reason, Configured = %q, %v; want %q, %v (message: %s)", got.Reason, got.Configured, tc.wantReason, tc.wantConfigured, got.Message)
			}
			if tc.wantConfigured && (!maps.Equal(got.Labels, injectLabel) || !maps.Equal(got.Annotations, meshAnnotations("10.96.0.0/12"))) {
				t.Errorf("Labels, Annotations = %v, %v; want %v, %v", got.Labels, got.Annotations, injectLabel, meshAnnotations("10.96.0.0/12"))
			}
		})
	}
}
