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

package helm

import (
	"errors"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// spec.values.volumes go into istiod's pod as written: an image volume of a hub the installer did not
// allow, or a gitRepo volume, would bring code from outside the allow-list into the pod that holds
// istiod's rights, and is refused before anything of the release is applied. One of an allowed hub is
// not.
func TestGuardRefusesCodeVolumesGivenInValues(t *testing.T) {
	for _, tc := range []struct {
		name    string
		volume  map[string]any
		refused string
	}{
		{"an image volume of another hub", map[string]any{"name": "tools", "image": map[string]any{"reference": "evil.example/tools:1"}},
			`Deployment istio-system/istiod, which mounts image volume tools of image "evil.example/tools:1"`},
		{"a gitRepo volume", map[string]any{"name": "tools", "gitRepo": map[string]any{"repository": "https://evil.example/tools.git"}},
			`Deployment istio-system/istiod, which mounts gitRepo volume tools, a clone of "https://evil.example/tools.git"`},
		{"an image volume of an allowed hub", map[string]any{"name": "tools", "image": map[string]any{"reference": "docker.io/istio/proxyv2:1.31.1"}}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := guardIstiodWith(t, render.Values{
				"volumes":      []any{tc.volume},
				"volumeMounts": []any{map[string]any{"name": "tools", "mountPath": "/tools"}},
			})
			switch {
			case tc.refused == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.refused != "" && (!errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), tc.refused)):
				t.Errorf("want %q refused, got %v", tc.refused, err)
			}
		})
	}
}
