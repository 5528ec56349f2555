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

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/v2/loader"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

const root = "../.."

func decode(t *testing.T, data []byte) map[string]*unstructured.Unstructured {
	t.Helper()
	objects := map[string]*unstructured.Unstructured{}
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := decoder.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objects
			}
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objects[u.GetKind()+"/"+u.GetName()] = u
		}
	}
}

func managerImageIn(t *testing.T, deploy *unstructured.Unstructured) string {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(deploy.Object, d); err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "manager" {
			return c.Image
		}
	}
	t.Fatal("no manager container")
	return ""
}

func TestBuild(t *testing.T) {
	for name, tc := range map[string]struct {
		image, want string
	}{
		"default image":   {"", "ghcr.io/meshkeeper/meshkeeper:9.8.7"},
		"image by digest": {"registry.example.com/mk@sha256:" + strings.Repeat("ab", 32), "registry.example.com/mk@sha256:" + strings.Repeat("ab", 32)},
	} {
		t.Run(name, func(t *testing.T) {
			out := t.TempDir()
			paths, err := Build(Options{Root: root, Version: "9.8.7", Image: tc.image, Out: out})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{filepath.Join(out, "install.yaml"), filepath.Join(out, "meshkeeper-9.8.7.tgz")}
			if len(paths) != 2 || paths[0] != want[0] || paths[1] != want[1] {
				t.Fatalf("paths %v, want %v", paths, want)
			}

			data, err := os.ReadFile(paths[0])
			if err != nil {
				t.Fatal(err)
			}
			objects := decode(t, data)
			crd := objects["CustomResourceDefinition/servicemeshes.mesh.meshkeeper.io"]
			if crd == nil {
				t.Fatalf("install.yaml has no ServiceMesh CRD: %v", keys(objects))
			}
			deploy := objects["Deployment/meshkeeper-controller-manager"]
			if deploy == nil || deploy.GetNamespace() != "meshkeeper-system" {
				t.Fatalf("install.yaml has no manager Deployment in meshkeeper-system: %v", keys(objects))
			}
			if got := managerImageIn(t, deploy); got != tc.want {
				t.Errorf("install.yaml deploys %q, want %q", got, tc.want)
			}
			for _, k := range []string{"Namespace/meshkeeper-system", "ServiceAccount/meshkeeper-controller-manager",
				"ClusterRole/meshkeeper-manager-role", "Service/meshkeeper-controller-manager-metrics-service"} {
				if objects[k] == nil {
					t.Errorf("install.yaml lacks %s: %v", k, keys(objects))
				}
			}

			chart, err := loader.Load(paths[1])
			if err != nil {
				t.Fatalf("loading the packaged chart: %v", err)
			}
			if chart.Metadata.Version != "9.8.7" || chart.Metadata.AppVersion != "9.8.7" {
				t.Errorf("packaged chart %s appVersion %s, want 9.8.7", chart.Metadata.Version, chart.Metadata.AppVersion)
			}
			if len(chart.CRDObjects()) != 1 || chart.Schema == nil {
				t.Error("the packaged chart lacks its CRD or its values schema")
			}
			image := chart.Values["image"].(map[string]any)
			got := image["repository"].(string)
			if d := image["digest"].(string); d != "" {
				got += "@" + d
			} else {
				got += ":" + chart.Metadata.AppVersion
			}
			if got != tc.want || !strings.Contains(chart.Metadata.Annotations["artifacthub.io/images"], "image: "+tc.want) {
				t.Errorf("the packaged chart deploys %q (Artifact Hub: %q), want %q", got, chart.Metadata.Annotations["artifacthub.io/images"], tc.want)
			}
			files := map[string]bool{}
			for _, f := range chart.Files {
				files[f.Name] = true
			}
			if !files["files/prometheus-rules.yaml"] || !files["dashboards/meshkeeper.json"] {
				t.Errorf("the packaged chart lacks the rules or the dashboard: %v", files)
			}
		})
	}
}

func TestBuildRefuses(t *testing.T) {
	for name, opts := range map[string]Options{
		"no version":   {Root: root},
		"a v prefix":   {Root: root, Version: "v1.0.0"},
		"latest image": {Root: root, Version: "1.0.0", Image: "ghcr.io/meshkeeper/meshkeeper:latest"},
		"no tag":       {Root: root, Version: "1.0.0", Image: "ghcr.io/meshkeeper/meshkeeper"},
	} {
		t.Run(name, func(t *testing.T) {
			opts.Out = t.TempDir()
			if _, err := Build(opts); err == nil {
				t.Error("no error")
			}
		})
	}
}

func keys(m map[string]*unstructured.Unstructured) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
