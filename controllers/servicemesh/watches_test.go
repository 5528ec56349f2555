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
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// The kinds meshkeeper watches for drift are exactly the kinds the built-in charts render, with the
// sample spec and with the spec that turns every option on: a chart upgrade that adds a kind fails
// here instead of leaving that kind unwatched, and a kind the charts dropped is not watched for
// nothing. The CRDs are left out on purpose (Helm's keep policy, changed only by an upgrade).
func TestChartKindsAreTheRenderedKinds(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	watched := sets.New[schema.GroupVersionKind]()
	clusterScoped := map[schema.GroupVersionKind]bool{}
	for _, kind := range ChartKinds {
		gvk, err := apiutil.GVKForObject(kind.Object, scheme)
		if err != nil {
			t.Fatal(err)
		}
		watched.Insert(gvk)
		clusterScoped[gvk] = kind.ClusterScoped
	}

	rendered := sets.New[schema.GroupVersionKind]()
	for _, fixture := range []string{"sample.yaml", "maximal.yaml"} {
		spec := specFromFixture(t, filepath.Join("..", "..", "internal", "render", "testdata", fixture))
		istiodValues, err := render.IstiodValues(spec, charts.BuiltinVersion)
		if err != nil {
			t.Fatal(err)
		}
		for chartName, values := range map[string]map[string]any{charts.Base: render.BaseValues(spec), charts.Istiod: istiodValues,
			charts.CNI: render.CNIValues(spec, charts.BuiltinVersion)} {
			chart, err := charts.Builtin(chartName)
			if err != nil {
				t.Fatal(err)
			}
			manifest, err := helm.Template(chart, values, chartName, spec.Namespace)
			if err != nil {
				t.Fatal(err)
			}
			for _, obj := range objectsOf(t, manifest) {
				gvk := obj.GroupVersionKind()
				if gvk.Kind == "CustomResourceDefinition" {
					continue
				}
				rendered.Insert(gvk)
				// The cache holds the namespaced kinds only in the control-plane namespaces
				// (controllers.CacheByObject): a kind marked the wrong way would go unwatched.
				if scoped, ok := clusterScoped[gvk]; ok && scoped != (obj.GetNamespace() == "") {
					t.Errorf("%s %s renders with namespace %q, but ChartKinds has ClusterScoped %t", gvk.Kind, obj.GetName(), obj.GetNamespace(), scoped)
				}
			}
		}
	}
	if missing := rendered.Difference(watched); missing.Len() > 0 {
		t.Errorf("the charts render kinds meshkeeper does not watch for drift: %v; add them to ChartKinds (and to the RBAC markers)", sets.List(gvkNames(missing)))
	}
	if unused := watched.Difference(rendered); unused.Len() > 0 {
		t.Errorf("ChartKinds watches kinds the charts no longer render: %v", sets.List(gvkNames(unused)))
	}
}

func specFromFixture(t *testing.T, path string) *meshv1alpha1.ServiceMeshSpec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := yaml.UnmarshalStrict(data, mesh); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &mesh.Spec
}

func objectsOf(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	var objects []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		u := &unstructured.Unstructured{}
		err := decoder.Decode(&u.Object)
		if errors.Is(err, io.EOF) {
			return objects
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(u.Object) > 0 {
			objects = append(objects, u)
		}
	}
}

func gvkNames(gvks sets.Set[schema.GroupVersionKind]) sets.Set[string] {
	out := sets.New[string]()
	for gvk := range gvks {
		out.Insert(gvk.String())
	}
	return out
}
