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

package main

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path"
	"regexp"
	"slices"
	"strconv"
)

// span is a byte range of a source file, [start, end).
type span struct{ start, end int }

// cut removes the spans from src, each widened to the whole lines it touches.
func cut(src []byte, spans []span) []byte {
	for i := range spans {
		start := bytes.LastIndexByte(src[:spans[i].start], '\n') + 1
		end := spans[i].end
		if nl := bytes.IndexByte(src[end:], '\n'); nl >= 0 {
			end += nl + 1
		} else {
			end = len(src)
		}
		spans[i] = span{start, end}
	}
	slices.SortFunc(spans, func(a, b span) int { return b.start - a.start })
	out := slices.Clone(src)
	last := len(out) + 1
	for _, s := range spans {
		if s.end > last { // overlapping lines are cut once
			s.end = last
		}
		if s.start < s.end {
			out = append(out[:s.start], out[s.end:]...)
		}
		last = s.start
	}
	return out
}

// nodeSpan is the span of node's source.
func nodeSpan(fset *token.FileSet, node ast.Node) span {
	return span{fset.Position(node.Pos()).Offset, fset.Position(node.End()).Offset}
}

func parse(name string, src []byte) (*token.FileSet, *ast.File, error) {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, name, src, parser.ParseComments)
	if err != nil {
		return nil, nil, err
	}
	return fset, file, nil
}

// importNames are the names an import may be referred to by: its alias, or else the last element of its
// path, and the one before it when the last is a major version ("k8s.io/klog/v2" is klog). A file's
// imports are not type-checked here: a wrong guess keeps an unused import, which fails the build.
func importNames(spec *ast.ImportSpec) []string {
	if spec.Name != nil {
		return []string{spec.Name.Name}
	}
	p, _ := strconv.Unquote(spec.Path.Value)
	names := []string{path.Base(p)}
	if dir := path.Dir(p); dir != "." && majorVersion.MatchString(names[0]) {
		names = append(names, path.Base(dir))
	}
	return names
}

var majorVersion = regexp.MustCompile(`^v[0-9]+$`)

// dropImport removes the import of importPath, which must be there.
func dropImport(name string, src []byte, importPath string) ([]byte, error) {
	fset, file, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	for _, spec := range file.Imports {
		if p, _ := strconv.Unquote(spec.Path.Value); p == importPath {
			return cut(src, []span{nodeSpan(fset, spec)}), nil
		}
	}
	return nil, fmt.Errorf("%s: no import of %s", name, importPath)
}

// dropFuncs removes the named top-level functions, each of which must be there, with their doc
// comments, then the imports nothing refers to any more.
func dropFuncs(name string, src []byte, funcs ...string) ([]byte, error) {
	fset, file, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	var spans []span
	for _, want := range funcs {
		found := false
		for _, decl := range file.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Recv != nil || fn.Name.Name != want {
				continue
			}
			start := fn.Pos()
			if fn.Doc != nil {
				start = fn.Doc.Pos()
			}
			spans = append(spans, span{fset.Position(start).Offset, fset.Position(fn.End()).Offset})
			found = true
		}
		if !found {
			return nil, fmt.Errorf("%s: no function %s", name, want)
		}
	}
	return dropUnusedImports(name, cut(src, spans))
}

// keepSchemeGroups keeps, of the AddToScheme functions listed in the variable builder, those of the
// packages in keep, each of which must be listed, then removes the imports nothing refers to any more.
func keepSchemeGroups(name string, src []byte, builder string, keep []string) ([]byte, error) {
	fset, file, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	paths := map[string]string{}
	for _, spec := range file.Imports {
		p, _ := strconv.Unquote(spec.Path.Value)
		for _, n := range importNames(spec) {
			paths[n] = p
		}
	}
	var list *ast.CompositeLit
	ast.Inspect(file, func(n ast.Node) bool {
		if spec, ok := n.(*ast.ValueSpec); ok && len(spec.Names) == 1 && spec.Names[0].Name == builder && len(spec.Values) == 1 {
			list, _ = spec.Values[0].(*ast.CompositeLit)
		}
		return list == nil
	})
	if list == nil {
		return nil, fmt.Errorf("%s: no composite literal %s", name, builder)
	}
	var spans []span
	listed := map[string]bool{}
	for _, elt := range list.Elts {
		sel, ok := elt.(*ast.SelectorExpr)
		var x *ast.Ident
		if ok {
			x, ok = sel.X.(*ast.Ident)
		}
		if !ok || sel.Sel.Name != "AddToScheme" {
			return nil, fmt.Errorf("%s: %s lists something other than a package's AddToScheme", name, builder)
		}
		p := paths[x.Name]
		listed[p] = true
		if !slices.Contains(keep, p) {
			spans = append(spans, nodeSpan(fset, elt))
		}
	}
	for _, p := range keep {
		if !listed[p] {
			return nil, fmt.Errorf("%s: %s does not list %s", name, builder, p)
		}
	}
	return dropUnusedImports(name, cut(src, spans))
}

// dropUnusedImports removes the named imports (not blank, not dot) that the file no longer refers to.
func dropUnusedImports(name string, src []byte) ([]byte, error) {
	fset, file, err := parse(name, src)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(file, func(n ast.Node) bool {
		if sel, ok := n.(*ast.SelectorExpr); ok {
			if x, ok := sel.X.(*ast.Ident); ok {
				used[x.Name] = true
			}
		}
		return true
	})
	var spans []span
	for _, spec := range file.Imports {
		names := importNames(spec)
		if names[0] != "_" && names[0] != "." && !slices.ContainsFunc(names, func(n string) bool { return used[n] }) {
			spans = append(spans, nodeSpan(fset, spec))
		}
	}
	out := cut(src, spans)
	if _, _, err := parse(name, out); err != nil {
		return nil, fmt.Errorf("%s after the edit: %w", name, err)
	}
	return out, nil
}
