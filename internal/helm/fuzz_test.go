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
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	releaseutil "helm.sh/helm/v4/pkg/release/v1/util"
)

// FuzzDecodeManifest feeds decodeManifest what a release Secret may hold: it must never panic, and
// every object it returns has content.
func FuzzDecodeManifest(f *testing.F) {
	for _, golden := range []string{"istiod-sample.golden.yaml", "istiod-maximal.golden.yaml"} {
		data, err := os.ReadFile(filepath.Join("..", "render", "testdata", golden))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("---\n# Source: istiod/templates/x.yaml\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n"))
	f.Add([]byte("{\"apiVersion\":\"v1\",\"kind\":\"List\"}\n[1,2]\n"))
	f.Add([]byte("a: [\n"))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		objects, err := decodeManifest(manifest)
		if err != nil {
			return
		}
		for _, o := range objects {
			if o == nil || len(o.Object) == 0 {
				t.Fatal("an empty object was returned")
			}
			_ = objectName(o)
		}
	})
}

// FuzzDecodeRecord feeds decodeRecord what a release Secret's data may hold (anyone who may write
// Secrets in the namespace can write one): it must never panic, and a record it accepts has its info.
func FuzzDecodeRecord(f *testing.F) {
	rel, err := encodeRecord(&releasev1.Release{Name: "istiod", Version: 1, Info: &releasev1.Info{Status: "deployed"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rel)
	f.Add([]byte("eyJuYW1lIjoieCJ9"))
	f.Add([]byte("H4sI"))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := decodeRecord(data)
		if err == nil && got.Info == nil {
			t.Fatal("a record without info was accepted")
		}
	})
}

// FuzzMarshalYAML: for any JSON document, decoded as toYaml's and the manifests' values are,
// marshalYAML writes what sigs.k8s.io/yaml's Marshal does.
func FuzzMarshalYAML(f *testing.F) {
	for _, seed := range []string{`{"a":1,"b":1e6,"c":-0,"d":1e20,"e":[null,{}],"f":"true"}`, `[1.5,"1",{"1":2}]`,
		`{"a10":1,"a9":2,"":"x","k":"line\nline"}`, `12345678901234567890`, `"\u2028"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var v any
		if json.Unmarshal(data, &v) != nil {
			return
		}
		sameAsRoundTrip(t, string(data), v, false)
	})
}

// FuzzFromYAML: for any YAML document, fromYaml gives what Helm's (sigs.k8s.io/yaml's JSON round trip)
// gives, and what the parse cache keeps of its parse gives that parse back.
func FuzzFromYAML(f *testing.F) {
	for _, seed := range []string{"a: 1\nb: [1.5, -0.0, 1e21, 9007199254740993, 18446744073709551615]\nc: {d: null, e: 'x'}\n",
		"a: yes\nb: 0x1F\nc: 017\nd: .inf\n", "1: a\ntrue: b\n", "- a\n- b\n", "", "null\n", "{}", "a: &x {b: 1}\nc: *x\nd:\n  <<: *x\n  e: 2\n",
		"a: 2001-12-14\nb: !!binary aGVsbG8=\n", "a: 1\na: 2\n", "a: [\n", "a: \"\\xff\"\n", "a: \"\\u0085\"\n"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, doc string) {
		got, want := fromYAML(doc), fromYAMLRoundTrip(doc)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("fromYaml(%q) = %#v, Helm's gives %#v", doc, got, want)
		}
		// What the parse cache keeps of a parse gives the parse back.
		if m, ok := parseYAMLMap(doc); ok {
			compressed, err := encodeCompressedJSON(m)
			if err != nil {
				t.Fatalf("encoding the parse of %q: %v", doc, err)
			}
			if back, err := decodeCompressedJSON(compressed); err != nil || !reflect.DeepEqual(back, m) {
				t.Fatalf("the parse cache gives %#v for %q (%v), the parse %#v", back, doc, err, m)
			}
		}
	})
}

// FuzzSpliceMetadata: for any object (a JSON map) written by marshalYAML, whose metadata then changes,
// spliceMetadata either declines or gives what writing the changed object whole gives.
func FuzzSpliceMetadata(f *testing.F) {
	for _, seed := range []string{`{"apiVersion":"v1","kind":"A","spec":{"a":["- x",{"b":"c\n\nd"}]},"z":[1,[2]]}`,
		`{"a":"x: y","b":"\n- z"}`, `{"-a":1}`, `{"a1":"","B":null,"c":{}}`, `{"x y":1}`} {
		f.Add([]byte(seed), "name")
	}
	f.Fuzz(func(t *testing.T, data []byte, name string) {
		var obj map[string]any
		if json.Unmarshal(data, &obj) != nil || obj == nil {
			return
		}
		obj["metadata"] = map[string]any{"name": "before"}
		text, err := marshalYAML(obj)
		if err != nil {
			return
		}
		obj["metadata"] = map[string]any{"name": name, "labels": map[string]any{"a": name}}
		spliced, ok, err := spliceMetadata(strings.TrimSuffix(string(text), "\n"), obj)
		if err != nil || !ok {
			return
		}
		if whole, err := marshalYAML(obj); err != nil || string(whole) != string(spliced) {
			t.Fatalf("spliced\n%s\nwhole\n%s (%v)", spliced, whole, err)
		}
	})
}

// FuzzSplitManifest: for any rendered file, splitManifest gives the documents Helm's SplitManifests
// gives, in its order.
func FuzzSplitManifest(f *testing.F) {
	for _, seed := range []string{"a: 1\n---\nb: 2\n", "---\na: 1\n--- \t\nb: 2\n---", "  \n\n---apiVersion: v1\n", "a: |\n  ---\n  x\n----\n",
		"a: 1\r\n---\r\nb: 2", "x ---\n---\n\n---\n", "", "---", "a\n---b\n---\tc\n-- -\nd"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		split := releaseutil.SplitManifests(file)
		keys := make([]string, 0, len(split))
		for k := range split {
			keys = append(keys, k)
		}
		sort.Sort(releaseutil.BySplitManifestsOrder(keys))
		var want []string
		for _, k := range keys {
			want = append(want, split[k])
		}
		if got := splitManifest(file); !slices.Equal(got, want) {
			t.Fatalf("splitManifest(%q) = %q, Helm's SplitManifests gives %q", file, got, want)
		}
	})
}

// FuzzWriteYAML: for any string, as a value, a key and a list item at any depth (so at any column),
// writeYAML either declines or writes what go-yaml's Marshal writes.
func FuzzWriteYAML(f *testing.F) {
	long := strings.Repeat("word ", 30)
	for _, seed := range []string{"plain", "", "a: b", "- x", "x #y", "#x", "'q'", "say \"hi\"", "tab\there", "line\nline\n",
		"trail \n", "\n\nlead", "  two spaces " + long, long + "it's", long + ": " + long, "1.5", "0b101", "2006-01-02", "1:20",
		"yes", "~", "\u00e9t\u00e9 \U0001F600 " + long, "a\\b", "x\n\n", "\n", " ", "---x", "...", "\ufeff"} {
		f.Add(seed, "key", uint8(3))
	}
	f.Fuzz(func(t *testing.T, s, key string, depth uint8) {
		if !utf8.ValidString(s) || !utf8.ValidString(key) {
			return // asYAMLValue never hands writeYAML such a string
		}
		var nested any = map[string]any{key: s, "list": []any{s, []any{s}, map[string]any{key: s}}}
		for i := range depth % 48 {
			if i%3 == 2 {
				nested = []any{nested, s}
			} else {
				nested = map[string]any{key: nested, "z": s}
			}
		}
		for _, v := range []any{s, []any{s}, map[string]any{key: s}, map[string]any{s: key}, nested} {
			got, ok := writeYAML(v)
			if !ok {
				continue
			}
			want, err := yamlv2.Marshal(v)
			if err != nil {
				t.Fatalf("go-yaml refused %#v: %v", v, err)
			}
			if string(got) != string(want) {
				t.Fatalf("writeYAML(%#v) wrote\n%s\ngo-yaml wrote\n%s", v, got, want)
			}
		}
	})
}
