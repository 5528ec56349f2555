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
	"bufio"
	"errors"
	"io"
	"math"
	"strings"
	"unicode/utf8"

	yamlv2 "go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

// decodeIdentities is decodeManifest for a release record's manifest read only to learn which objects
// it lists (recordObjects): each object holds only what the callers read of it, its apiVersion, kind,
// metadata.name, metadata.namespace and helm.sh/resource-policy annotation, each as decodeManifest's
// object gives it. A record is untrusted, so a manifest is accepted or refused exactly as
// decodeManifest does: recordIdentities splits it as decodeManifest does, decodes each document with
// the YAML parser decodeManifest uses and checks the result against every rule of the conversion to
// JSON that follows there, but writes no JSON and builds no object. What it does not answer for (a
// JSON stream, a document the conversion refuses, a name the conversion would change) is decoded by
// decodeManifest itself.
func decodeIdentities(manifest string) ([]*unstructured.Unstructured, error) {
	if objects, ok := recordIdentities(manifest); ok {
		return objects, nil
	}
	return decodeManifest([]byte(manifest))
}

// jsonSniffLength is how much of a manifest decodeManifest's decoder reads to tell a JSON stream from
// a YAML one.
const jsonSniffLength = 4096

// identityMaxDepth is how deeply nested a document recordIdentities answers for may be; a deeper one
// is left to decodeManifest (whose JSON decoder refuses one nested beyond 10,000).
const identityMaxDepth = 1000

// recordIdentities are the objects of manifest as decodeIdentities describes them, the manifest split
// into documents as decodeManifest's decoder splits a YAML stream; ok is false when decodeManifest
// must decide.
func recordIdentities(manifest string) (objects []*unstructured.Unstructured, ok bool) {
	if utilyaml.IsJSONBuffer([]byte(manifest[:min(len(manifest), jsonSniffLength)])) {
		return nil, false
	}
	reader := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(manifest)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			return objects, true
		}
		if err != nil {
			return nil, false
		}
		var decoded any
		if err := yamlv2.Unmarshal(doc, &decoded); err != nil {
			return nil, false
		}
		obj, ok := identity(decoded)
		if !ok {
			return nil, false
		}
		if obj != nil {
			objects = append(objects, obj)
		}
	}
}

// identity is what decodeIdentities keeps of one document as the YAML parser decoded it: nil for one
// decodeManifest passes over (null, or an empty mapping), and ok false for one decodeManifest refuses
// or one whose objects identity cannot give exactly as decodeManifest would.
func identity(doc any) (obj *unstructured.Unstructured, ok bool) {
	if doc == nil {
		return nil, true // JSON null leaves the object empty
	}
	fields, isMap := doc.(map[any]any)
	if !isMap || !jsonable(fields, 1) {
		return nil, false // a list or a scalar is no object, and the conversion refuses the rest
	}
	if len(fields) == 0 {
		return nil, true
	}
	out := map[string]any{}
	// Only a string key becomes "apiVersion", "kind" or "metadata" in JSON (a number or a boolean key
	// becomes its digits, true or false), so no other key can take their place.
	for _, field := range []string{"apiVersion", "kind"} {
		// A value that is no string is read as "", as when it is absent.
		if s, isString := fields[field].(string); isString {
			if !utf8.ValidString(s) {
				return nil, false // JSON would replace the invalid bytes
			}
			out[field] = s
		}
	}
	metadata, set := fields["metadata"]
	if !set {
		return &unstructured.Unstructured{Object: out}, true
	}
	meta, isMap := metadata.(map[any]any)
	if !isMap {
		// Neither read nor written (SetNamespace leaves a metadata that is no mapping as it is).
		out["metadata"] = nil
		return &unstructured.Unstructured{Object: out}, true
	}
	kept := map[string]any{}
	for _, field := range []string{"name", "namespace"} {
		if s, isString := meta[field].(string); isString {
			if !utf8.ValidString(s) {
				return nil, false
			}
			kept[field] = s
		}
	}
	if annotations, isMap := meta["annotations"].(map[any]any); isMap {
		policy, ok := keepPolicy(annotations)
		if !ok {
			return nil, false
		}
		if policy != nil {
			kept["annotations"] = map[string]any{keepPolicyAnnotation: *policy}
		}
	}
	out["metadata"] = kept
	return &unstructured.Unstructured{Object: out}, true
}

// keepPolicy is the helm.sh/resource-policy annotation of annotations as GetAnnotations reads it: nil
// when it is not set, or when any annotation is neither a string nor null (GetAnnotations then reads
// none). ok is false when a key is not a string of valid UTF-8: two such keys could become one in JSON.
func keepPolicy(annotations map[any]any) (policy *string, ok bool) {
	strs := true
	for k, v := range annotations {
		if key, isString := k.(string); !isString || !utf8.ValidString(key) {
			return nil, false
		}
		if _, isString := v.(string); !isString && v != nil {
			strs = false
		}
	}
	value, isString := annotations[keepPolicyAnnotation].(string)
	if !strs || !isString {
		return nil, true
	}
	if !utf8.ValidString(value) {
		return nil, false
	}
	return &value, true
}

// jsonable tells whether v, as the YAML parser decoded it, converts to JSON and back as decodeManifest
// converts it: every mapping key a string, a number or a boolean, no float that is not finite, and
// nothing nested deeper than identityMaxDepth; anything of a type it does not know is left to
// decodeManifest too.
func jsonable(v any, depth int) bool {
	switch v := v.(type) {
	case map[any]any:
		if depth > identityMaxDepth {
			return false
		}
		for k, e := range v {
			switch k.(type) {
			case string, int, int64, float64, bool:
			default:
				return false
			}
			if !jsonable(e, depth+1) {
				return false
			}
		}
	case []any:
		if depth > identityMaxDepth {
			return false
		}
		for _, e := range v {
			if !jsonable(e, depth+1) {
				return false
			}
		}
	case float64:
		return !math.IsNaN(v) && !math.IsInf(v, 0)
	case nil, string, bool, int, int64, uint64:
	default:
		return false
	}
	return true
}
