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

package render_test

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// istiod's container runs with the seccomp profile RuntimeDefault unless spec.values sets the chart's
// seccompProfile: the Pod Security level restricted asks for RuntimeDefault or Localhost, and the chart
// renders none by default. A profile of the user's own replaces it, null takes it out, and neither is
// an override of a field of the spec.
func TestIstiodSeccompProfile(t *testing.T) {
	for name, tc := range map[string]struct {
		values string // spec.values; "" for none
		want   any    // the discovery container's securityContext.seccompProfile; nil for none
	}{
		"without spec.values": {want: map[string]any{"type": "RuntimeDefault"}},
		"a Localhost profile in spec.values": {
			values: `{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/istiod.json"}}`,
			want:   map[string]any{"type": "Localhost", "localhostProfile": "profiles/istiod.json"},
		},
		"RuntimeDefault in spec.values": {
			values: `{"seccompProfile":{"type":"RuntimeDefault"}}`,
			want:   map[string]any{"type": "RuntimeDefault"},
		},
		"null in spec.values": {values: `{"seccompProfile":null}`},
	} {
		t.Run(name, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			spec.Values = nil
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			var got any
			found := false
			for _, u := range objects(t, renderIstiod(t, spec)) {
				if u.GetKind() != "Deployment" || u.GetName() != "istiod" {
					continue
				}
				containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
				for _, c := range containers {
					if c, ok := c.(map[string]any); ok && c["name"] == "discovery" {
						found = true
						got, _, _ = unstructured.NestedFieldCopy(c, "securityContext", "seccompProfile")
					}
				}
			}
			if !found {
				t.Fatal("the istiod chart rendered no istiod Deployment with a discovery container")
			}
			if !reflect.DeepEqual(got, tc.want) {
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(tc.want)
				t.Errorf("discovery's seccompProfile = %s, want %s", gotJSON, wantJSON)
			}
			if overrides := render.ValuesOverrides(spec, charts.BuiltinVersion); len(overrides) > 0 {
				t.Errorf("ValuesOverrides = %q, want none: seccompProfile is no field of the spec", overrides)
			}
		})
	}
}
