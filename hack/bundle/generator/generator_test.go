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

package generator

import (
	"slices"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

func TestInitializationResource(t *testing.T) {
	mesh := func(name string) map[string]any {
		return map[string]any{"apiVersion": "mesh.meshkeeper.io/v1alpha1", "kind": "ServiceMesh",
			"metadata": map[string]any{"name": name}, "spec": map[string]any{"namespace": "istio-system"}}
	}
	other := map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "x"}}
	for name, tc := range map[string]struct {
		samples []map[string]any
		want    string
	}{
		"the one ServiceMesh": {[]map[string]any{other, mesh("default")},
			`{"apiVersion":"mesh.meshkeeper.io/v1alpha1","kind":"ServiceMesh","metadata":{"name":"default"},"spec":{"namespace":"istio-system"}}`},
		"no ServiceMesh":  {[]map[string]any{other}, ""},
		"two ServiceMesh": {[]map[string]any{mesh("default"), mesh("other")}, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := initializationResource(tc.samples)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("got %s, want an error", got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %s, %v; want %s", got, err, tc.want)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	schema := &apiextensionsv1.JSONSchemaProps{Properties: map[string]apiextensionsv1.JSONSchemaProps{
		"spec": {Properties: map[string]apiextensionsv1.JSONSchemaProps{
			"mtls": {Properties: map[string]apiextensionsv1.JSONSchemaProps{
				"mode": {Description: "The mode,\n  mesh-wide.", Enum: []apiextensionsv1.JSON{{Raw: []byte(`"PERMISSIVE"`)}, {Raw: []byte(`"STRICT"`)}}},
			}},
		}},
	}}
	got, err := describe([]operatorsv1alpha1.SpecDescriptor{{Path: "mtls.mode", DisplayName: "mTLS mode"}}, schema, "spec", true)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Description != "The mode, mesh-wide." ||
		!slices.Equal(got[0].XDescriptors, []string{selectDescriptor + "PERMISSIVE", selectDescriptor + "STRICT"}) {
		t.Errorf("got %+v", got[0])
	}
	if _, err := describe([]operatorsv1alpha1.SpecDescriptor{{Path: "mtls.level"}}, schema, "spec", true); err == nil {
		t.Error("a path the schema does not have was accepted")
	}
	if _, err := describe([]operatorsv1alpha1.SpecDescriptor{{Path: "mtls.mode", Description: "mine"}}, schema, "spec", true); err == nil {
		t.Error("a description in the base CSV was accepted")
	}
}

func TestScorecardConfigRunsEveryTest(t *testing.T) {
	config := scorecardConfig()
	if len(config.Stages) != 1 || len(config.Stages[0].Tests) != len(ScorecardTests) {
		t.Fatalf("the configuration has %+v, want one stage of %d tests", config.Stages, len(ScorecardTests))
	}
	for i, test := range config.Stages[0].Tests {
		if test.Image != ScorecardImage || !slices.Equal(test.Entrypoint, []string{"scorecard-test", ScorecardTests[i].Test}) ||
			test.Labels["suite"] != ScorecardTests[i].Suite {
			t.Errorf("test %d is %+v", i, test)
		}
	}
}
