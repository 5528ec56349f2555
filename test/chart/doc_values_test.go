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
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestInstallDocListsEveryValue checks the values table of docs/install.md against values.yaml: every
// value of the chart's own (down to the free-form ones and the maps of free keys) is in the table, the
// table names no value the chart does not have, and a default the table gives as literals, one per value
// of its row, is the one values.yaml sets.
func TestInstallDocListsEveryValue(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	leaves := map[string]any{}
	collectValues("", values, leaves)

	doc, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	rows := valuesTable(t, string(doc))
	documented := map[string]bool{}
	code := regexp.MustCompile("`([^`]*)`")
	for _, row := range rows {
		var names []string
		for _, m := range code.FindAllStringSubmatch(row[0], -1) {
			names = append(names, m[1])
		}
		for _, name := range names {
			documented[name] = true
			if _, ok := leaves[name]; !ok {
				t.Errorf("docs/install.md#values lists %s, which values.yaml does not have", name)
			}
		}
		// The default column as literals only: "`30s`, `10s`" for two values.
		cell := strings.TrimSpace(row[1])
		defaults := code.FindAllStringSubmatch(cell, -1)
		if len(defaults) != len(names) || strings.TrimSpace(code.ReplaceAllString(cell, "")) != strings.Repeat(",", len(names)-1) {
			continue
		}
		for i, name := range names {
			v, ok := leaves[name]
			if !ok {
				continue
			}
			if got := literal(v); got != defaults[i][1] {
				t.Errorf("docs/install.md#values gives %s the default `%s`, values.yaml sets %s", name, defaults[i][1], got)
			}
		}
	}
	var missing []string
	for name := range leaves {
		if !documented[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("docs/install.md#values does not list %s", name)
	}
	if len(documented) < 40 {
		t.Errorf("read only %d values from docs/install.md#values", len(documented))
	}
}

// collectValues records each value of values.yaml by its dotted path: a scalar, a list, a free-form
// value (freeForm), or an object of free keys (labels, annotations), which the table names whole.
func collectValues(path string, value any, leaves map[string]any) {
	object, ok := value.(map[string]any)
	if !ok || slices.Contains(freeForm, path) || (len(object) == 0 && path != "") {
		leaves[path] = value
		return
	}
	for key, v := range object {
		collectValues(join(path, key), v, leaves)
	}
}

// valuesTable is the rows of the table under "### Values", each as its cells.
func valuesTable(t *testing.T, doc string) [][]string {
	t.Helper()
	_, section, ok := strings.Cut(doc, "\n### Values\n")
	if !ok {
		t.Fatal("docs/install.md has no section Values")
	}
	var rows [][]string
	started := false
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "|") {
			if started {
				break
			}
			continue
		}
		started = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) < 3 || strings.TrimSpace(cells[0]) == "value" || strings.HasPrefix(strings.TrimSpace(cells[0]), "---") {
			continue
		}
		rows = append(rows, cells)
	}
	return rows
}

// literal writes a value of values.yaml as the table does: "" for the empty string, [a, b] for a list,
// {k: v} for an object.
func literal(v any) string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []any:
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = literal(item)
		}
		return "[" + strings.Join(items, ", ") + "]"
	case map[string]any:
		keys := make([]string, 0, len(v))
		for key := range v {
			keys = append(keys, key)
		}
		sort.Strings(keys)
		items := make([]string, len(keys))
		for i, key := range keys {
			items[i] = key + ": " + literal(v[key])
		}
		return "{" + strings.Join(items, ", ") + "}"
	default:
		return fmt.Sprint(v)
	}
}
