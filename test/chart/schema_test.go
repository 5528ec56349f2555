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
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// schemaNode is the part of a JSON schema the completeness check reads.
type schemaNode struct {
	Type                 any                    `json:"type"`
	Properties           map[string]*schemaNode `json:"properties"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Items                *schemaNode            `json:"items"`
	OneOf                []*schemaNode          `json:"oneOf"`
}

// freeForm are the values whose content is Kubernetes' to validate (resources, affinity, selectors...),
// or a parent chart's, so their schema is an open object or list.
var freeForm = []string{"global", "resources", "affinity", "tolerations", "nodeSelector",
	"networkPolicy.metricsNamespaceSelector", "networkPolicy.metricsPodSelector",
	"serviceMonitor.tlsConfig", "serviceMonitor.authorization"}

// TestSchemaComplete walks values.yaml: every value must have a schema with a type, every object of
// the chart's own must list its keys and refuse others (additionalProperties false), and every key
// the schema describes must have a default in values.yaml, so the two cannot drift apart.
func TestSchemaComplete(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	schema := &schemaNode{}
	if err := json.Unmarshal(data, schema); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	data, err = os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{}
	if err := yaml.Unmarshal(data, &values); err != nil {
		t.Fatal(err)
	}
	checked := checkSchema(t, "", values, schema)
	if checked < 40 {
		t.Errorf("checked only %d values", checked)
	}
}

func checkSchema(t *testing.T, path string, value any, schema *schemaNode) int {
	t.Helper()
	if schema.Type == nil && len(schema.OneOf) == 0 {
		t.Errorf("%s: the schema gives no type", displayPath(path))
	}
	object, isObject := value.(map[string]any)
	if !isObject || slices.Contains(freeForm, path) {
		return 1
	}
	if schema.Properties == nil {
		// A map of free keys, such as labels: its values must still be typed.
		if len(schema.AdditionalProperties) == 0 || string(schema.AdditionalProperties) == "true" {
			t.Errorf("%s: an object without properties needs a schema for its values (additionalProperties)", displayPath(path))
		}
		return 1
	}
	if strings.TrimSpace(string(schema.AdditionalProperties)) != "false" {
		t.Errorf("%s: the schema must refuse unknown keys (additionalProperties: false), or a misspelt value is silently ignored",
			displayPath(path))
	}
	n := 1
	for key, v := range object {
		child := join(path, key)
		sub, ok := schema.Properties[key]
		if !ok {
			t.Errorf("%s is in values.yaml but not in values.schema.json", child)
			continue
		}
		n += checkSchema(t, child, v, sub)
	}
	for key := range schema.Properties {
		if _, ok := object[key]; !ok && join(path, key) != "global" {
			t.Errorf("%s is in values.schema.json but has no default in values.yaml", join(path, key))
		}
	}
	return n
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func displayPath(path string) string {
	if path == "" {
		return "the values"
	}
	return path
}

// TestSchemaRejectsNewValues checks a few of the schema's rules on the values added for releases.
func TestSchemaRejectsNewValues(t *testing.T) {
	chart := loadChart(t)
	for name, tc := range map[string]struct {
		values map[string]any
		want   string
	}{
		"a digest without algorithm":       {map[string]any{"image": map[string]any{"repository": "r", "digest": "0123abcd"}}, "digest"},
		"a negative QPS":                   {map[string]any{"kubeAPIQPS": -1}, "kubeAPIQPS"},
		"a fractional burst":               {map[string]any{"kubeAPIBurst": 1.5}, "kubeAPIBurst"},
		"an env var without a name":        {map[string]any{"extraEnv": []any{map[string]any{"value": "x"}}}, "extraEnv"},
		"an argument that is not a string": {map[string]any{"extraArgs": []any{map[string]any{"x": 1}}}, "extraArgs"},
		"a misspelt spread key": {map[string]any{"topologySpreadConstraints": []any{map[string]any{
			"maxSkew": 1, "topologykey": "zone", "whenUnsatisfiable": "ScheduleAnyway"}}}, "topologySpreadConstraints"},
		"an unknown serviceAccount key":      {map[string]any{"serviceAccount": map[string]any{"annotation": map[string]any{}}}, "serviceAccount"},
		"a PDB of some":                      {map[string]any{"podDisruptionBudget": map[string]any{"minAvailable": "some"}}, "minAvailable"},
		"a runbook base that is no link":     {map[string]any{"prometheusRule": map[string]any{"runbookBaseURL": "docs/troubleshooting.md"}}, "runbookBaseURL"},
		"a dashboard label that is a number": {map[string]any{"grafanaDashboard": map[string]any{"labels": map[string]any{"x": 1}}}, "grafanaDashboard"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := renderChart(chart, tc.values, defaultRelease, defaultNamespace)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}
