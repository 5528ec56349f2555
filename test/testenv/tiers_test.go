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

package testenv

import (
	"bufio"
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// tierPackages maps each tier's build tag to the Makefile variable that lists the tier's packages.
var tierPackages = map[string][]string{
	"envtest": {"ENVTEST_PACKAGES", "ENVTEST_SUITES"},
	"istiod":  {"ISTIOD_PACKAGES"},
	"cluster": {"CLUSTER_PACKAGES", "E2E_PACKAGES"},
}

// TestEveryTaggedTestRuns keeps the tiers honest: a test file behind a tier's build tag runs only if the
// Makefile lists its package in that tier, so a tagged test in an unlisted package would silently never
// run in `make test`.
func TestEveryTaggedTestRuns(t *testing.T) {
	listed := makefilePackages(t, filepath.Join(RepoRoot(), "Makefile"))
	for tag, variables := range tierPackages {
		for _, variable := range variables {
			if len(listed[variable]) == 0 {
				t.Errorf("the Makefile lists no packages in %s", variable)
			}
			for _, pkg := range listed[variable] {
				dir := strings.TrimSuffix(strings.TrimSuffix(pkg, "..."), "/")
				if info, err := os.Stat(filepath.Join(RepoRoot(), dir)); err != nil || !info.IsDir() {
					t.Errorf("%s in the Makefile lists %s, which is no directory", variable, pkg)
				}
			}
		}
		if !slices.Contains(strings.Split(listed["TIER_TAGS"][0], ","), tag) {
			t.Errorf("TIER_TAGS (%v) lacks %q, so vet and golangci-lint skip its files", listed["TIER_TAGS"], tag)
		}
	}
	tagged := taggedFiles(t, RepoRoot())
	if len(tagged) == 0 {
		t.Fatal("found no file behind a tier's build tag: the walk is broken")
	}
	for file, tags := range tagged {
		for _, tag := range tags {
			variables, ok := tierPackages[tag]
			if !ok {
				continue
			}
			if !slices.ContainsFunc(variables, func(v string) bool { return covers(listed[v], filepath.Dir(file)) }) {
				t.Errorf("%s builds only with tag %q, but none of %v in the Makefile lists ./%s", file, tag, variables, filepath.Dir(file))
			}
		}
	}
}

// tierTests maps each tier's build tag to its go test targets' packages, each with the Makefile variable
// of the pattern of the tests that target runs (the Ginkgo suites of ENVTEST_SUITES run whole).
var tierTests = map[string]map[string]string{
	"envtest": {"ENVTEST_PACKAGES": "ENVTEST_TESTS"},
	"istiod":  {"ISTIOD_PACKAGES": "ISTIOD_TESTS"},
	"cluster": {"CLUSTER_PACKAGES": "CLUSTER_TESTS", "E2E_PACKAGES": "E2E_TESTS"},
}

// TestTiersRunEveryTaggedTest: a tier's go test runs only the tests of the files behind its build tag in
// its packages (ENVTEST_TESTS, ISTIOD_TESTS, ...; the packages' other tests are pure, and test-unit runs
// them), so each such test must be in the pattern the Makefile computes, or it would silently never run;
// the pattern must be the one the tier's go test is given, and must leave the packages' pure tests out.
func TestTiersRunEveryTaggedTest(t *testing.T) {
	if _, err := exec.LookPath("make"); err != nil {
		t.Fatalf("make is needed to read the Makefile's tier patterns: %v", err)
	}
	cmd := exec.Command("make", "-s", "--no-print-directory", "print-tier-tests")
	cmd.Dir = RepoRoot()
	// Not a sub-make of the make that may run this test (test-unit): its flags and jobserver are not ours.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("make print-tier-tests: %v", err)
	}
	patterns := map[string]*regexp.Regexp{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, pattern, _ := strings.Cut(line, "=")
		run, err := regexp.Compile("^(" + pattern + ")$")
		if err != nil {
			t.Fatalf("the Makefile's %s is no pattern: %v", name, err)
		}
		patterns[name] = run
	}
	makefile, err := os.ReadFile(filepath.Join(RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	listed := makefilePackages(t, filepath.Join(RepoRoot(), "Makefile"))
	tagged := taggedFiles(t, RepoRoot())
	for tag, targets := range tierTests {
		for packages, variable := range targets {
			run := patterns[variable]
			if run == nil {
				t.Errorf("make print-tier-tests prints no %s", variable)
				continue
			}
			if !hasGoTestRun(string(makefile), packages, variable) {
				t.Errorf("the Makefile's go test of $(%s) is not given -run '^($(%s))$$'", packages, variable)
			}
			found := 0
			taggedTests := map[string]bool{}
			for file, tags := range tagged {
				if !slices.Contains(tags, tag) || !covers(listed[packages], filepath.Dir(file)) {
					continue
				}
				for _, name := range testFuncs(t, file) {
					found++
					taggedTests[name] = true
					if !run.MatchString(name) {
						t.Errorf("%s: %s is not in the Makefile's %s, so the go test of %s does not run it", file, name, variable, packages)
					}
				}
			}
			if found == 0 {
				t.Errorf("found no test behind the %s tag in %s: the walk is broken", tag, packages)
			}
			for _, pkg := range listed[packages] {
				files, _ := filepath.Glob(filepath.Join(RepoRoot(), strings.TrimSuffix(pkg, "/"), "*_test.go"))
				for _, path := range files {
					file, _ := filepath.Rel(RepoRoot(), path)
					if _, ok := tagged[file]; ok {
						continue
					}
					for _, name := range testFuncs(t, file) {
						if !taggedTests[name] && run.MatchString(name) {
							t.Errorf("the Makefile's %s matches %s, a pure test of %s: test-unit runs it", variable, name, file)
						}
					}
				}
			}
		}
	}
	for variable, run := range patterns {
		if run.MatchString("TestCovers") {
			t.Errorf("the Makefile's %s matches a pure test of test/testenv: it selects nothing", variable)
		}
	}
}

// hasGoTestRun tells whether a recipe line of makefile runs go test on $(packages) with -run '^($(tests))$$'.
func hasGoTestRun(makefile, packages, tests string) bool {
	for _, line := range strings.Split(makefile, "\n") {
		if strings.HasPrefix(line, "\t") && strings.Contains(line, "go test ") && strings.Contains(line, "$("+packages+")") &&
			strings.Contains(line, "-run '^($("+tests+"))$$'") {
			return true
		}
	}
	return false
}

// testFuncs are the names of the test functions of the Go file (relative to the checkout), but TestMain.
func testFuncs(t *testing.T, file string) []string {
	t.Helper()
	parsed, err := parser.ParseFile(token.NewFileSet(), filepath.Join(RepoRoot(), file), nil, parser.SkipObjectResolution)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, decl := range parsed.Decls {
		fn, ok := decl.(*ast.FuncDecl)
		if ok && fn.Recv == nil && strings.HasPrefix(fn.Name.Name, "Test") && fn.Name.Name != "TestMain" {
			names = append(names, fn.Name.Name)
		}
	}
	return names
}

func TestCovers(t *testing.T) {
	for dir, want := range map[string]bool{
		"test/integration":              true,
		"test/integration/controlplane": true,
		"test/chart":                    true,
		"test/chartrepo":                false,
		"test":                          false,
	} {
		if got := covers([]string{"./test/integration/...", "./test/chart/"}, dir); got != want {
			t.Errorf("covers(%s) = %t, want %t", dir, got, want)
		}
	}
}

// makefilePackages reads the "NAME := value" assignments of a Makefile.
func makefilePackages(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	assignment := regexp.MustCompile(`^([A-Z][A-Z0-9_]*)\s*:=\s*(.*)$`)
	vars := map[string][]string{}
	scanner := bufio.NewScanner(f)
	line := ""
	for scanner.Scan() {
		// A line ending in a backslash goes on in the next.
		line += scanner.Text()
		if strings.HasSuffix(line, "\\") {
			line = strings.TrimSuffix(line, "\\") + " "
			continue
		}
		if m := assignment.FindStringSubmatch(line); m != nil {
			vars[m[1]] = strings.Fields(m[2])
		}
		line = ""
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	return vars
}

// taggedFiles returns the Go files under root (relative to it) that carry a //go:build line naming a
// tier, with the tiers it names. The tools modules are not meshkeeper's packages and are skipped.
func taggedFiles(t *testing.T, root string) map[string][]string {
	t.Helper()
	files := map[string][]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == filepath.Join("test", "tools") || rel == "bin" || strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			if !constraint.IsGoBuild(line) {
				continue
			}
			expr, err := constraint.Parse(line)
			if err != nil {
				return err
			}
			var tags []string
			expr.Eval(func(tag string) bool {
				if _, ok := tierPackages[tag]; ok {
					tags = append(tags, tag)
				}
				return true
			})
			if len(tags) > 0 {
				files[rel] = tags
			}
			break
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// covers tells whether one of the go test package patterns (./dir/ or ./dir/...) matches dir.
func covers(patterns []string, dir string) bool {
	dir = filepath.ToSlash(dir)
	for _, p := range patterns {
		p = strings.TrimPrefix(p, "./")
		if rest, ok := strings.CutSuffix(p, "/..."); ok {
			if dir == rest || strings.HasPrefix(dir, rest+"/") {
				return true
			}
			continue
		}
		if strings.TrimSuffix(p, "/") == dir {
			return true
		}
	}
	return false
}
