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

package argocd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/status"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/ext"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// The same ServiceMesh manifests the Argo CD check is tested on, read the way Flux, `helm --wait` and
// kpt read them: with kstatus (github.com/fluxcd/cli-utils, the fork Helm 4 and Flux are built with),
// and with the CEL health expressions docs/flux.md gives a Flux Kustomization.

// fluxStatus is what Flux makes of an object with health check expressions: a kstatus status, or
// "Error" when an expression cannot be evaluated (Flux then keeps waiting until its timeout).
type fluxStatus string

const fluxError fluxStatus = "Error"

// healthCheckExprs are the expressions of docs/flux.md for the ServiceMesh.
type healthCheckExprs struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Current    string `json:"current"`
	InProgress string `json:"inProgress"`
	Failed     string `json:"failed"`
}

// docsHealthCheckExprs returns the healthCheckExprs entry for ServiceMesh from the YAML examples of
// docs/flux.md.
func docsHealthCheckExprs(t *testing.T) healthCheckExprs {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "flux.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := bytes.Split(doc, []byte("```"))
	for i := 1; i < len(blocks); i += 2 {
		block, ok := bytes.CutPrefix(blocks[i], []byte("yaml\n"))
		if !ok {
			continue
		}
		var kustomization struct {
			Spec struct {
				HealthCheckExprs []healthCheckExprs `json:"healthCheckExprs"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(block, &kustomization); err != nil {
			t.Fatalf("a YAML example of docs/flux.md does not parse: %v", err)
		}
		for _, e := range kustomization.Spec.HealthCheckExprs {
			if e.Kind == "ServiceMesh" && e.APIVersion == "mesh.meshkeeper.io/v1alpha1" {
				return e
			}
		}
	}
	t.Fatal("docs/flux.md has no healthCheckExprs for mesh.meshkeeper.io/v1alpha1 ServiceMesh")
	return healthCheckExprs{}
}

// celProgram parses an expression in the environment Flux evaluates health check expressions in
// (fluxcd/pkg runtime/cel: parsed, not compiled, as the objects' fields are not declared).
func celProgram(t *testing.T, expr string) cel.Program {
	t.Helper()
	env, err := cel.NewEnv(
		cel.HomogeneousAggregateLiterals(),
		cel.EagerlyValidateDeclarations(true),
		cel.DefaultUTCTimeZone(true),
		cel.CrossTypeNumericComparisons(true),
		cel.OptionalTypes(),
		ext.Strings(),
		ext.Sets(),
		ext.Encoders(),
	)
	if err != nil {
		t.Fatal(err)
	}
	ast, issues := env.Parse(expr)
	if issues != nil && issues.Err() != nil {
		t.Fatalf("%q: %v", expr, issues.Err())
	}
	program, err := env.Program(ast, cel.EvalOptions(cel.OptOptimize), cel.InterruptCheckFrequency(100))
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	return program
}

// fluxEvaluate is Flux's StatusEvaluator: InProgress while status.observedGeneration is present and
// differs from metadata.generation, then the first of inProgress, failed, current that is true, and
// InProgress when none is.
func fluxEvaluate(t *testing.T, exprs healthCheckExprs, obj map[string]any) fluxStatus {
	t.Helper()
	u := &unstructured.Unstructured{Object: obj}
	if observed, found, _ := unstructured.NestedInt64(obj, "status", "observedGeneration"); found && observed != u.GetGeneration() {
		return fluxStatus(status.InProgressStatus)
	}
	for _, e := range []struct {
		expr   string
		result status.Status
	}{{exprs.InProgress, status.InProgressStatus}, {exprs.Failed, status.FailedStatus}, {exprs.Current, status.CurrentStatus}} {
		if e.expr == "" {
			continue
		}
		value, _, err := celProgram(t, e.expr).ContextEval(context.Background(), obj)
		if err != nil {
			return fluxError
		}
		if value == types.True {
			return fluxStatus(e.result)
		}
	}
	return fluxStatus(status.InProgressStatus)
}

// TestKstatusAndFluxReadTheCases: kstatus and the Flux expressions of docs/flux.md agree with the Argo
// CD check where they can: a mesh that is Healthy for Argo CD is Current, one Stalled for the current
// spec Failed, anything on its way InProgress; a ServiceMesh being deleted is Terminating. Where
// kstatus has nothing to read (no status, no Ready condition yet) it answers Current, which is why
// docs/flux.md recommends the expressions.
func TestKstatusAndFluxReadTheCases(t *testing.T) {
	_, tests := readHealthCheck(t)
	exprs := docsHealthCheckExprs(t)
	const (
		current     = status.CurrentStatus
		inProgress  = status.InProgressStatus
		failed      = status.FailedStatus
		terminating = status.TerminatingStatus
	)
	want := map[string]struct {
		kstatus status.Status
		flux    fluxStatus
	}{
		"healthy.yaml":                                   {current, fluxStatus(current)},
		"degraded_stalled.yaml":                          {failed, fluxStatus(failed)},
		"degraded_chart_not_found.yaml":                  {failed, fluxStatus(failed)},
		"degraded_invalid_spec.yaml":                     {failed, fluxStatus(failed)},
		"degraded_install_failed.yaml":                   {inProgress, fluxStatus(inProgress)},
		"degraded_repository_unreachable.yaml":           {inProgress, fluxStatus(inProgress)},
		"degraded_ingresses_skipped.yaml":                {failed, fluxStatus(failed)},
		"degraded_injection_label_conflict.yaml":         {failed, fluxStatus(failed)},
		"progressing_generation_lags.yaml":               {inProgress, fluxStatus(inProgress)},
		"progressing_istio_crds_missing.yaml":            {inProgress, fluxStatus(inProgress)},
		"progressing_namespace_terminating.yaml":         {inProgress, fluxStatus(inProgress)},
		"progressing_rolling_out.yaml":                   {inProgress, fluxStatus(inProgress)},
		"progressing_cni_nodes_not_ready.yaml":           {inProgress, fluxStatus(inProgress)},
		"progressing_cni_waiting_for_control_plane.yaml": {inProgress, fluxStatus(inProgress)},
		"progressing_plaintext_clients_restarting.yaml":  {inProgress, fluxStatus(inProgress)},
		"progressing_stale_failure.yaml":                 {inProgress, fluxStatus(inProgress)},
		"progressing_stale_stalled.yaml":                 {inProgress, fluxStatus(inProgress)},
		// kstatus reads an object without conditions as ready; the expressions wait for Ready.
		"progressing_no_conditions.yaml":      {current, fluxStatus(inProgress)},
		"progressing_no_ready_condition.yaml": {current, fluxStatus(inProgress)},
		// No status at all: the expressions cannot be evaluated, and Flux waits.
		"progressing_no_status.yaml": {current, fluxError},
		// Flux's evaluator does not look at deletion; it reads the status as it is.
		"terminating.yaml":                   {terminating, fluxStatus(inProgress)},
		"terminating_foreign_finalizer.yaml": {terminating, fluxStatus(inProgress)},
		"terminating_cni.yaml":               {terminating, fluxStatus(inProgress)},
		// The deletion bumped the generation past status.observedGeneration, so the expressions wait.
		"terminating_uninstall_blocked.yaml":       {terminating, fluxStatus(inProgress)},
		"terminating_uninstall_blocked_stale.yaml": {terminating, fluxStatus(inProgress)},
		"terminating_uninstall_unblocked.yaml":     {terminating, fluxStatus(inProgress)},
		"terminating_uninstall_failed.yaml":        {terminating, fluxStatus(inProgress)},
	}
	for _, tc := range tests.Tests {
		name := filepath.Base(tc.InputPath)
		t.Run(name, func(t *testing.T) {
			expected, ok := want[name]
			if !ok {
				t.Fatalf("no expectation for %s: add one", name)
			}
			manifest, err := os.ReadFile(filepath.Join(healthDir, tc.InputPath))
			if err != nil {
				t.Fatal(err)
			}
			obj := decodings[1].decode(t, manifest)
			result, err := status.Compute(&unstructured.Unstructured{Object: obj})
			if err != nil {
				t.Fatal(err)
			}
			if result.Status != expected.kstatus {
				t.Errorf("kstatus: %s (%s), want %s", result.Status, result.Message, expected.kstatus)
			}
			if result.Status == failed && tc.HealthStatus.Status != "Degraded" {
				t.Errorf("kstatus says Failed, the Argo CD check %s", tc.HealthStatus.Status)
			}
			got := fluxEvaluate(t, exprs, obj)
			if got != expected.flux {
				t.Errorf("Flux with the expressions of docs/flux.md: %s, want %s", got, expected.flux)
			}
			if (got == fluxStatus(current)) != (tc.HealthStatus.Status == "Healthy") {
				t.Errorf("Flux says %s, the Argo CD check %s", got, tc.HealthStatus.Status)
			}
		})
	}
}
