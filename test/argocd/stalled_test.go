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
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"testing"
)

// statusSource is where the ServiceMesh controller decides which reasons set Stalled (stalledReasons)
// and which set Reconciling (every other reason of a False condition).
var statusSource = filepath.Join("..", "..", "controllers", "servicemesh", "status.go")

// stalledReasons returns the values of the reasons controllers/servicemesh/status.go lists in its
// stalledReasons set, read from its source: the reasons for which kstatus (Helm's --wait, Flux, kpt)
// reads the ServiceMesh as Failed.
func stalledReasons(t *testing.T) map[string]bool {
	t.Helper()
	values := map[string]string{} // constant name -> value
	for value, name := range apiReasons(t) {
		values[name] = value
	}
	f, err := parser.ParseFile(token.NewFileSet(), statusSource, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var call *ast.CallExpr
	for _, decl := range f.Decls {
		gen, ok := decl.(*ast.GenDecl)
		if !ok || gen.Tok != token.VAR {
			continue
		}
		for _, spec := range gen.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				if name.Name == "stalledReasons" && i < len(vs.Values) {
					call, _ = vs.Values[i].(*ast.CallExpr)
				}
			}
		}
	}
	if call == nil {
		t.Fatalf("%s has no stalledReasons = sets.New(...)", statusSource)
	}
	reasons := map[string]bool{}
	for _, arg := range call.Args {
		sel, ok := arg.(*ast.SelectorExpr)
		if !ok {
			t.Fatalf("%s: an element of stalledReasons is not an API constant", statusSource)
		}
		value, ok := values[sel.Sel.Name]
		if !ok {
			t.Fatalf("%s: stalledReasons has %s, which the API does not define", statusSource, sel.Sel.Name)
		}
		reasons[value] = true
	}
	if len(reasons) < 10 {
		t.Fatalf("found only %d reasons in stalledReasons: the parser missed them", len(reasons))
	}
	return reasons
}

// TestStalledReasonsAreDegraded keeps Argo CD and kstatus in step: a reason for which meshkeeper sets
// Stalled (kstatus Failed) must make the check answer Degraded, and a reason the check answers
// Progressing must never set Stalled. Otherwise an Argo CD sync would wait on a mesh that Flux and
// Helm's --wait already report as failed, or fail a sync that they wait out.
func TestStalledReasonsAreDegraded(t *testing.T) {
	for reason := range stalledReasons(t) {
		if got := readyReasons[reason]; got != "Degraded" {
			t.Errorf("%s sets Stalled (controllers/servicemesh/status.go stalledReasons), but readyReasons gives it %q, want Degraded",
				reason, got)
		}
	}
}

// TestHealthFollowsTheGeneration runs the check on the ServiceMesh at the points of a generation's
// life that the testdata manifests do not each show: Healthy only once Ready is True for the current
// generation and status.observedGeneration has caught up; Progressing while Reconciling is True for a
// rollout, or for the plaintext clients meshkeeper's restarts clear (not for a failure it retries);
// Degraded as soon as Stalled is True for the current generation, whatever Ready says.
func TestHealthFollowsTheGeneration(t *testing.T) {
	script, _ := readHealthCheck(t)
	condition := func(conditionType, status, reason, message string, generation int64) map[string]any {
		return map[string]any{"type": conditionType, "status": status, "reason": reason, "message": message,
			"observedGeneration": generation}
	}
	mesh := func(generation, observed int64, conditions ...any) map[string]any {
		return map[string]any{
			"metadata": map[string]any{"generation": generation},
			"status":   map[string]any{"observedGeneration": observed, "conditions": conditions},
		}
	}
	cases := []struct {
		name string
		obj  map[string]any
		want healthStatus
	}{
		{"Ready True for the current generation", mesh(4, 4,
			condition("Ready", "True", "Succeeded", "The mesh matches the spec", 4)),
			healthStatus{Status: "Healthy", Message: "The mesh matches the spec"}},
		{"Ready True for the current generation, status.observedGeneration behind", mesh(4, 3,
			condition("Ready", "True", "Succeeded", "The mesh matches the spec", 4)),
			healthStatus{Status: "Progressing", Message: "Waiting for meshkeeper to observe generation 4 (status is of generation 3)"}},
		{"Ready True for an older generation", mesh(4, 4,
			condition("Ready", "True", "Succeeded", "The mesh matches the spec", 3)),
			healthStatus{Status: "Progressing", Message: "Waiting for the Ready condition of generation 4"}},
		{"Reconciling True for a rollout", mesh(4, 3,
			condition("Ready", "False", "RollingOut", "ControlPlaneReady: istiod: 1 of 2 replicas updated", 4),
			condition("Reconciling", "True", "RollingOut", "ControlPlaneReady: istiod: 1 of 2 replicas updated", 4)),
			healthStatus{Status: "Progressing", Message: "ControlPlaneReady: istiod: 1 of 2 replicas updated"}},
		{"Reconciling True before Ready is judged", mesh(4, 3,
			condition("Ready", "False", "Reconciling", "NamespacesEnrolled: 1 namespace(s) being enrolled: shop", 4),
			condition("Reconciling", "True", "Reconciling", "NamespacesEnrolled: 1 namespace(s) being enrolled: shop", 4)),
			healthStatus{Status: "Progressing", Message: "NamespacesEnrolled: 1 namespace(s) being enrolled: shop"}},
		{"Stalled True while Ready names a rollout", mesh(4, 4,
			condition("Ready", "False", "RollingOut", "IngressesConfigured: the controller rolls out", 4),
			condition("Stalled", "True", "InjectionLabelConflict", "NamespacesEnrolled: payments keeps its own label", 4)),
			healthStatus{Status: "Degraded", Message: "NamespacesEnrolled: payments keeps its own label"}},
		{"Reconciling True while meshkeeper's restarts clear plaintext clients", mesh(4, 4,
			condition("Ready", "False", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4),
			condition("Reconciling", "True", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4),
			condition("DataPlaneUpToDate", "False", "Restarting", "meshkeeper restarts the workloads of 2 pod(s)", 4)),
			healthStatus{Status: "Progressing", Message: "MTLSReady: shop has 2 pods without a sidecar"}},
		{"Reconciling True for plaintext clients of an older generation", mesh(4, 4,
			condition("Ready", "False", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4),
			condition("Reconciling", "True", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 3)),
			healthStatus{Status: "Degraded", Message: "MTLSReady: shop has 2 pods without a sidecar"}},
		{"Reconciling True for another condition than the plaintext clients", mesh(4, 4,
			condition("Ready", "False", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4),
			condition("Reconciling", "True", "RollingOut", "IngressesConfigured: the controller rolls out", 4)),
			healthStatus{Status: "Degraded", Message: "MTLSReady: shop has 2 pods without a sidecar"}},
		{"Reconciling True for a failure meshkeeper retries", mesh(4, 3,
			condition("Ready", "False", "InstallFailed", "ControlPlaneReady: installing release istio-system/istiod: boom", 4),
			condition("Reconciling", "True", "InstallFailed", "ControlPlaneReady: installing release istio-system/istiod: boom", 4)),
			healthStatus{Status: "Degraded", Message: "ControlPlaneReady: installing release istio-system/istiod: boom"}},
		{"Ready False with a terminal reason", mesh(4, 4,
			condition("Ready", "False", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4),
			condition("Stalled", "True", "PlaintextClients", "MTLSReady: shop has 2 pods without a sidecar", 4)),
			healthStatus{Status: "Degraded", Message: "MTLSReady: shop has 2 pods without a sidecar"}},
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
