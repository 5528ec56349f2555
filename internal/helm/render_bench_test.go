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
	"context"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// renderBaseAsInstall renders chart, the built-in base chart, as an install of the default ServiceMesh
// does before it applies anything: the templates, the decoded objects in install order, meshkeeper's
// stamps and the CRDs' digests, and the manifest the release record stores.
func renderBaseAsInstall(chart *chartv2.Chart) (string, []*unstructured.Unstructured, error) {
	values := render.BaseValues(&meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"})
	options := common.ReleaseOptions{Name: "istio-base", Namespace: "istio-system", Revision: 1, IsInstall: true}
	return renderAsInstall(chart, values, options)
}

// renderAsInstall renders chart with values as an install of the default ServiceMesh does before it
// applies anything (see renderBaseAsInstall).
func renderAsInstall(chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions) (string, []*unstructured.Unstructured, error) {
	owner := Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid"}
	objects, _, texts, err := renderChartTexts(context.Background(), chart, values, options, common.DefaultCapabilities)
	if err != nil {
		return "", nil, err
	}
	if err := stampObjects(objects, owner, nil); err != nil {
		return "", nil, err
	}
	for _, obj := range objects {
		if obj.GetKind() == "CustomResourceDefinition" {
			if err := setAppliedDigest(obj); err != nil {
				return "", nil, err
			}
		}
	}
	manifest, err := encodeManifestReusing(objects, texts)
	return manifest, objects, err
}

// BenchmarkRenderBase renders the built-in base chart as an install does before it applies anything
// (renderBaseAsInstall; the templates hold 15 CRDs, 934 KB of YAML; docs/performance.md). "first" is the
// process's first render of the chart, each CRD's YAML parsed; "again" every later one, the CRDs' parses
// from the parse cache (a reinstall, an upgrade, a drift check that renders).
func BenchmarkRenderBase(b *testing.B) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		b.Fatal(err)
	}
	renderBase := func(b *testing.B) {
		if _, _, err := renderBaseAsInstall(chart); err != nil {
			b.Fatal(err)
		}
	}
	kept := parsed
	b.Cleanup(func() { parsed = kept })
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			parsed = &parseCache{budget: parseCacheBudget}
			renderBase(b)
		}
	})
	b.Run("again", func(b *testing.B) {
		parsed = &parseCache{budget: parseCacheBudget}
		renderBase(b)
		b.ReportAllocs()
		for b.Loop() {
			renderBase(b)
		}
	})
}

// BenchmarkRecordObjects reads the objects of the built-in base chart's release record as an upgrade
// reads those of the revision it replaces, and an uninstall those of every revision it deletes
// (recordObjects; the record's manifest is the install's, 15 CRDs; docs/performance.md).
func BenchmarkRecordObjects(b *testing.B) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		b.Fatal(err)
	}
	manifest, objects, err := renderBaseAsInstall(chart)
	if err != nil {
		b.Fatal(err)
	}
	mapper := meta.NewDefaultRESTMapper(nil)
	for _, obj := range objects {
		scope := meta.RESTScopeNamespace
		if obj.GetNamespace() == "" {
			scope = meta.RESTScopeRoot
		}
		mapper.Add(obj.GroupVersionKind(), scope)
	}
	m := NewChartManager(&rest.Config{}, fake.NewClientBuilder().WithRESTMapper(mapper).Build(), nil)
	rel := &releasev1.Release{Name: "istio-base", Namespace: "istio-system", Version: 1, Manifest: manifest}
	b.ReportAllocs()
	for b.Loop() {
		recorded, err := m.recordObjects(rel, rel.Namespace)
		if err != nil || len(recorded) != len(objects) {
			b.Fatalf("%d objects, %v; want %d", len(recorded), err, len(objects))
		}
	}
}
