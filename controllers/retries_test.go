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

package controllers

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
)

// Every controller retries failed reconciles within meshctx.RetryCap: the function that builds it
// passes meshctx.ControllerOptions. With controller-runtime's own limiter a failure that lasts is
// retried every 16 minutes, and MeshkeeperReconcileErrors never fires for it.
func TestEveryControllerRetriesWithinTheCap(t *testing.T) {
	found := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		file, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			var builds, options bool
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if !ok {
					return true
				}
				switch name(call.Fun) {
				case "NewControllerManagedBy":
					builds = true
				case "WithOptions":
					// The options passed are meshkeeper's, not a literal of controller-runtime's.
					options = options || len(call.Args) == 1 && isCall(call.Args[0], "ControllerOptions")
				}
				return true
			})
			if builds {
				found++
				if !options {
					t.Errorf("%s: %s builds a controller without meshctx.ControllerOptions", path, fn.Name.Name)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 6 {
		t.Errorf("found %d functions that build a controller, want the 6 controllers'", found)
	}
}

// name is the selected name of a call's function (x.Name), "" for anything else.
func name(expr ast.Expr) string {
	if sel, ok := expr.(*ast.SelectorExpr); ok {
		return sel.Sel.Name
	}
	return ""
}

// isCall tells whether expr calls the function named fn (x.fn(...)).
func isCall(expr ast.Expr, fn string) bool {
	call, ok := expr.(*ast.CallExpr)
	return ok && name(call.Fun) == fn
}
