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

package v1alpha1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestAPIDocListsEverySpecField checks the spec table of docs/api.md against the CRD: every field it
// names exists, every field of the spec is named (itself or a field that holds it, such as `values`),
// and a field the CRD gives a default has that default in the table.
func TestAPIDocListsEverySpecField(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(data, crd); err != nil {
		t.Fatal(err)
	}
	fields := map[string]apiextensionsv1.JSONSchemaProps{}
	var walk func(path string, s apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s apiextensionsv1.JSONSchemaProps) {
		if path != "" {
			fields[path] = s
		}
		for name, p := range s.Properties {
			if path != "" {
				name = path + "." + name
			}
			walk(name, p)
		}
	}
	walk("", crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"])

	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "api.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "\n## Spec\n")
	if !ok {
		t.Fatal("docs/api.md has no section Spec")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	code := regexp.MustCompile("`([^`]*)`")
	parenthesis := regexp.MustCompile(`\s*\([^)]*\)`)
	listed := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(line, "|")
		names := specFieldNames(code, cells[1])
		for _, name := range names {
			listed[name] = true
			if _, ok := fields[name]; !ok {
				t.Errorf("docs/api.md#spec lists %s, which the CRD does not have", name)
			}
		}
		// The default cell, without its remarks: one literal for every field of the row, or one each.
		defaults := strings.Split(strings.ReplaceAll(parenthesis.ReplaceAllString(cells[2], ""), "`", ""), ",")
		for i, name := range names {
			def := fields[name].Default
			if def == nil || strings.HasPrefix(string(def.Raw), "{") {
				continue
			}
			want := crdLiteral(t, def.Raw)
			got := ""
			switch {
			case len(defaults) == len(names):
				got = strings.TrimSpace(defaults[i])
			case len(defaults) == 1:
				got = strings.TrimSpace(defaults[0])
			}
			if got != want {
				t.Errorf("docs/api.md#spec gives %s the default %q, the CRD's is %s", name, strings.TrimSpace(cells[2]), want)
			}
		}
	}
	var missing []string
	for name, s := range fields {
		if len(s.Properties) > 0 || listed[name] {
			continue
		}
		covered := false
		for parent := name; strings.Contains(parent, "."); {
			parent = parent[:strings.LastIndex(parent, ".")]
			covered = covered || listed[parent]
		}
		if !covered {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("docs/api.md#spec does not list %s", name)
	}
	if len(listed) < 40 {
		t.Errorf("read only %d fields from docs/api.md#spec", len(listed))
	}
}

// specFieldNames reads the field cell of a spec row: `a.b`, `a.{c,d}` (a.c and a.d), and a name without
// a dot after a dotted one as its sibling (`proxy.deltaXDS`, `dnsCapture`).
func specFieldNames(code *regexp.Regexp, cell string) []string {
	var names []string
	parent := ""
	for _, m := range code.FindAllStringSubmatch(cell, -1) {
		name := m[1]
		if head, list, ok := strings.Cut(name, ".{"); ok {
			for _, child := range strings.Split(strings.TrimSuffix(list, "}"), ",") {
				names = append(names, head+"."+child)
			}
			parent = head
			continue
		}
		if i := strings.LastIndex(name, "."); i >= 0 {
			parent = name[:i]
		} else if parent != "" {
			name = parent + "." + name
		}
		names = append(names, name)
	}
	return names
}

// crdLiteral writes a CRD default as the table does: strings bare, lists as [a, b].
func crdLiteral(t *testing.T, raw []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if list, ok := v.([]any); ok {
		items := make([]string, len(list))
		for i, item := range list {
			b, _ := json.Marshal(item)
			items[i] = strings.Trim(string(b), `"`)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	b, _ := json.Marshal(v)
	return strings.Trim(string(b), `"`)
}

// TestControlPlaneDocListsEveryControlPlaneReadyReason checks the reasons table of ControlPlaneReady in
// docs/control-plane.md against the reasons the condition can have (controlPlaneReadyReasons): a user
// who reads a reason in kubectl describe finds it there, and the table names none the condition never has.
func TestControlPlaneDocListsEveryControlPlaneReadyReason(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "control-plane.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "The reasons of\n`ControlPlaneReady`")
	if !ok {
		t.Fatal("docs/control-plane.md has no table of the reasons of ControlPlaneReady")
	}
	documented := map[string]bool{}
	row := regexp.MustCompile("^\\| `([A-Za-z]+)` \\|")
	started := false
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break // the end of the first table after the heading
			}
			continue
		}
		started = true
		if m := row.FindStringSubmatch(line); m != nil {
			documented[m[1]] = true
		}
	}
	for reason := range controlPlaneReadyReasons {
		if !documented[reason] {
			t.Errorf("docs/control-plane.md does not list ControlPlaneReady's reason %s", reason)
		}
	}
	for reason := range documented {
		if !IsControlPlaneReadyReason(reason) {
			t.Errorf("docs/control-plane.md lists %s as a reason of ControlPlaneReady, which it never has", reason)
		}
	}
	if len(documented) < 10 {
		t.Errorf("read only %d reasons from docs/control-plane.md", len(documented))
	}
}
