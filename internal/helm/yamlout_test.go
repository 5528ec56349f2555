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
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"helm.sh/helm/v4/pkg/chart/common"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// sameAsRoundTrip fails t unless marshalYAML writes v exactly as sigs.k8s.io/yaml's Marshal does, and,
// with direct, unless it wrote v without the JSON round trip.
func sameAsRoundTrip(t *testing.T, name string, v any, direct bool) {
	t.Helper()
	want, wantErr := yaml.Marshal(v)
	got, gotErr := marshalYAML(v)
	if (wantErr != nil) != (gotErr != nil) || string(got) != string(want) {
		t.Errorf("%s: marshalYAML wrote\n%s(error %v)\nsigs.k8s.io/yaml wrote\n%s(error %v)", name, got, gotErr, want, wantErr)
	}
	if _, ok := asYAMLValue(v); direct && !ok {
		t.Errorf("%s: written through the JSON round trip, not directly", name)
	}
}

func TestMarshalYAMLMatchesTheRoundTrip(t *testing.T) {
	cases := map[string]struct {
		v      any
		direct bool
	}{
		"whole floats":            {map[string]any{"a": 1.0, "b": 1e6, "c": math.Copysign(0, -1), "d": 1e20, "e": 1e21, "f": 1e19, "g": -9.2e18, "h": 1.8446744073709552e19}, true},
		"fractions and exponents": {map[string]any{"a": 0.5, "b": 1.5e-7, "c": 123456789.5, "d": -2.25e30, "e": 1e-7}, true},
		"integers":                {map[string]any{"a": int64(math.MaxInt64), "b": int64(math.MinInt64), "c": 3, "d": int32(-4)}, true},
		"strings that look like something else": {map[string]any{"a": "true", "b": "1", "c": "", "d": "a: b", "e": "- x",
			"f": "multi\nline\n", "g": "null", "h": "~", "i": "0x1F", "j": "1e3", "k": "<&>", "l": "\u2028", "m": " lead"}, true},
		"keys that look like something else": {map[string]any{"1": "a", "true": "b", "": "c", "a10": 1.0, "a9": 2.0, "B": 3.0, "b": 4.0}, true},
		"nil and empty":                      {map[string]any{"a": nil, "b": map[string]any(nil), "c": []any(nil), "d": map[string]any{}, "e": []any{}}, true},
		"nested":                             {map[string]any{"a": []any{1.0, map[string]any{"b": []any{2.5, nil, []any(nil)}}, "c"}}, true},
		"a list at the top":                  {[]any{1.0, "x", map[string]any{"k": false}}, true},
		"a scalar":                           {2.0, true},
		"a string not UTF-8":                 {map[string]any{"a": "\xff"}, false},
		"a control character JSON leaves as it is": {map[string]any{"a": "x\u007fy", "b": "\ufffe"}, false},
		"a line break JSON leaves as it is":        {map[string]any{"a": "x\u0085y"}, false},
		"characters go-yaml reads":                 {map[string]any{"a": "\u00a0 \ufeff \U0001F600 \t \r"}, true},
		"a key not UTF-8":                          {map[string]any{"\xff": "a"}, false},
		"a typed value":                            {map[string]any{"a": []string{"x"}}, false},
		"not a number":                             {map[string]any{"a": math.NaN()}, false},
		"an infinity":                              {map[string]any{"a": math.Inf(1)}, false},
	}
	for name, tc := range cases {
		sameAsRoundTrip(t, name, tc.v, tc.direct)
	}
}

// builtinObjects renders the three built-in charts for a sample mesh and returns each chart's objects.
func builtinObjects(t *testing.T) map[string][]*unstructured.Unstructured {
	t.Helper()
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
	istiodValues, err := render.IstiodValues(spec, charts.BuiltinVersion)
	if err != nil {
		t.Fatal(err)
	}
	rendered := map[string][]*unstructured.Unstructured{}
	for name, values := range map[string]map[string]any{
		charts.Base: render.BaseValues(spec), charts.Istiod: istiodValues, charts.CNI: render.CNIValues(spec, charts.BuiltinVersion),
	} {
		chart, err := charts.Builtin(name)
		if err != nil {
			t.Fatal(err)
		}
		objects, _, err := renderChart(context.Background(), chart, values,
			common.ReleaseOptions{Name: "r", Namespace: "istio-system", Revision: 1, IsInstall: true}, common.DefaultCapabilities)
		if err != nil {
			t.Fatal(err)
		}
		if len(objects) == 0 {
			t.Fatalf("chart %s rendered nothing", name)
		}
		rendered[name] = objects
	}
	return rendered
}

// TestMarshalYAMLWritesTheChartsDirectly: every object of the built-in charts, as rendered and as
// decoded back from the text toYaml wrote (float64 numbers), is written directly and as before.
func TestMarshalYAMLWritesTheChartsDirectly(t *testing.T) {
	for name, objects := range builtinObjects(t) {
		for _, obj := range objects {
			sameAsRoundTrip(t, name+" "+obj.GetKind()+" "+obj.GetName(), obj.Object, true)
			data, err := json.Marshal(obj.Object)
			if err != nil {
				t.Fatal(err)
			}
			var decoded map[string]any
			if err := json.Unmarshal(data, &decoded); err != nil {
				t.Fatal(err)
			}
			sameAsRoundTrip(t, name+" "+obj.GetKind()+" "+obj.GetName()+" (float64 numbers)", decoded, true)
		}
	}
}

// TestFromYamlParsesTheCRDsDirectly: every CRD of the base chart takes fromYaml's direct parse, and gets
// what Helm's fromYaml gives.
func TestFromYamlParsesTheCRDsDirectly(t *testing.T) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	var crds string
	for _, f := range chart.Files {
		if f.Name == "files/crd-all.gen.yaml" {
			crds = string(f.Data)
		}
	}
	docs := strings.Split(crds, "\n---\n")
	if len(docs) < 10 {
		t.Fatalf("the base chart's files/crd-all.gen.yaml holds %d documents", len(docs))
	}
	for i, doc := range docs {
		direct, ok := parseYAMLMap(doc)
		if !ok {
			t.Errorf("document %d is not parsed directly", i)
			continue
		}
		if want := fromYAMLRoundTrip(doc); !reflect.DeepEqual(direct, want) {
			t.Errorf("document %d: the direct parse differs from Helm's fromYaml", i)
		}
	}
}

// TestManifestReusesTheCRDsText: the manifest of the base chart writes each CRD's metadata and takes the
// rest from the text the CRD template wrote, and is byte for byte what writing every object whole gives.
func TestManifestReusesTheCRDsText(t *testing.T) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	objects, _, texts, err := renderChartTexts(context.Background(), chart, render.BaseValues(&meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}),
		common.ReleaseOptions{Name: "istio-base", Namespace: "istio-system", Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if err := stampObjects(objects, Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "u"}, nil); err != nil {
		t.Fatal(err)
	}
	crds := 0
	for _, obj := range objects {
		if obj.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crds++
		if err := setAppliedDigest(obj); err != nil {
			t.Fatal(err)
		}
		text, ok := texts[obj]
		if !ok {
			t.Fatalf("no text of CRD %s", obj.GetName())
		}
		spliced, ok, err := spliceMetadata(text, obj.Object)
		if err != nil || !ok {
			t.Fatalf("CRD %s was not spliced: %v", obj.GetName(), err)
		}
		whole, err := marshalYAML(obj.Object)
		if err != nil {
			t.Fatal(err)
		}
		if string(spliced) != string(whole) {
			t.Errorf("CRD %s: the spliced text differs from the whole object's", obj.GetName())
		}
	}
	if crds < 10 {
		t.Fatalf("the base chart rendered %d CRDs", crds)
	}
	reused, err := encodeManifestReusing(objects, texts)
	if err != nil {
		t.Fatal(err)
	}
	if whole, err := encodeManifest(objects); err != nil || reused != whole {
		t.Errorf("the manifest differs when it reuses the CRDs' text (%v)", err)
	}
}

func TestSpliceMetadata(t *testing.T) {
	obj := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "a"},
		"data":  map[string]any{"text": "line one\n\nline three\n", "list": []any{"x", map[string]any{"y": "z"}}},
		"items": []any{"- not a key", "b"}, "z9": "last"}
	text, err := marshalYAML(obj)
	if err != nil {
		t.Fatal(err)
	}
	obj["metadata"] = map[string]any{"name": "a", "labels": map[string]any{"mesh.meshkeeper.io/managed-by": "meshkeeper"}}
	spliced, ok, err := spliceMetadata(strings.TrimSuffix(string(text), "\n"), obj)
	if err != nil || !ok {
		t.Fatalf("not spliced: %v", err)
	}
	if whole, _ := marshalYAML(obj); string(spliced) != string(whole) {
		t.Errorf("spliced\n%s\nwant\n%s", spliced, whole)
	}
	for name, tc := range map[string]struct {
		text string
		obj  map[string]any
	}{
		"a field added":        {"kind: A\nmetadata:\n  name: a", map[string]any{"kind": "A", "metadata": map[string]any{}, "spec": "x"}},
		"no metadata":          {"kind: A\nspec: x", map[string]any{"kind": "A", "spec": "x"}},
		"a quoted key":         {"\"on\": A\nmetadata: {}", map[string]any{"on": "A", "metadata": map[string]any{}}},
		"starts with a list":   {"- a\nkind: A", map[string]any{"kind": "A"}},
		"a key of other chars": {"a_b: 1\nmetadata: {}", map[string]any{"a_b": "1", "metadata": map[string]any{}}},
	} {
		if _, ok, _ := spliceMetadata(tc.text, tc.obj); ok {
			t.Errorf("%s: spliced", name)
		}
	}
}

// TestWriteYAMLWritesTheChartsItself: every object of the built-in charts is written by writeYAML, not
// by go-yaml, and exactly as go-yaml writes it.
func TestWriteYAMLWritesTheChartsItself(t *testing.T) {
	for name, objects := range builtinObjects(t) {
		for _, obj := range objects {
			v, ok := asYAMLValue(obj.Object)
			if !ok {
				t.Fatalf("%s %s: not a JSON-like value", obj.GetKind(), obj.GetName())
			}
			got, ok := writeYAML(v)
			if !ok {
				t.Errorf("%s %s %s: writeYAML declined it", name, obj.GetKind(), obj.GetName())
				continue
			}
			if want, err := yamlv2.Marshal(v); err != nil || string(got) != string(want) {
				t.Errorf("%s %s %s: writeYAML differs from go-yaml (error %v)", name, obj.GetKind(), obj.GetName(), err)
			}
		}
	}
}

// TestWriteYAMLMatchesGoYAML: the shapes and string styles go-yaml writes, each written as go-yaml
// writes it; and what writeYAML leaves to go-yaml.
func TestWriteYAMLMatchesGoYAML(t *testing.T) {
	long := strings.Repeat("folded words ", 12)
	written := map[string]any{
		"empty collections": map[string]any{"a": map[string]any{}, "b": []any{}, "c": []any{map[string]any{}, []any{}}},
		"lists":             []any{[]any{"a", []any{"b"}}, map[string]any{"k": []any{1, "x"}, "l": map[string]any{"m": nil}}},
		"key order":         map[string]any{"a10": 1, "a9": 2, "B": 3, "b": 4, "_": 5, "1": 6, "a01": 7, "é": 9, "a-b": 10},
		"scalars":           map[string]any{"a": true, "b": int64(-3), "c": 1.5e-7, "d": uint64(1 << 63), "e": int32(7), "f": 2e21},
		"plain and quoted": map[string]any{"p": long, "s": long + "it's: " + long, "d": "tab\t" + long, "e": "", "n": "1e3",
			"y": "yes", "t": "2001-12-14", "b": "1:20", "x": "0x1F", "u": "1_000", "h": "#x", "m": "- x", "c": "a: b"},
		"literal blocks": map[string]any{"a": "x\ny", "b": "x\n", "c": "x\n\n", "d": "\n", "e": " lead\nx", "f": "\nlead",
			"g": "trail \nx", "h": "x\n" + long + "\n"},
		"deep":        map[string]any{"a": map[string]any{"b": map[string]any{"c": []any{map[string]any{"d": long + long}}}}},
		"root string": long,
	}
	for name, v := range written {
		got, ok := writeYAML(v)
		if !ok {
			t.Errorf("%s: writeYAML declined it", name)
			continue
		}
		if want, err := yamlv2.Marshal(v); err != nil || string(got) != string(want) {
			t.Errorf("%s: writeYAML wrote\n%s\ngo-yaml wrote\n%s(error %v)", name, got, want, err)
		}
	}
	for name, v := range map[string]any{
		"a long key":                          map[string]any{strings.Repeat("k", 129): 1},
		"a key with a new line":               map[string]any{"a\nb": 1},
		"a carriage return":                   "a\rb",
		"a line separator":                    map[string]any{"a": "a\u2028b"},
		"a type it does not own":              map[string]any{"a": []string{"x"}},
		"keys go-yaml's order does not order": map[string]any{"a1x": 1, "a9": 2, "a10": 3},
	} {
		if _, ok := writeYAML(v); ok {
			t.Errorf("%s: writeYAML wrote it; go-yaml writes it in a form writeYAML does not", name)
		}
	}
}

// A plain string is copied whole when it cannot fold (no space, no fold where it is written, or its
// line ends within the best width), and written a character at a time otherwise: at and around the
// width where folding begins, under keys and list items of every indent, with characters of several
// bytes, both write what go-yaml writes.
func TestWriteYAMLFoldsPlainStringsAtTheBestWidth(t *testing.T) {
	for _, word := range []string{"w", "été", "\U0001F600x"} {
		for length := 60; length <= 100; length++ {
			var b strings.Builder
			for b.Len() == 0 || utf8.RuneCountInString(b.String()) < length {
				b.WriteString(word + " ")
			}
			s := strings.TrimSpace(string([]rune(b.String())[:length]))
			for _, v := range []any{s, []any{s}, map[string]any{"key": s}, map[string]any{"k": []any{map[string]any{"nested-key": s}}},
				map[string]any{strings.Repeat("k", 40): s}, strings.ReplaceAll(s, " ", "")} {
				got, ok := writeYAML(v)
				if !ok {
					t.Fatalf("writeYAML declined %#v", v)
				}
				if want, err := yamlv2.Marshal(v); err != nil || string(got) != string(want) {
					t.Fatalf("writeYAML wrote\n%s\ngo-yaml wrote\n%s(error %v)", got, want, err)
				}
			}
		}
	}
}
