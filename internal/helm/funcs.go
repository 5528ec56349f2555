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
	"strings"
	"sync"
	"text/template"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// renderMemo is what one render remembers of its YAML, so that the base chart's 934 KB of CRDs are
// parsed once instead of four times. Its template functions take the place of Helm's own of the same
// name, with the same results:
//   - fromYaml keeps what it parsed for the next call with the same document, which takes it, and
//     hands the first caller a copy: every caller gets a map of its own, which a template may change,
//     and the base chart's CRD template, which parses each CRD twice (for its name, then to relabel
//     it), parses it once and holds no CRD beyond the one it is at;
//   - toYaml remembers, for a large map of plain YAML values, what it wrote and a copy of the map, so
//     that decoding a document that is just that text (comments aside) takes the map instead of
//     parsing the text back into it.
//
// A memo lives for one render; nothing is kept after it but the parse cache's compressed JSON of the
// large documents fromYaml parsed (parseCache).
type renderMemo struct {
	mu      sync.Mutex
	parsed  map[string]map[string]any
	written map[string]map[string]any
}

// memoMinSize is the least output of toYaml worth remembering: whole documents, not the small blocks
// templates indent into one.
const memoMinSize = 1024

func newRenderMemo() *renderMemo {
	return &renderMemo{parsed: map[string]map[string]any{}, written: map[string]map[string]any{}}
}

func (r *renderMemo) funcs() template.FuncMap {
	return template.FuncMap{
		"fromYaml": func(doc string) map[string]any {
			r.mu.Lock()
			m, known := r.parsed[doc]
			delete(r.parsed, doc)
			r.mu.Unlock()
			if known {
				return m // the second call takes the parse itself, which no one else holds
			}
			m = fromYAML(doc)
			r.mu.Lock()
			r.parsed[doc] = m
			r.mu.Unlock()
			return runtime.DeepCopyJSON(m) // fromYAML holds only JSON's values
		},
		"toYaml": func(v any) string {
			data, err := marshalYAML(v)
			if err != nil {
				return "" // as Helm's: an error inside a template is swallowed
			}
			out := strings.TrimSuffix(string(data), "\n")
			if m, ok := v.(map[string]any); ok && len(out) >= memoMinSize {
				if plain, ok := copyPlain(m); ok {
					r.mu.Lock()
					r.written[strings.TrimSpace(out)] = plain
					r.mu.Unlock()
				}
			}
			return out
		},
	}
}

// object returns the object a rendered document holds when the document is, comments and blank lines
// aside, the text toYaml wrote for a map: decoding the text would give that map again, since it holds
// only the values decoding gives (strings, float64 numbers, booleans, nil, maps and lists of them). It
// also returns that text: what marshalYAML writes of the map, but for its final newline. Each
// remembered map is handed out once.
func (r *renderMemo) object(doc string) (map[string]any, string, bool) {
	body := doc
	for {
		line, rest, found := strings.Cut(body, "\n")
		if trimmed := strings.TrimSpace(line); trimmed != "" && !strings.HasPrefix(trimmed, "#") {
			break
		}
		if !found {
			return nil, "", false
		}
		body = rest
	}
	body = strings.TrimSpace(body)
	r.mu.Lock()
	defer r.mu.Unlock()
	m, ok := r.written[body]
	if ok {
		delete(r.written, body)
	}
	return m, body, ok
}

// fromYAML is Helm's fromYaml: a YAML document as a map, or a map holding only the parse error under
// "Error".
func fromYAML(doc string) map[string]any {
	if m, ok := parsed.parse(doc); ok {
		return m
	}
	return fromYAMLRoundTrip(doc)
}

// fromYAMLRoundTrip is fromYAML as Helm's is: sigs.k8s.io/yaml parses the document with go-yaml, writes
// it as JSON and decodes the JSON.
func fromYAMLRoundTrip(doc string) map[string]any {
	m := map[string]any{}
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m
}

// copyPlain copies m when it holds only what decoding YAML into a map gives: strings, float64 numbers,
// booleans, nil, and maps and lists of them.
func copyPlain(m map[string]any) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		c, ok := copyPlainValue(v)
		if !ok {
			return nil, false
		}
		out[k] = c
	}
	return out, true
}

func copyPlainValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, string, float64, bool:
		return v, true
	case map[string]any:
		return copyPlain(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, ok := copyPlainValue(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	}
	return nil, false
}
