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

package chart

import (
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

const (
	aggregateToAdmin = "rbac.authorization.k8s.io/aggregate-to-admin"
	aggregateToEdit  = "rbac.authorization.k8s.io/aggregate-to-edit"
	aggregateToView  = "rbac.authorization.k8s.io/aggregate-to-view"
)

// TestEditorRoleAggregation: writing a ServiceMesh is a cluster-admin-level right, so the editor role
// joins the built-in admin and edit roles (which namespace owners hold) only when the installer opts in.
func TestEditorRoleAggregation(t *testing.T) {
	cases := map[string]struct {
		roles      map[string]any
		wantEditor bool
		wantViewer bool
	}{
		"by default only the viewer role is aggregated": {roles: nil, wantViewer: true},
		"the editor role when asked for":                {roles: map[string]any{"aggregateEditor": true}, wantEditor: true, wantViewer: true},
		"neither when both are turned off":              {roles: map[string]any{"aggregateEditor": false, "aggregateViewer": false}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			values := map[string]any{}
			if tc.roles != nil {
				values["aggregatedRoles"] = tc.roles
			}
			objects := render(t, values, defaultRelease, defaultNamespace)
			editor := objects.get(t, "ClusterRole", objects.fullname()+"-servicemesh-editor").GetLabels()
			viewer := objects.get(t, "ClusterRole", objects.fullname()+"-servicemesh-viewer").GetLabels()
			for _, label := range []string{aggregateToAdmin, aggregateToEdit} {
				if got := editor[label] == "true"; got != tc.wantEditor {
					t.Errorf("editor role label %s set = %v, want %v", label, got, tc.wantEditor)
				}
			}
			if editor[aggregateToView] != "" {
				t.Errorf("the editor role is aggregated into view")
			}
			if got := viewer[aggregateToView] == "true"; got != tc.wantViewer {
				t.Errorf("viewer role label %s set = %v, want %v", aggregateToView, got, tc.wantViewer)
			}
			for _, label := range []string{aggregateToAdmin, aggregateToEdit} {
				if viewer[label] != "" {
					t.Errorf("the viewer role carries %s", label)
				}
			}
		})
	}
}

// TestAllowLists: the chart passes the installer's allow-lists to the manager, Istio's official
// locations by default.
func TestAllowLists(t *testing.T) {
	cases := map[string]struct {
		values    map[string]any
		wantRepos string
		wantHubs  string
	}{
		"defaults": {
			wantRepos: "--allowed-chart-repositories=https://istio-release.storage.googleapis.com/charts,https://blob.istio.io/istio-release/charts,oci://ghcr.io/istio/release/charts",
			wantHubs:  "--allowed-image-hubs=docker.io/istio,gcr.io/istio-release,ghcr.io/istio",
		},
		"a mirror only": {
			values:    map[string]any{"allowedChartRepositories": []any{"oci://registry.example.com/istio"}, "allowedImageHubs": []any{"registry.example.com/istio"}},
			wantRepos: "--allowed-chart-repositories=oci://registry.example.com/istio",
			wantHubs:  "--allowed-image-hubs=registry.example.com/istio",
		},
		"nothing but the built-in charts": {
			values:    map[string]any{"allowedChartRepositories": []any{}},
			wantRepos: "--allowed-chart-repositories=",
			wantHubs:  "--allowed-image-hubs=docker.io/istio,gcr.io/istio-release,ghcr.io/istio",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objects := render(t, tc.values, defaultRelease, defaultNamespace)
			deploy := as[appsv1.Deployment](t, objects.get(t, "Deployment", objects.fullname()))
			args := container(t, deploy, "manager").Args
			for _, want := range []string{tc.wantRepos, tc.wantHubs} {
				if !slices.Contains(args, want) {
					t.Errorf("args %v lack %s", args, want)
				}
			}
		})
	}
}
