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
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"sigs.k8s.io/yaml"
)

// marshalYAML writes v as sigs.k8s.io/yaml's Marshal (Helm's toYaml, and the manifests Helm stores)
// does, byte for byte. That Marshal writes JSON, parses the JSON back with go-yaml and writes the parse
// as YAML; for JSON-like values (what decoding JSON or YAML into a map gives, and what unstructured
// objects hold) the JSON round trip changes only what asYAMLValue changes, so the values are written
// by go-yaml directly, without the JSON and the second parse, or by writeYAML, which writes what go-yaml
// would without go-yaml's cost. Anything else takes the round trip.
func marshalYAML(v any) ([]byte, error) {
	if direct, ok := asYAMLValue(v); ok {
		if out, ok := writeYAML(direct); ok {
			return out, nil
		}
		return yamlv2.Marshal(direct)
	}
	return yaml.Marshal(v)
}

// asYAMLValue returns v as go-yaml would parse it back from its JSON, or false when v holds anything
// whose JSON round trip it does not know (a typed struct, a string the round trip would change or
// refuse, a number JSON cannot hold):
//   - a float64 that is a whole number JSON writes without a fraction or exponent (below 1e21), which
//     go-yaml reads as an integer when it fits one;
//   - a nil map or list JSON writes as null;
//   - everything else, keys included, is unchanged (go-yaml sorts map keys of any map type the same way).
func asYAMLValue(v any) (any, bool) {
	out, _, ok := yamlValue(v)
	return out, ok
}

// yamlValue is asYAMLValue, and tells whether the value differs from v; only maps and lists that hold
// a changed value are copied.
func yamlValue(v any) (out any, changed, ok bool) {
	switch v := v.(type) {
	case nil, bool, int64, int, int32:
		return v, false, true
	case string:
		return v, false, roundTrips(v)
	case float64:
		return wholeFloat(v)
	case map[string]any:
		if v == nil {
			return nil, true, true
		}
		var copied map[string]any
		for k, e := range v {
			if !roundTrips(k) {
				return nil, false, false
			}
			c, changed, ok := yamlValue(e)
			if !ok {
				return nil, false, false
			}
			if changed && copied == nil {
				copied = maps.Clone(v)
			}
			if changed {
				copied[k] = c
			}
		}
		if copied != nil {
			return copied, true, true
		}
		return v, false, true
	case []any:
		if v == nil {
			return nil, true, true
		}
		var copied []any
		for i, e := range v {
			c, changed, ok := yamlValue(e)
			if !ok {
				return nil, false, false
			}
			if changed && copied == nil {
				copied = slices.Clone(v)
			}
			if changed {
				copied[i] = c
			}
		}
		if copied != nil {
			return copied, true, true
		}
		return v, false, true
	}
	return nil, false, false
}

// roundTrips tells whether the JSON round trip keeps s as it is: s is UTF-8, and JSON writes none of
// its characters unescaped that go-yaml's reader refuses (DEL, the C1 controls, U+FFFE and U+FFFF:
// Marshal fails) or reads as a line break (NEL, which a quoted string folds into a space).
func roundTrips(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x7f {
			return slowRoundTrips(s[i:])
		}
	}
	return true
}

func slowRoundTrips(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r >= 0x7f && r <= 0x9f) || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

// wholeFloat is f as go-yaml parses JSON's text of it back, and whether that differs from f.
func wholeFloat(f float64) (any, bool, bool) {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return nil, false, false // JSON cannot hold it: Marshal fails
	case f != math.Trunc(f) || math.Abs(f) >= 1e21:
		return f, false, true // JSON writes a fraction or an exponent: go-yaml reads a float
	case math.Abs(f) < 1<<53:
		return int64(f), true, true // JSON writes the integer's digits, exactly
	}
	// Beyond 2^53 JSON writes the shortest digits that read back as f, not f's exact value; go-yaml reads
	// them as an integer when one holds them.
	digits := strconv.FormatFloat(f, 'f', -1, 64)
	if i, err := strconv.ParseInt(digits, 10, 64); err == nil {
		return i, true, true
	}
	if u, err := strconv.ParseUint(digits, 10, 64); err == nil {
		return u, true, true
	}
	return f, false, true // digits no integer holds: go-yaml reads a float
}

// parseYAMLMap parses a YAML document that holds a map as sigs.k8s.io/yaml's Unmarshal into a map does,
// without its JSON round trip: the same go-yaml parse, every number a float64 (what decoding JSON gives),
// everything else as parsed. It returns false, for the round trip to handle, on a parse error and for a
// document whose round trip it does not know: not a map, a key that is not a string, a string that is
// not UTF-8, a number JSON cannot hold, or a value of any other type (a timestamp, binary data).
func parseYAMLMap(doc string) (map[string]any, bool) {
	var v any
	if yamlv2.Unmarshal([]byte(doc), &v) != nil {
		return nil, false
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, false
	}
	return jsonMap(m)
}

func jsonMap(m map[any]any) (map[string]any, bool) {
	out := make(map[string]any, len(m))
	for k, v := range m {
		key, ok := k.(string)
		if !ok || !utf8.ValidString(key) {
			return nil, false
		}
		if out[key], ok = jsonValue(v); !ok {
			return nil, false
		}
	}
	return out, true
}

func jsonValue(v any) (any, bool) {
	switch v := v.(type) {
	case nil, bool:
		return v, true
	case string:
		return v, utf8.ValidString(v)
	case int:
		return float64(v), true
	case int64:
		return float64(v), true
	case uint64:
		return float64(v), true
	case float64:
		return v, !math.IsNaN(v) && !math.IsInf(v, 0)
	case map[any]any:
		return jsonMap(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			c, ok := jsonValue(e)
			if !ok {
				return nil, false
			}
			out[i] = c
		}
		return out, true
	}
	return nil, false
}

// spliceMetadata writes obj as marshalYAML does, given text, what marshalYAML wrote of obj (but for the
// final newline) before post-rendering changed obj's metadata and nothing else. Each top-level field is
// written on its own (a key at the line's start, its value on that line or indented, or as a list at
// the key's indentation), so every field but metadata is taken from text and metadata alone is
// written. It tells false when text does not split into exactly obj's top-level fields, and obj is
// then to be written whole.
func spliceMetadata(text string, obj map[string]any) ([]byte, bool, error) {
	sections, ok := topLevelFields(text + "\n")
	if !ok || len(sections) != len(obj) {
		return nil, false, nil
	}
	size, hasMetadata := 0, false
	for _, f := range sections {
		if _, ok := obj[f.key]; !ok {
			return nil, false, nil
		}
		hasMetadata = hasMetadata || f.key == "metadata"
		size += len(f.text)
	}
	if !hasMetadata {
		return nil, false, nil
	}
	metadata, err := marshalYAML(map[string]any{"metadata": obj["metadata"]})
	if err != nil {
		return nil, false, err
	}
	out := make([]byte, 0, size+len(metadata))
	for _, f := range sections {
		if f.key == "metadata" {
			out = append(out, metadata...)
		} else {
			out = append(out, f.text...)
		}
	}
	return out, true, nil
}

// yamlField is one top-level field of a YAML map as marshalYAML writes it: its key and its lines.
type yamlField struct {
	key, text string
}

// topLevelFields splits YAML that marshalYAML wrote of a map into its top-level fields. A field starts
// at a line that begins with a plain key (letters and digits, starting with a letter) and a colon;
// every line that begins with a space or a dash, or is empty, continues it. Any other line, or a first
// line that starts no field, makes it tell false.
func topLevelFields(doc string) ([]yamlField, bool) {
	var fields []yamlField
	start := -1
	for pos := 0; pos < len(doc); {
		end := strings.IndexByte(doc[pos:], '\n')
		if end < 0 {
			return nil, false // marshalYAML ends every line
		}
		line := doc[pos : pos+end]
		switch {
		case line == "" || line[0] == ' ' || line[0] == '-':
			if start < 0 {
				return nil, false
			}
		default:
			key, ok := plainKey(line)
			if !ok {
				return nil, false
			}
			if start >= 0 {
				fields[len(fields)-1].text = doc[start:pos]
			}
			fields = append(fields, yamlField{key: key})
			start = pos
		}
		pos += end + 1
	}
	if start < 0 {
		return nil, false
	}
	fields[len(fields)-1].text = doc[start:]
	return fields, true
}

// plainKey reads the key of a line "key:" or "key: value" whose key is letters and digits.
func plainKey(line string) (string, bool) {
	colon := strings.IndexByte(line, ':')
	if colon <= 0 || (colon+1 < len(line) && line[colon+1] != ' ') {
		return "", false
	}
	for i, c := range line[:colon] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (i == 0 || c < '0' || c > '9') {
			return "", false
		}
	}
	return line[:colon], true
}
