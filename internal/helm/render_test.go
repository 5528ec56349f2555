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
	"path"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// helmRender renders a chart as Helm's install action does: Helm's engine with its own template
// functions, then Helm's SortManifests; each manifest decoded.
func helmRender(t *testing.T, chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions) []*unstructured.Unstructured {
	t.Helper()
	renderValues, err := util.ToRenderValuesWithSchemaValidation(chart, values, options, common.DefaultCapabilities, false)
	if err != nil {
		t.Fatal(err)
	}
	files, err := engine.Render(chart, renderValues)
	if err != nil {
		t.Fatal(err)
	}
	for name := range files {
		if strings.HasSuffix(name, "NOTES.txt") {
			delete(files, name)
		}
	}
	hooks, manifests, err := releaseutil.SortManifests(files, nil, releaseutil.InstallOrder)
	if err != nil || len(hooks) > 0 {
		t.Fatalf("sorting: %v, %d hooks", err, len(hooks))
	}
	var objects []*unstructured.Unstructured
	for _, m := range manifests {
		decoded, err := decodeManifest([]byte(m.Content))
		if err != nil {
			t.Fatal(err)
		}
		objects = append(objects, decoded...)
	}
	return objects
}

func identities(objects []*unstructured.Unstructured) []string {
	out := make([]string, len(objects))
	for i, obj := range objects {
		out[i] = obj.GetKind() + " " + obj.GetName()
	}
	return out
}

// TestRenderMatchesHelm: the chart manager's render (its own fromYaml, its own ordering from the objects
// it decodes) gives the objects Helm's engine and sorter give, in the same order, for the built-in
// charts and for a chart of kinds Helm's install order does not list.
func TestRenderMatchesHelm(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
	istiodValues, err := render.IstiodValues(spec, charts.BuiltinVersion)
	if err != nil {
		t.Fatal(err)
	}
	excluded := render.BaseValues(spec)
	excluded["base"] = map[string]any{"excludedCRDs": []any{"sidecars.networking.istio.io"}}
	cases := []struct {
		name   string
		chart  func() (*chartv2.Chart, error)
		values map[string]any
	}{
		{"base", func() (*chartv2.Chart, error) { return charts.Builtin(charts.Base) }, render.BaseValues(spec)},
		{"base without one CRD", func() (*chartv2.Chart, error) { return charts.Builtin(charts.Base) }, excluded},
		{"istiod", func() (*chartv2.Chart, error) { return charts.Builtin(charts.Istiod) }, istiodValues},
		{"cni", func() (*chartv2.Chart, error) { return charts.Builtin(charts.CNI) }, render.CNIValues(spec, charts.BuiltinVersion)},
		{"unlisted kinds", func() (*chartv2.Chart, error) { return unlistedKindsChart(), nil }, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			chart, err := tc.chart()
			if err != nil {
				t.Fatal(err)
			}
			options := common.ReleaseOptions{Name: "r", Namespace: "istio-system", Revision: 1, IsInstall: true}
			want := helmRender(t, chart, tc.values, options)
			got, _, err := renderChart(context.Background(), chart, tc.values, options, common.DefaultCapabilities)
			if err != nil {
				t.Fatal(err)
			}
			if gotIDs, wantIDs := identities(got), identities(want); strings.Join(gotIDs, ",") != strings.Join(wantIDs, ",") {
				t.Fatalf("objects or order differ:\n got %v\nwant %v", gotIDs, wantIDs)
			}
			for i := range want {
				if !equality.Semantic.DeepEqual(got[i].Object, want[i].Object) {
					t.Errorf("%s %s differs from Helm's render", want[i].GetKind(), want[i].GetName())
				}
			}
		})
	}
}

// unlistedKindsChart has objects of kinds Helm's install order lists and does not, in two files, a
// comments-only document and a partial.
func unlistedKindsChart() *chartv2.Chart {
	object := func(apiVersion, kind, name string) string {
		return "apiVersion: " + apiVersion + "\nkind: " + kind + "\nmetadata:\n  name: " + name + "\n"
	}
	a := object("example.com/v1", "Zebra", "z1") + "---\n" + object("v1", "Service", "s1") + "---\n# only a comment\n---\n" +
		object("example.com/v1", "Antelope", "a1") + "---\n" + object("v1", "ConfigMap", "c1")
	b := object("example.com/v1", "Zebra", "z2") + "---\n" + object("v1", "Namespace", "n1") + "---\n" +
		object("example.com/v1", "Antelope", "a2") + "---\n" + object("apiextensions.k8s.io/v1", "CustomResourceDefinition", "d1")
	return &chartv2.Chart{
		Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "kinds", Version: "0.1.0"},
		Templates: []*common.File{
			{Name: path.Join("templates", "b.yaml"), Data: []byte(b)},
			{Name: path.Join("templates", "a.yaml"), Data: []byte(a)},
			{Name: path.Join("templates", "_helpers.tpl"), Data: []byte(`{{- define "x" }}kind: Secret{{ end }}`)},
		},
	}
}

// TestFromYamlCopiesPerCall: the template function fromYaml parses a document once for two calls, and
// every call gets a map of its own, so what one template changes the next does not see.
func TestFromYamlCopiesPerCall(t *testing.T) {
	tpl := `{{- $first := fromYaml .Values.doc }}
{{- $_ := set $first.metadata "name" "changed" }}
{{- $second := fromYaml .Values.doc }}
{{- $secondName := $second.metadata.name }}
{{- $_ := set $second.metadata "name" "changed again" }}
{{- $third := fromYaml .Values.doc }}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ $secondName }}
data:
  first: {{ $first.metadata.name }}
  third: {{ $third.metadata.name }}
  broken: {{ (fromYaml "a: [") | toJson | quote }}
`
	chart := &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "copies", Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/cm.yaml", Data: []byte(tpl)}},
	}
	values := map[string]any{"doc": "metadata:\n  name: original\n"}
	options := common.ReleaseOptions{Name: "r", Namespace: "ns", Revision: 1, IsInstall: true}
	objects, _, err := renderChart(context.Background(), chart, values, options, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if len(objects) != 1 {
		t.Fatalf("want one object, got %d", len(objects))
	}
	if name := objects[0].GetName(); name != "original" {
		t.Errorf("the second fromYaml saw the first one's change: name %q", name)
	}
	if third, _, _ := unstructured.NestedString(objects[0].Object, "data", "third"); third != "original" {
		t.Errorf("the third fromYaml saw an earlier one's change: name %q", third)
	}
	want := helmRender(t, chart, values, options)
	if !equality.Semantic.DeepEqual(objects[0].Object, want[0].Object) {
		t.Errorf("render differs from Helm's:\n got %v\nwant %v", objects[0].Object, want[0].Object)
	}
}

// TestRenderRefusesHooks: a chart with a Helm hook is refused, naming the template.
func TestRenderRefusesHooks(t *testing.T) {
	chart := &chartv2.Chart{
		Metadata: &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: "hooks", Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/job.yaml", Data: []byte(
			"apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: j\n  annotations:\n    helm.sh/hook: pre-install\n")}},
	}
	_, _, err := renderChart(context.Background(), chart, nil, common.ReleaseOptions{Name: "r", Namespace: "ns", Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	if err == nil || !strings.Contains(err.Error(), "hooks/templates/job.yaml") {
		t.Fatalf("want the hook refused with its template named, got %v", err)
	}
}

// TestToYamlMemo: a document that is, comments aside, what toYaml wrote for a map of plain YAML values
// decodes to a copy of that map taken when toYaml ran, equal to what parsing the text gives; a map
// holding anything decoding would not give (an int) is parsed as usual.
func TestToYamlMemo(t *testing.T) {
	memo := newRenderMemo()
	toYaml := memo.funcs()["toYaml"].(func(any) string)
	big := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "big"},
		"data": map[string]any{"text": strings.Repeat("x", 2*memoMinSize), "yes": "yes", "number": "1"},
		"spec": map[string]any{"list": []any{1.5, float64(4294967295), true, nil, map[string]any{"a": "b"}}}}
	out := toYaml(big)
	big["kind"] = "Changed" // a template may change the map after writing it
	doc := "# Source: a comment\n\n" + out + "\n"
	got, text, ok := memo.object(doc)
	if !ok {
		t.Fatal("the document toYaml wrote was not recognised")
	}
	if text != out {
		t.Errorf("the memo's text is not what toYaml wrote:\n%s\nwant\n%s", text, out)
	}
	parsed, err := decodeManifest([]byte(doc))
	if err != nil || len(parsed) != 1 {
		t.Fatalf("decoding: %v, %d objects", err, len(parsed))
	}
	if !equality.Semantic.DeepEqual(got, parsed[0].Object) {
		t.Errorf("the remembered map differs from the parsed text:\n got %v\nwant %v", got, parsed[0].Object)
	}
	if _, _, again := memo.object(doc); again {
		t.Error("a remembered map was handed out twice")
	}
	if _, _, ok := memo.object(doc + "---\nkind: Other\n"); ok {
		t.Error("a document with more than toYaml's text was taken from the memo")
	}

	withInt := map[string]any{"kind": "ConfigMap", "data": map[string]any{"text": strings.Repeat("x", 2*memoMinSize)}, "replicas": 3}
	if _, _, ok := memo.object(toYaml(withInt)); ok {
		t.Error("a map holding an int was remembered; parsing its text gives a float64")
	}
}
