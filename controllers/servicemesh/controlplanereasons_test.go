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

package servicemesh

import (
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Every reason this controller can write on ControlPlaneReady is in the class of
// meshv1alpha1.IsRolloutReason its source gives it: those controlPlaneReadiness reads off the istiod
// Deployment are rollout reasons; those of a failure of the control-plane phase (a meshctx failure
// built anywhere reconcileControlPlaneWithBackoff reaches) or of an uninstall (reportUninstallHeld) are
// not. The restart controller holds restarts on the latter only: a new failure reason left out of the
// classification, or put among the rollout reasons, would let restarts run ahead of a failed install.
// The test reads the package's source, so a reason added there is judged without a change here.
func TestEveryControlPlaneReadyReasonIsClassified(t *testing.T) {
	src := functions(parseFiles(t, "."))
	values := reasonValues(t, parseFiles(t, filepath.Join("..", "..", "api", "v1alpha1")))

	// Only these write ControlPlaneReady; a new writer has to be followed here too.
	writers := []string{"setControlPlaneReady", "reportUninstallHeld"}
	for name, fn := range src {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || slices.Contains([]string{"FindStatusCondition", "IsStatusConditionTrue", "IsStatusConditionFalse"}, selected(call.Fun)) {
				return true
			}
			for _, arg := range call.Args {
				if sel, ok := arg.(*ast.SelectorExpr); ok && isIdent(sel.X, "meshv1alpha1") && sel.Sel.Name == "ConditionControlPlaneReady" &&
					!slices.Contains(writers, name) {
					t.Errorf("%s writes ControlPlaneReady (%s): classify the reasons it writes in this test", name, selected(call.Fun))
				}
			}
			return true
		})
	}

	rollout := reasonsIn(t, src["controlPlaneReadiness"].Body, values)
	var failures []string
	for _, name := range reachable(src, "reconcileControlPlaneWithBackoff") {
		ast.Inspect(src[name].Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && isFailure(call) {
				failures = append(failures, reasonArg(t, name, call.Args[0], values))
			}
			return true
		})
	}
	for name, fn := range src {
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			if call, ok := n.(*ast.CallExpr); ok && selected(call.Fun) == "reportUninstallHeld" {
				failures = append(failures, reasonArg(t, name, call.Args[2], values))
			}
			return true
		})
	}
	slices.Sort(rollout)
	slices.Sort(failures)
	rollout, failures = slices.Compact(rollout), slices.Compact(failures)
	if len(rollout) < 4 || len(failures) < 10 {
		t.Fatalf("found rollout reasons %v and failure reasons %v: the source no longer reads as this test expects", rollout, failures)
	}
	for _, reason := range rollout {
		if !meshv1alpha1.IsRolloutReason(reason) {
			t.Errorf("controlPlaneReadiness writes %s, which meshv1alpha1.IsRolloutReason does not count as istiod's rollout", reason)
		}
	}
	for _, reason := range failures {
		switch {
		case !meshv1alpha1.IsControlPlaneReadyReason(reason):
			t.Errorf("the control-plane phase or the uninstall fails with %s, which api/v1alpha1 does not classify for ControlPlaneReady", reason)
		case meshv1alpha1.IsRolloutReason(reason):
			t.Errorf("the control-plane phase or the uninstall fails with %s, which meshv1alpha1.IsRolloutReason counts as istiod's rollout", reason)
		}
	}
}

// parseFiles parses the non-test Go files of dir.
func parseFiles(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, file)
	}
	return files
}

// functions returns the functions and methods of files, by name.
func functions(files []*ast.File) map[string]*ast.FuncDecl {
	funcs := map[string]*ast.FuncDecl{}
	for _, file := range files {
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Body != nil {
				funcs[fn.Name.Name] = fn
			}
		}
	}
	return funcs
}

// reasonValues maps the name of each string constant Reason* of files to its value.
func reasonValues(t *testing.T, files []*ast.File) map[string]string {
	t.Helper()
	values := map[string]string{}
	for _, file := range files {
		ast.Inspect(file, func(n ast.Node) bool {
			spec, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, id := range spec.Names {
				if i >= len(spec.Values) || !strings.HasPrefix(id.Name, "Reason") {
					continue
				}
				if lit, ok := spec.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					value, err := strconv.Unquote(lit.Value)
					if err != nil {
						t.Fatal(err)
					}
					values[id.Name] = value
				}
			}
			return true
		})
	}
	if len(values) == 0 {
		t.Fatal("found no Reason constants in api/v1alpha1")
	}
	return values
}

// reasonsIn returns the values of the meshv1alpha1.Reason* constants body names.
func reasonsIn(t *testing.T, body ast.Node, values map[string]string) []string {
	t.Helper()
	var reasons []string
	ast.Inspect(body, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok && strings.HasPrefix(sel.Sel.Name, "Reason") && isIdent(sel.X, "meshv1alpha1") {
			reasons = append(reasons, reasonArg(t, "controlPlaneReadiness", sel, values))
		}
		return true
	})
	return reasons
}

// reasonArg is the value of the reason expr names; it must be a constant of api/v1alpha1, so that the
// test sees every reason.
func reasonArg(t *testing.T, fn string, expr ast.Expr, values map[string]string) string {
	t.Helper()
	sel, ok := expr.(*ast.SelectorExpr)
	if !ok || !isIdent(sel.X, "meshv1alpha1") {
		t.Fatalf("%s passes a reason that is not a constant of api/v1alpha1: the test cannot judge it", fn)
	}
	value, ok := values[sel.Sel.Name]
	if !ok {
		t.Fatalf("%s passes meshv1alpha1.%s, not a Reason constant of api/v1alpha1", fn, sel.Sel.Name)
	}
	return value
}

// reachable lists the functions of src that from can call, itself included, following every name of a
// function of src its body uses (a call, or a method value passed on). Two methods of one name count as
// one: that takes in more, never less.
func reachable(src map[string]*ast.FuncDecl, from string) []string {
	seen := map[string]bool{from: true}
	queue := []string{from}
	for len(queue) > 0 {
		fn := src[queue[0]]
		queue = queue[1:]
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			var name string
			switch e := n.(type) {
			case *ast.Ident:
				name = e.Name
			case *ast.SelectorExpr:
				name = e.Sel.Name
			}
			if _, ok := src[name]; ok && !seen[name] {
				seen[name] = true
				queue = append(queue, name)
			}
			return true
		})
	}
	return slices.Sorted(maps.Keys(seen))
}

// isFailure tells whether call builds a failure the ServiceMesh reports (meshctx.Terminal and the like).
func isFailure(call *ast.CallExpr) bool {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	return ok && isIdent(sel.X, "meshctx") && slices.Contains([]string{"Terminal", "Recheck", "Retry", "Wait"}, sel.Sel.Name)
}

// selected is the name a call's function is known by: f or x.f.
func selected(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		return f.Sel.Name
	}
	return ""
}

func isIdent(expr ast.Expr, name string) bool {
	id, ok := expr.(*ast.Ident)
	return ok && id.Name == name
}
