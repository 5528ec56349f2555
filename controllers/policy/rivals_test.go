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
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestSelectsWorkloads: Istio applies a PeerAuthentication without selector labels, or a Sidecar
// without workloadSelector labels, to the whole namespace; each kind names its selector differently.
func TestSelectsWorkloads(t *testing.T) {
	tests := map[string]struct {
		sidecar bool
		spec    map[string]any
		want    bool
	}{
		"a PeerAuthentication without a selector":     {spec: map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}},
		"a PeerAuthentication with empty matchLabels": {spec: map[string]any{"selector": map[string]any{"matchLabels": map[string]any{}}}},
		"a PeerAuthentication with labels": {spec: map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "db"}}},
			want: true},
		"a PeerAuthentication with a Sidecar's selector field": {spec: map[string]any{"workloadSelector": map[string]any{"labels": map[string]any{"app": "db"}}}},
		"a Sidecar without a workloadSelector":                 {sidecar: true, spec: map[string]any{"egress": []any{}}},
		"a Sidecar with labels": {sidecar: true, spec: map[string]any{"workloadSelector": map[string]any{"labels": map[string]any{"app": "web"}}},
			want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gvk := render.PeerAuthenticationKind
			if tc.sidecar {
				gvk = render.SidecarKind
			}
			obj := &unstructured.Unstructured{Object: map[string]any{"spec": tc.spec}}
			if got := selectsWorkloads(gvk, obj); got != tc.want {
				t.Errorf("selectsWorkloads = %v, want %v", got, tc.want)
			}
		})
	}
}
