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
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/model"
	"k8s.io/apimachinery/pkg/util/version"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	apiservercel "k8s.io/apiserver/pkg/cel"
	"k8s.io/apiserver/pkg/cel/environment"
	"sigs.k8s.io/yaml"
)

// oldestKubernetesMinor is the lowest Kubernetes 1.x minor version the chart's kubeVersion admits
// (which the OLM bundle's minKubeVersion copies).
func oldestKubernetesMinor(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "charts", "meshkeeper", "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var chart struct {
		KubeVersion string `json:"kubeVersion"`
	}
	if err := yaml.Unmarshal(data, &chart); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`^>=\s*1\.([0-9]+)\.0(-0)?$`).FindStringSubmatch(chart.KubeVersion)
	if m == nil {
		t.Fatalf("charts/meshkeeper/Chart.yaml: kubeVersion %q is not of the form \">= 1.Y.0-0\"", chart.KubeVersion)
	}
	minor, _ := strconv.Atoi(m[1])
	return minor
}

// crdRuleErrors compiles every validation rule of the CRD as the API server of Kubernetes 1.<minor>
// compiles the rules of a CRD it is asked to create: in the CEL environment of its compatibility
// version, the minor version before its own (environment.DefaultCompatibilityVersion), so that a
// rollback of the API server can still run them. It returns the errors by schema path.
func crdRuleErrors(t *testing.T, minor int) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.UnmarshalStrict(data, crd); err != nil {
		t.Fatal(err)
	}
	envSet := environment.MustBaseEnvSet(version.MajorMinor(1, uint(minor-1)))
	errs := map[string]string{}
	rules := 0
	var walk func(path string, s *structuralschema.Structural, declType *apiservercel.DeclType)
	walk = func(path string, s *structuralschema.Structural, declType *apiservercel.DeclType) {
		if s == nil || declType == nil {
			return
		}
		if len(s.XValidations) > 0 {
			results, err := cel.Compile(s, declType, celconfig.PerCallLimit, envSet, cel.NewExpressionsEnvLoader())
			if err != nil {
				errs[path] = err.Error()
			}
			for i, r := range results {
				rules++
				if r.Error != nil {
					errs[path+" rule "+strconv.Quote(s.XValidations[i].Rule)] = r.Error.Detail
				}
			}
		}
		for name, prop := range s.Properties {
			escaped, ok := apiservercel.Escape(name)
			if !ok {
				continue
			}
			if field, ok := declType.Fields[escaped]; ok {
				walk(path+"."+name, &prop, field.Type)
			}
		}
		if s.Items != nil {
			walk(path+"[]", s.Items, declType.ElemType)
		}
		if s.AdditionalProperties != nil && s.AdditionalProperties.Structural != nil {
			walk(path+"{}", s.AdditionalProperties.Structural, declType.ElemType)
		}
	}
	for _, v := range crd.Spec.Versions {
		internal := &apiextensions.JSONSchemaProps{}
		if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
			t.Fatal(err)
		}
		s, err := structuralschema.NewStructural(internal)
		if err != nil {
			t.Fatal(err)
		}
		walk(v.Name, s, model.SchemaDeclType(s, true))
	}
	if rules < 30 {
		t.Fatalf("compiled only %d rules of the CRD: the walk misses some", rules)
	}
	return errs
}

// TestCRDRulesCompileOnOldestKubernetes: the API server of the oldest Kubernetes version the chart and
// the OLM bundle admit accepts every validation rule of the CRD. A rule can use only what the CEL
// environment of the previous minor version has: isCIDR() (Kubernetes' CIDR library, introduced at
// 1.30) from Kubernetes 1.31 on, and a field named like a CEL keyword (namespace) unescaped only
// from 1.32 on, so the rules write it as __namespace__ (docs/compatibility.md).
func TestCRDRulesCompileOnOldestKubernetes(t *testing.T) {
	minor := oldestKubernetesMinor(t)
	errs := crdRuleErrors(t, minor)
	paths := make([]string, 0, len(errs))
	for p := range errs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		t.Errorf("Kubernetes 1.%d refuses the CRD: %s: %s", minor, p, errs[p])
	}
}
