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

package bundle

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestEditorRoleNotAggregated: writing a ServiceMesh is a cluster-admin-level right, so neither the
// kustomize manifests nor the OLM bundle aggregate the editor role into the built-in admin or edit
// roles, which namespace owners hold. The viewer role stays aggregated into view.
func TestEditorRoleNotAggregated(t *testing.T) {
	b := committedBundle(t)
	roles := map[string]*unstructured.Unstructured{}
	for _, m := range b.manifests {
		for _, obj := range m.objects {
			if obj.GetKind() == "ClusterRole" {
				roles["bundle "+obj.GetName()] = obj
			}
		}
	}
	for _, file := range []string{"servicemesh_editor_role.yaml", "servicemesh_viewer_role.yaml"} {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "rbac", file))
		if err != nil {
			t.Fatal(err)
		}
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(data, &obj.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		roles["config/rbac "+obj.GetName()] = obj
	}

	var editors, viewers int
	for name, role := range roles {
		labels := role.GetLabels()
		switch {
		case strings.HasSuffix(name, "servicemesh-editor-role"):
			editors++
			for _, label := range []string{"rbac.authorization.k8s.io/aggregate-to-admin", "rbac.authorization.k8s.io/aggregate-to-edit"} {
				if _, ok := labels[label]; ok {
					t.Errorf("%s carries %s: the editor role must not join the roles namespace owners hold", name, label)
				}
			}
		case strings.HasSuffix(name, "servicemesh-viewer-role"):
			viewers++
			if labels["rbac.authorization.k8s.io/aggregate-to-view"] != "true" {
				t.Errorf("%s is not aggregated into view", name)
			}
		}
	}
	if editors != 2 || viewers != 2 {
		t.Errorf("found %d editor and %d viewer roles in config/rbac and the bundle, want 2 of each", editors, viewers)
	}
}
