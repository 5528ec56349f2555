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
	"sync"
	"text/template"

	"sigs.k8s.io/yaml"
)

// renderFuncs are template functions that take the place of Helm's own of the same name for one render,
// with the same results. The base chart's CRD template parses each of its CRDs (934 KB of YAML in all)
// with fromYaml twice, once for the name and once to relabel it: fromYaml here parses each distinct
// document once per render and hands every caller a copy of its own, which a template may change.
// Nothing is kept after the render.
func renderFuncs() template.FuncMap {
	var (
		mu     sync.Mutex
		parsed = map[string]map[string]any{}
	)
	return template.FuncMap{
		"fromYaml": func(doc string) map[string]any {
			mu.Lock()
			m, known := parsed[doc]
			mu.Unlock()
			if !known {
				m = fromYAML(doc)
				mu.Lock()
				parsed[doc] = m
				mu.Unlock()
			}
			return copyMap(m)
		},
	}
}

// fromYAML is Helm's fromYaml: a YAML document as a map, or a map holding only the parse error under
// "Error".
func fromYAML(doc string) map[string]any {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// copyMap copies a decoded YAML document: its maps and lists are copied, its scalars shared (they
// cannot be changed in place).
func copyMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = copyValue(v)
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case map[string]any:
		return copyMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	}
	return v
}
