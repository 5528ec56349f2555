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
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// performanceDoc is docs/performance.md with its whitespace folded, so that a phrase broken across
// lines is found as one.
func performanceDoc(t *testing.T) string {
	t.Helper()
	page, err := os.ReadFile("docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(strings.Fields(string(page)), " ")
}

// benchRun is one go test command of a benchmark, in the Makefile's bench target or on the page: its
// package, -bench pattern, build tags and timeout.
type benchRun struct {
	dir, pattern, tags string
	tagged             bool
	// timeout is go test's -timeout, its default of 10 minutes when none is given.
	timeout time.Duration
}

var (
	benchPackage = regexp.MustCompile(`\./([\w/]+)/`)
	benchPattern = regexp.MustCompile(`-bench ('[^']*'|\S+)`)
	benchTags    = regexp.MustCompile(`-tags (\S+)`)
	benchTimeout = regexp.MustCompile(`-timeout (\S+)`)
)

// parseBenchRun reads the package, -bench pattern, tags and timeout of a go test command line.
func parseBenchRun(t *testing.T, line string) benchRun {
	t.Helper()
	pkg, pattern := benchPackage.FindStringSubmatch(line), benchPattern.FindStringSubmatch(line)
	if pkg == nil || pattern == nil {
		t.Fatalf("%q names no package or no -bench pattern", strings.TrimSpace(line))
	}
	r := benchRun{dir: pkg[1], pattern: strings.ReplaceAll(strings.Trim(pattern[1], "'"), "$$", "$"), timeout: 10 * time.Minute}
	if tags := benchTags.FindStringSubmatch(line); tags != nil {
		r.tags, r.tagged = tags[1], true
	}
	if timeout := benchTimeout.FindStringSubmatch(line); timeout != nil {
		d, err := time.ParseDuration(timeout[1])
		if err != nil {
			t.Fatalf("%q: %v", strings.TrimSpace(line), err)
		}
		r.timeout = d
	}
	return r
}

// makeBench reads the go test commands of the Makefile's bench target, in order, and the whole recipe.
func makeBench(t *testing.T) ([]benchRun, string) {
	t.Helper()
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, recipe, found := strings.Cut(string(makefile), "\nbench: ")
	if !found {
		t.Fatal("the Makefile has no bench target")
	}
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	var runs []benchRun
	for line := range strings.SplitSeq(recipe, "\n") {
		if !strings.Contains(line, "go test ") {
			continue
		}
		runs = append(runs, parseBenchRun(t, line))
	}
	if len(runs) == 0 {
		t.Fatal("the bench target runs no go test")
	}
	return runs, recipe
}

// TestPerformanceDocNamesWhatMakeBenchRuns: every benchmark docs/performance.md places in a package
// (`BenchmarkX` (`dir`…) exists there and is run by make bench, every benchmark make bench runs is
// named on the page, the benchmarks the page calls first come first, and the default run counts are
// the page's. A reader runs `make bench` and reads its figures against this page.
func TestPerformanceDocNamesWhatMakeBenchRuns(t *testing.T) {
	doc := performanceDoc(t)
	runs, recipe := makeBench(t)
	placed := regexp.MustCompile("`(Benchmark\\w+)` \\(`([\\w/]+)`").FindAllStringSubmatch(doc, -1)
	if len(placed) == 0 {
		t.Fatal("docs/performance.md places no benchmark in a package")
	}
	named := map[string]bool{}
	for _, p := range placed {
		name, dir := p[1], p[2]
		if info, err := os.Stat(dir); err != nil || !info.IsDir() {
			// Not a package but a case of the benchmark, as in `BenchmarkRenderBase` (`again`).
			continue
		}
		named[name] = true
		if !definedIn(t, dir, name) {
			t.Errorf("docs/performance.md places %s in %s, which has no func %s", name, dir, name)
		}
		run := false
		for _, r := range runs {
			if matched, _ := regexp.MatchString(r.pattern, name); matched && r.dir == dir {
				run = true
			}
		}
		if !run {
			t.Errorf("docs/performance.md places %s in %s, but make bench does not run it there", name, dir)
		}
	}
	for _, r := range runs {
		found := false
		for name := range named {
			if matched, _ := regexp.MatchString(r.pattern, name); matched {
				found = true
			}
		}
		for _, name := range []string{"BenchmarkApplyToReady", "BenchmarkNoopReconcile"} {
			// The summary table names these two without their package (test/bench).
			if matched, _ := regexp.MatchString(r.pattern, name); matched && r.dir == "test/bench" && strings.Contains(doc, "`"+name+"`") &&
				definedIn(t, r.dir, name) {
				found = true
			}
		}
		if !found {
			t.Errorf("make bench runs -bench %s in ./%s/, which docs/performance.md does not name", r.pattern, r.dir)
		}
	}

	if !strings.Contains(doc, "`BenchmarkRenderBase` (`internal/helm`, a pure benchmark, first in `make bench`)") {
		t.Error("docs/performance.md no longer calls BenchmarkRenderBase the first of make bench")
	}
	if first := runs[0]; first.dir != "internal/helm" || !regexp.MustCompile(first.pattern).MatchString("BenchmarkRenderBase") {
		t.Errorf("docs/performance.md calls BenchmarkRenderBase the first of make bench; the first is -bench %s in ./%s/", first.pattern, first.dir)
	}
	if !strings.Contains(doc, "`BenchmarkInstall` (`test/install`, the first of `make bench`'s benchmarks on a cluster, after the pure ones)") {
		t.Error("docs/performance.md does not call BenchmarkInstall the first of make bench's benchmarks on a cluster, after the pure ones")
	}
	for i, r := range runs {
		if !r.tagged {
			continue
		}
		if r.dir != "test/install" || i == 0 {
			t.Errorf("docs/performance.md calls BenchmarkInstall the first of make bench's benchmarks on a cluster, after the pure ones; the first is -bench %s in ./%s/, run %d of make bench", r.pattern, r.dir, i+1)
		}
		break
	}

	defaults := regexp.MustCompile(`\$\$\{(\w+_RUNS):-(\d+)\}`).FindAllStringSubmatch(recipe, -1)
	if len(defaults) == 0 {
		t.Fatal("the bench target has no run counts of its own (READY_RUNS, NOOP_RUNS)")
	}
	var said []string
	for _, d := range defaults {
		said = append(said, d[1]+"="+d[2])
	}
	if phrase := "# all of them; " + strings.Join(said, " ") + " by default"; !strings.Contains(doc, phrase) {
		t.Errorf("docs/performance.md does not say %q, the bench target's defaults", phrase)
	}
}

// definedIn tells whether a Go file of dir (any build tag) declares func name.
func definedIn(t *testing.T, dir, name string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(src), "\nfunc "+name+"(") {
			return true
		}
	}
	return false
}

// TestPerformanceDocCountsTheAPIGroups: docs/performance.md counts the API group versions a plain build
// links, those the image's build links (imageAPIGroups) and those it leaves out. A dependency update
// that links another group, or an entry added to imageAPIGroups, changes these counts.
func TestPerformanceDocCountsTheAPIGroups(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	plain := 0
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, "k8s.io/api/") {
			plain++
		}
	}
	doc := performanceDoc(t)
	m := regexp.MustCompile("of the (\\d+) API group versions of `k8s.io/api` a plain build links \\(`go list -deps .`\\), the trimmed build links (\\d+) \\(`imageAPIGroups` in `deps_test.go`; `go run ./hack/trimdeps -list`\\), so (\\d+) are left out").FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/performance.md no longer counts the API groups the plain and the trimmed build link")
	}
	count := func(s string) int { n, _ := strconv.Atoi(s); return n }
	if count(m[1]) != plain {
		t.Errorf("docs/performance.md says a plain build links %s API group versions; go list -deps . lists %d", m[1], plain)
	}
	if count(m[2]) != len(imageAPIGroups) {
		t.Errorf("docs/performance.md says the trimmed build links %s API group versions; imageAPIGroups has %d", m[2], len(imageAPIGroups))
	}
	if count(m[3]) != plain-len(imageAPIGroups) {
		t.Errorf("docs/performance.md says %s API group versions are left out; %d less %d is %d", m[3], plain, len(imageAPIGroups), plain-len(imageAPIGroups))
	}
	if !strings.Contains(doc, "Every build before linked all "+strconv.Itoa(plain)+".") {
		t.Errorf("docs/performance.md does not say that every build before linked all %d", plain)
	}
}

// TestPerformanceDocCommandsRunAsMakeBenchDoes: each go test command docs/performance.md gives for a
// benchmark names a benchmark of its package, with the build tags make bench gives that package and a
// timeout at least as long as make bench's (go test's default of 10 minutes ends the scale benchmark
// before its two clusters are through).
func TestPerformanceDocCommandsRunAsMakeBenchDoes(t *testing.T) {
	runs, _ := makeBench(t)
	page, err := os.ReadFile("docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	commands := 0
	for line := range strings.SplitSeq(string(page), "\n") {
		if !strings.HasPrefix(line, "$ ") || !strings.Contains(line, "go test ") || !strings.Contains(line, "-bench ") {
			continue
		}
		commands++
		doc := parseBenchRun(t, line)
		var bench *benchRun
		for i, r := range runs {
			if r.dir == doc.dir && r.pattern == doc.pattern {
				bench = &runs[i]
			}
		}
		if bench == nil {
			t.Errorf("docs/performance.md runs -bench %s in ./%s/, which make bench does not", doc.pattern, doc.dir)
			continue
		}
		if doc.tags != bench.tags {
			t.Errorf("docs/performance.md runs -bench %s in ./%s/ with tags %q; make bench with %q", doc.pattern, doc.dir, doc.tags, bench.tags)
		}
		if doc.timeout < bench.timeout {
			t.Errorf("docs/performance.md runs -bench %s in ./%s/ with a timeout of %s; make bench gives it %s", doc.pattern, doc.dir, doc.timeout, bench.timeout)
		}
	}
	if commands == 0 {
		t.Fatal("docs/performance.md gives no go test command for a benchmark")
	}
}

// TestPerformanceDocDescribesMakeTest: docs/performance.md#ci says how make test runs the tiers: one
// make -j8 of the five tier groups, the pure tests and the fuzz runs, the fuzz runs with one worker
// each, and the e2e tests E2E_PARALLEL at a time. The CI figures are read against that setup.
func TestPerformanceDocDescribesMakeTest(t *testing.T) {
	makefile, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	_, recipe, found := strings.Cut(string(makefile), "\ntest: ")
	if !found {
		t.Fatal("the Makefile has no test target")
	}
	recipe, _, _ = strings.Cut(recipe, "\n\n")
	m := regexp.MustCompile(`\$\(MAKE\) (-j\d+) --output-sync=target ([^\n]*)`).FindStringSubmatch(recipe)
	if m == nil {
		t.Fatal("make test no longer runs its groups in one parallel make")
	}
	var tiers []string
	workers := ""
	for _, word := range strings.Fields(m[2]) {
		switch {
		case strings.HasPrefix(word, "FUZZ_WORKERS="):
			workers = word
		case strings.HasPrefix(word, "test-") && word != "test-unit":
			tiers = append(tiers, word)
		}
	}
	if !strings.Contains(m[2], "test-unit") || !strings.Contains(m[2], "fuzz ") {
		t.Errorf("make test's %s runs %q: not the pure tests and the fuzz runs beside the tiers", m[1], m[2])
	}
	e2e := regexp.MustCompile(`(?m)^E2E_PARALLEL \?= (\d+)$`).FindStringSubmatch(string(makefile))
	if e2e == nil {
		t.Fatal("the Makefile sets no E2E_PARALLEL")
	}
	words := []string{"no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	count := func(s string) string {
		n, _ := strconv.Atoi(s)
		if n < len(words) {
			return words[n]
		}
		return s
	}
	doc := performanceDoc(t)
	for _, phrase := range []string{
		"`make test` runs the pure tests and the fuzz runs in the same `make " + m[1] + "` as the " + count(strconv.Itoa(len(tiers))) + " tier groups",
		"The short fuzz runs of `make test` use one worker process each (`" + workers + "`",
		"The e2e tests run " + count(e2e[1]) + " at a time (`E2E_PARALLEL`)",
	} {
		if !strings.Contains(doc, phrase) {
			t.Errorf("docs/performance.md does not say %q (make test runs %s with %v, %s; E2E_PARALLEL is %s)", phrase, m[1], tiers, workers, e2e[1])
		}
	}
}
