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
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// healthDir is the ServiceMesh health check, laid out as a directory of Argo CD's
// resource_customizations: health.lua, health_test.yaml and testdata/.
var healthDir = filepath.Join("..", "..", "config", "argocd", "health", "mesh.meshkeeper.io", "ServiceMesh")

// healthTests is the format of Argo CD's health_test.yaml.
type healthTests struct {
	Tests []healthTest `json:"tests"`
}

// healthTest is one case: the manifest under testdata/ and the health Argo CD must give it.
type healthTest struct {
	HealthStatus healthStatus `json:"healthStatus"`
	InputPath    string       `json:"inputPath"`
}

// decoding is how the object reached Argo CD. Argo CD's own tests of its built-in checks read the
// testdata with sigs.k8s.io/yaml, so integers are float64; the application controller gets the
// object from the API server as JSON decoded by apimachinery, so integers are int64. The script must
// read both the same.
type decoding struct {
	name   string
	decode func(t *testing.T, manifest []byte) map[string]any
}

var decodings = []decoding{
	{"yaml", func(t *testing.T, manifest []byte) map[string]any {
		t.Helper()
		obj := map[string]any{}
		if err := yaml.Unmarshal(manifest, &obj); err != nil {
			t.Fatal(err)
		}
		return obj
	}},
	{"apiserver", func(t *testing.T, manifest []byte) map[string]any {
		t.Helper()
		data, err := yaml.YAMLToJSON(manifest)
		if err != nil {
			t.Fatal(err)
		}
		obj, err := runtime.Decode(unstructured.UnstructuredJSONScheme, data)
		if err != nil {
			t.Fatal(err)
		}
		return obj.(*unstructured.Unstructured).Object
	}},
}

// vms are the two ways Argo CD runs a health check: from argocd-cm, where the standard libraries are
// off unless the admin turns them on, and as a built-in check, where they are on.
var vms = []struct {
	name string
	vm   vm
}{
	{"argocd-cm", vm{useOpenLibs: false}},
	{"open-libs", vm{useOpenLibs: true}},
}

func readHealthCheck(t *testing.T) (string, healthTests) {
	t.Helper()
	script, err := os.ReadFile(filepath.Join(healthDir, "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(healthDir, "health_test.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var tests healthTests
	if err := yaml.UnmarshalStrict(data, &tests); err != nil {
		t.Fatalf("health_test.yaml: %v", err)
	}
	if len(tests.Tests) == 0 {
		t.Fatal("health_test.yaml lists no tests")
	}
	return string(script), tests
}

// checkCase runs one case the way Argo CD's TestLuaHealthScript does and says how the result differs
// from the expectation, if it does.
func checkCase(t *testing.T, machine vm, decode decoding, script, inputPath string, want healthStatus) error {
	t.Helper()
	manifest, err := os.ReadFile(filepath.Join(healthDir, inputPath))
	if err != nil {
		t.Fatal(err)
	}
	got, err := machine.executeHealthLua(decode.decode(t, manifest), script)
	if err != nil {
		return fmt.Errorf("the script failed: %w", err)
	}
	if *got != want {
		return fmt.Errorf("got %+v, want %+v", *got, want)
	}
	return nil
}

// TestServiceMeshHealth runs every case of health_test.yaml in both sandboxes and with both number
// decodings.
func TestServiceMeshHealth(t *testing.T) {
	script, tests := readHealthCheck(t)
	for _, tc := range tests.Tests {
		for _, machine := range vms {
			for _, decode := range decodings {
				t.Run(strings.Join([]string{tc.InputPath, machine.name, decode.name}, "/"), func(t *testing.T) {
					if err := checkCase(t, machine.vm, decode, script, tc.InputPath, tc.HealthStatus); err != nil {
						t.Error(err)
					}
				})
			}
		}
	}
}

// TestHealthCasesCoverTestdata keeps health_test.yaml and testdata/ in step: an input nobody checks
// is as useless as a case without its input, and every status the script can give has a case.
func TestHealthCasesCoverTestdata(t *testing.T) {
	_, tests := readHealthCheck(t)
	listed := map[string]bool{}
	statuses := map[string]bool{}
	for _, tc := range tests.Tests {
		if listed[tc.InputPath] {
			t.Errorf("%s is listed twice", tc.InputPath)
		}
		listed[tc.InputPath] = true
		statuses[tc.HealthStatus.Status] = true
		if tc.HealthStatus.Message == "" {
			t.Errorf("%s: expects no message; every status of a ServiceMesh says why", tc.InputPath)
		}
		// Argo CD 3.6 shows deletionMessage for an object being deleted, older versions message.
		if deleting := strings.HasPrefix(filepath.Base(tc.InputPath), "terminating"); deleting != (tc.HealthStatus.DeletionMessage != "") ||
			(deleting && tc.HealthStatus.DeletionMessage != tc.HealthStatus.Message) {
			t.Errorf("%s: deletionMessage %q: want it equal to message for an object being deleted and unset for any other",
				tc.InputPath, tc.HealthStatus.DeletionMessage)
		}
	}
	files, err := filepath.Glob(filepath.Join(healthDir, "testdata", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		inputPath := "testdata/" + filepath.Base(file)
		if !listed[inputPath] {
			t.Errorf("%s is not used by health_test.yaml", inputPath)
		}
		delete(listed, inputPath)
	}
	for inputPath := range listed {
		t.Errorf("health_test.yaml lists %s, which does not exist", inputPath)
	}
	for _, status := range []string{"Healthy", "Progressing", "Degraded"} {
		if !statuses[status] {
			t.Errorf("no case expects %s", status)
		}
	}
	// The case Argo CD's bundled checks carry since the checks run on objects being deleted.
	if _, err := os.Stat(filepath.Join(healthDir, "testdata", "terminating.yaml")); err != nil {
		t.Errorf("no terminating case: %v", err)
	}
}

// uninstallingIstioSystem is what the check says of a ServiceMesh being deleted, held by meshkeeper's
// finalizer, without spec.namespace or a blocked uninstall.
const uninstallingIstioSystem = "Uninstalling the mesh: the finalizer mesh.meshkeeper.io/finalizer waits for " +
	"meshkeeper to remove the labels and annotations it set, uninstall the istiod (and any istiod-<revision>) and " +
	"istio-base releases from istio-system (the Istio CRDs stay) and delete their webhooks. meshkeeper must be " +
	"running; a failing step is retried and shown in a Warning Event"

// TestHealthOfOddShapes feeds objects no testdata manifest has: the script must give a sensible
// status, never fail (Argo CD would show Unknown with a Lua error).
func TestHealthOfOddShapes(t *testing.T) {
	script, _ := readHealthCheck(t)
	ready := func(fields map[string]any) map[string]any {
		condition := map[string]any{"type": "Ready"}
		for k, v := range fields {
			condition[k] = v
		}
		return condition
	}
	cases := []struct {
		name string
		obj  map[string]any
		want healthStatus
	}{
		{"empty object", map[string]any{},
			healthStatus{Status: "Progressing", Message: "Waiting for meshkeeper to observe the ServiceMesh"}},
		{"status is not a map", map[string]any{"status": "ok"},
			healthStatus{Status: "Progressing", Message: "Waiting for meshkeeper to observe the ServiceMesh"}},
		{"empty status", map[string]any{"metadata": map[string]any{"generation": int64(1)}, "status": map[string]any{}},
			healthStatus{Status: "Progressing", Message: "Waiting for meshkeeper to observe generation 1 (status is of generation 0)"}},
		{"conditions is a map", map[string]any{"status": map[string]any{"conditions": map[string]any{"type": "Ready"}}},
			healthStatus{Status: "Progressing", Message: "Waiting for the Ready condition"}},
		{"condition is not a map", map[string]any{"status": map[string]any{"conditions": []any{"Ready", nil}}},
			healthStatus{Status: "Progressing", Message: "Waiting for the Ready condition"}},
		{"no metadata.generation", map[string]any{"status": map[string]any{"conditions": []any{
			ready(map[string]any{"status": "True", "reason": "Succeeded", "message": "The mesh matches the spec"})}}},
			healthStatus{Status: "Healthy", Message: "The mesh matches the spec"}},
		{"Ready False without reason or message", map[string]any{"status": map[string]any{"conditions": []any{
			ready(map[string]any{"status": "False"})}}},
			healthStatus{Status: "Degraded", Message: "Ready is False"}},
		{"Stalled without reason or message", map[string]any{"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Stalled", "status": "True"}}}},
			healthStatus{Status: "Degraded", Message: "Stalled is True"}},
		{"Stalled False", map[string]any{"status": map[string]any{"conditions": []any{
			map[string]any{"type": "Stalled", "status": "False", "reason": "ChartNotFound"},
			ready(map[string]any{"status": "True", "message": "The mesh matches the spec"})}}},
			healthStatus{Status: "Healthy", Message: "The mesh matches the spec"}},
		{"being deleted without finalizers or spec", map[string]any{"metadata": map[string]any{
			"deletionTimestamp": "2026-08-31T07:40:12Z"}},
			healthStatus{Status: "Progressing", Message: "Pending deletion", DeletionMessage: "Pending deletion"}},
		{"being deleted, finalizers not a list", map[string]any{"metadata": map[string]any{
			"deletionTimestamp": "2026-08-31T07:40:12Z", "finalizers": "mesh.meshkeeper.io/finalizer"}, "status": "x"},
			healthStatus{Status: "Progressing", Message: "Pending deletion", DeletionMessage: "Pending deletion"}},
		{"being deleted, uninstall blocked without a message", map[string]any{
			"metadata": map[string]any{"deletionTimestamp": "2026-08-31T07:40:12Z", "generation": int64(3),
				"finalizers": []any{"mesh.meshkeeper.io/finalizer", "backup.example.com/snapshot"}},
			"status": map[string]any{"conditions": []any{
				ready(map[string]any{"status": "False", "reason": "UninstallBlocked", "observedGeneration": int64(3)})}}},
			healthStatus{Status: "Degraded", Message: "UninstallBlocked; other finalizers: backup.example.com/snapshot",
				DeletionMessage: "UninstallBlocked; other finalizers: backup.example.com/snapshot"}},
		{"being deleted by meshkeeper, status not a map", map[string]any{"metadata": map[string]any{
			"deletionTimestamp": "2026-08-31T07:40:12Z", "finalizers": []any{"mesh.meshkeeper.io/finalizer"}}, "status": "x"},
			healthStatus{Status: "Progressing", Message: uninstallingIstioSystem, DeletionMessage: uninstallingIstioSystem}},
		{"Ready False with a reason only", map[string]any{"status": map[string]any{"conditions": []any{
			ready(map[string]any{"status": "False", "reason": "DeploymentMissing", "message": ""})}}},
			healthStatus{Status: "Progressing", Message: "DeploymentMissing"}},
		{"Ready Unknown", map[string]any{"status": map[string]any{"conditions": []any{
			ready(map[string]any{"status": "Unknown", "reason": "Reconciling", "message": "Applying the spec"})}}},
			healthStatus{Status: "Progressing", Message: "Applying the spec"}},
		{"Ready without observedGeneration", map[string]any{
			"metadata": map[string]any{"generation": int64(2)},
			"status": map[string]any{"observedGeneration": int64(2), "conditions": []any{
				ready(map[string]any{"status": "True", "reason": "Succeeded"})}}},
			healthStatus{Status: "Progressing", Message: "Waiting for the Ready condition of generation 2"}},
		{"generation as a string", map[string]any{
			"metadata": map[string]any{"generation": "2"},
			"status": map[string]any{"conditions": []any{
				ready(map[string]any{"status": "False", "reason": "Reconciling", "message": "Applying the spec"})}}},
			healthStatus{Status: "Progressing", Message: "Applying the spec"}},
	}
	for _, tc := range cases {
		for _, machine := range vms {
			t.Run(tc.name+"/"+machine.name, func(t *testing.T) {
				got, err := machine.vm.executeHealthLua(tc.obj, script)
				if err != nil {
					t.Fatalf("the script failed: %v", err)
				}
				if *got != tc.want {
					t.Errorf("got %+v, want %+v", *got, tc.want)
				}
			})
		}
	}
}

// TestWrongScriptOrExpectationFails proves the harness can tell: a script that always answers
// Healthy, one that never looks at the generation, and an expectation with another message must
// each be caught by some case.
func TestWrongScriptOrExpectationFails(t *testing.T) {
	script, tests := readHealthCheck(t)
	machine, decode := vm{}, decodings[1]

	wrongScripts := map[string]string{
		"always Healthy":          `return {status = "Healthy", message = "The mesh matches the spec"}`,
		"ignores the generation":  strings.Replace(script, "if observed < generation then", "if false then", 1),
		"every failure transient": strings.ReplaceAll(script, `hs.status = "Degraded"`, `hs.status = "Progressing"`),
		"ignores deletion":        strings.Replace(script, "if obj.metadata.deletionTimestamp ~= nil then", "if false then", 1),
		"ignores Stalled":         strings.Replace(script, `local stalled = findCondition(obj.status, "Stalled")`, "local stalled = nil", 1),
		"any Stalled counts": strings.Replace(script,
			`stalled.status == "True" and number(stalled.observedGeneration) >= generation`, `stalled.status == "True"`, 1),
		"no deletionMessage": strings.Replace(script, "deletionMessage = message", "", 1),
		// Plaintext clients meshkeeper's automatic restarts are clearing are progress, as for kstatus.
		"ignores restarts": strings.Replace(script, " or restarting(obj.status, ready, generation)", "", 1),
		// A blocked uninstall needs a person and must not look like an uninstall under way; a Ready of an
		// older generation, or one left behind once meshkeeper let go of the ServiceMesh, must not count.
		"ignores UninstallBlocked":    strings.Replace(script, "local blocked = ours and", "local blocked = false and", 1),
		"blocked uninstall transient": strings.Replace(script, `health = "Degraded"`, `health = "Progressing"`, 1),
		"any UninstallBlocked counts": strings.Replace(script,
			"uninstallReasons[ready.reason] and\n    number(ready.observedGeneration) >= generation", "uninstallReasons[ready.reason]", 1),
		"ignores UninstallFailed":                         strings.Replace(script, "  UninstallFailed = true,\n", "", 1),
		"UninstallBlocked without meshkeeper's finalizer": strings.Replace(script, "local blocked = ours and", "local blocked = true and", 1),
	}
	for name, wrong := range wrongScripts {
		if wrong == script {
			t.Fatalf("%s: the mutation did not apply to health.lua", name)
		}
		caught := slices.ContainsFunc(tests.Tests, func(tc healthTest) bool {
			return checkCase(t, machine, decode, wrong, tc.InputPath, tc.HealthStatus) != nil
		})
		if !caught {
			t.Errorf("no case of health_test.yaml catches a script that is wrong this way: %s", name)
		}
	}

	for _, tc := range tests.Tests {
		wrong := tc.HealthStatus
		wrong.Message += "."
		if checkCase(t, machine, decode, script, tc.InputPath, wrong) == nil {
			t.Errorf("%s: a wrong expected message passed", tc.InputPath)
		}
	}
}

// TestArgoCDSandbox pins down what the runner does like Argo CD, so that passing here means
// passing there: the libraries a script from argocd-cm has, the deadline, and what becomes of a
// result Argo CD cannot use.
func TestArgoCDSandbox(t *testing.T) {
	obj := map[string]any{"metadata": map[string]any{"generation": int64(7)}}
	cases := []struct {
		name    string
		vm      vm
		script  string
		want    healthStatus
		wantErr string
	}{
		{"obj is the object", vm{}, `return {status = "Healthy", message = "generation " .. obj.metadata.generation}`,
			healthStatus{Status: "Healthy", Message: "generation 7"}, ""},
		{"no string library from argocd-cm", vm{}, `return {status = string.upper("healthy")}`,
			healthStatus{}, "attempt to index a non-table object(nil) with key 'upper'"},
		{"string library with open libs", vm{useOpenLibs: true}, `return {status = string.gsub("healthy", "^h", "H")}`,
			healthStatus{Status: "Healthy", Message: ""}, ""},
		{"no global os from argocd-cm", vm{}, `return {status = type(os) == "nil" and "Healthy" or "Degraded"}`,
			healthStatus{Status: "Healthy", Message: ""}, ""},
		{"safe os through require", vm{}, `local os = require("os"); return {status = (os.time() > 0 and os.exit == nil) and "Healthy" or "Degraded"}`,
			healthStatus{Status: "Healthy", Message: ""}, ""},
		{"invalid status", vm{}, `return {status = "Fine"}`,
			healthStatus{Status: "Unknown", Message: "Lua returned an invalid health status"}, ""},
		{"empty table", vm{}, `return {}`, healthStatus{}, ""},
		{"nothing returned", vm{}, `local hs = {status = "Healthy"}`, healthStatus{}, ""},
		{"not a table", vm{}, `return "Healthy"`, healthStatus{}, "expect table output from Lua script, not string"},
		{"runaway script", vm{}, `while true do end`, healthStatus{}, "context deadline exceeded"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, err := tc.vm.executeHealthLua(obj, tc.script)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got error %v, want one containing %q", err, tc.wantErr)
				}
				if elapsed := time.Since(start); elapsed > 5*scriptTimeout {
					t.Errorf("took %s; Argo CD stops a script after %s", elapsed, scriptTimeout)
				}
				return
			}
			if err != nil {
				t.Fatalf("the script failed: %v", err)
			}
			if *got != tc.want {
				t.Errorf("got %+v, want %+v", *got, tc.want)
			}
		})
	}
}
