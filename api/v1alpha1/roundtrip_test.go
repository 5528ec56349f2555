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
	"math/rand"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/apitesting/fuzzer"
	"k8s.io/apimachinery/pkg/api/apitesting/roundtrip"
	"k8s.io/apimachinery/pkg/api/equality"
	metafuzzer "k8s.io/apimachinery/pkg/apis/meta/fuzzer"
	"k8s.io/apimachinery/pkg/runtime"
	runtimeserializer "k8s.io/apimachinery/pkg/runtime/serializer"
	"sigs.k8s.io/randfill"
)

// fuzzerFuncs keep randomly filled objects within what the API can represent: chart values are a
// JSON object, never arbitrary bytes.
func fuzzerFuncs(_ runtimeserializer.CodecFactory) []any {
	return []any{
		func(j *apiextensionsv1.JSON, c randfill.Continue) {
			values := map[string]any{}
			for range c.Intn(4) {
				values[c.String(8)] = map[string]any{c.String(8): c.String(8), "n": float64(c.Int31())}
			}
			raw, err := json.Marshal(values)
			if err != nil {
				panic(err)
			}
			j.Raw = raw
		},
		// Values decode into Raw and the views of the declared keys; a random value for a view that
		// Raw does not hold is not something the API can represent.
		func(v *IstiodValues, c randfill.Continue) {
			values := map[string]any{}
			for range c.Intn(4) {
				values[c.String(8)] = map[string]any{c.String(8): c.String(8), "n": float64(c.Int31())}
			}
			if c.Bool() {
				values["global"] = map[string]any{"istioNamespace": c.String(8), "hub": c.String(8)}
			}
			if c.Bool() {
				values["meshConfig"] = map[string]any{"rootNamespace": c.String(8), "accessLogFile": c.String(8)}
			}
			raw, err := json.Marshal(values)
			if err != nil {
				panic(err)
			}
			if err := v.UnmarshalJSON(raw); err != nil {
				panic(err)
			}
		},
	}
}

// TestRoundTrip fills every field of the API types with random values and checks that they survive
// encoding and decoding, as the API server and clients do them.
func TestRoundTrip(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	codecs := runtimeserializer.NewCodecFactory(scheme)
	f := fuzzer.FuzzerFor(fuzzer.MergeFuzzerFuncs(metafuzzer.Funcs, fuzzerFuncs), rand.NewSource(rand.Int63()), codecs)
	for range 50 {
		roundtrip.RoundTripExternalTypesWithoutProtobuf(t, scheme, codecs, f, nil)
	}
	if len(scheme.AllKnownTypes()) < 2 {
		t.Fatalf("the scheme holds %d types, want ServiceMesh and ServiceMeshList", len(scheme.AllKnownTypes()))
	}
}

// FuzzServiceMeshRoundTrip decodes arbitrary JSON as a ServiceMesh and checks that whatever decodes
// encodes to JSON that decodes to the same object again.
func FuzzServiceMeshRoundTrip(f *testing.F) {
	for _, seed := range []string{
		`{"apiVersion":"mesh.meshkeeper.io/v1alpha1","kind":"ServiceMesh","metadata":{"name":"default"},"spec":{"version":"1.31.1","injection":{"namespaces":["shop"]},"mtls":{"mode":"STRICT","namespaces":{"legacy":"PERMISSIVE"}}}}`,
		`{"spec":{"controlPlane":{"autoscaling":{"minReplicas":2,"maxReplicas":5},"pushTuning":{"debounceAfter":"100ms","debounceMax":"10s","pushThrottle":100},"resources":{"requests":{"cpu":"500m"}}}}}`,
		`{"spec":{"ingressNginx":{"enabled":true,"serviceCIDRs":["10.96.0.0/12"],"controller":{"kind":"DaemonSet"}},"values":{"pilot":{"env":{"A":"b"}}}}}`,
		`{"status":{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True","reason":"Succeeded","message":"","lastTransitionTime":"2026-01-01T00:00:00Z"}],"ingresses":{"skippedByReason":{"MultipleBackendServices":2}}}}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var first ServiceMesh
		if err := json.Unmarshal(data, &first); err != nil {
			return
		}
		encoded, err := json.Marshal(&first)
		if err != nil {
			t.Fatalf("encoding a decoded ServiceMesh: %v", err)
		}
		var second ServiceMesh
		if err := json.Unmarshal(encoded, &second); err != nil {
			t.Fatalf("decoding %s: %v", encoded, err)
		}
		reencoded, err := json.Marshal(&second)
		if err != nil {
			t.Fatalf("encoding again: %v", err)
		}
		if string(encoded) != string(reencoded) || !equality.Semantic.DeepEqual(first.Spec.Injection, second.Spec.Injection) {
			t.Fatalf("round trip changed the object:\n%s\n%s", encoded, reencoded)
		}
	})
}
