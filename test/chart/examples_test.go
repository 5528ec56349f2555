//go:build envtest

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
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestArtifactHubExampleIsValid creates the ServiceMesh of Chart.yaml's artifacthub.io/crdsExamples,
// which Artifact Hub shows on the chart's page for users to copy, with a server-side dry run and strict
// field validation against the chart's own CRD: the schema, its CEL rules and defaults must accept it
// with no warning. An example the API server refuses, or one with a field it drops, fails.
func TestArtifactHubExampleIsValid(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs(), testenv.RecordWarnings())
	c, recorded := env.Client, env.Warnings
	installCRDs(ctx, t, c)

	var examples []map[string]any
	if err := yaml.Unmarshal([]byte(loadChart(t).Metadata.Annotations["artifacthub.io/crdsExamples"]), &examples); err != nil {
		t.Fatalf("artifacthub.io/crdsExamples: %v", err)
	}
	if len(examples) == 0 {
		t.Fatal("artifacthub.io/crdsExamples has no example")
	}
	for _, example := range examples {
		u := &unstructured.Unstructured{Object: example}
		recorded.Take()
		if err := c.Create(ctx, u.DeepCopy(), client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			t.Errorf("artifacthub.io/crdsExamples %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		if w := recorded.Take(); len(w) > 0 {
			t.Errorf("artifacthub.io/crdsExamples %s %s: the API server warns: %v", u.GetKind(), u.GetName(), w)
		}
		// The same check refuses a broken copy, so it can fail.
		broken := u.DeepCopy()
		_ = unstructured.SetNestedField(broken.Object, "DISABLE", "spec", "mtls", "mode")
		if err := c.Create(ctx, broken, client.DryRunAll, client.FieldValidation("Strict")); err == nil {
			t.Errorf("the API server accepted the example with mtls.mode DISABLE: this check cannot fail")
		}
	}
}
