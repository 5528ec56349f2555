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
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestPerformanceDocCountsTheSchemeAndTheEdits: docs/performance.md says how many API groups the
// trimmed scheme keeps (schemeGroups) of the many client-go's scheme registers, in the version go.mod
// requires, and how many edits trimdeps makes. A client-go update that registers more groups, or an
// edit added or dropped, must change the page too.
func TestPerformanceDocCountsTheSchemeAndTheEdits(t *testing.T) {
	out, err := goCmd("../..", "list", "-m", "-f", "{{.Dir}}", "k8s.io/client-go")
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list -m k8s.io/client-go: %v", err)
	}
	register, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "kubernetes", "scheme", "register.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, builder, found := strings.Cut(string(register), "localSchemeBuilder = runtime.SchemeBuilder{")
	builder, _, _ = strings.Cut(builder, "}")
	registered := strings.Count(builder, ".AddToScheme,")
	if !found || registered == 0 {
		t.Fatal("client-go's kubernetes/scheme/register.go has no localSchemeBuilder to count")
	}

	page, err := os.ReadFile("../../docs/performance.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := strings.Join(strings.Fields(string(page)), " ")
	m := regexp.MustCompile(`its client-go scheme registers (\d+) of the (\d+) that client-go's registers`).FindStringSubmatch(doc)
	if m == nil {
		t.Fatal("docs/performance.md no longer says how many groups the trimmed scheme registers of client-go's")
	}
	if n, _ := strconv.Atoi(m[1]); n != len(schemeGroups) {
		t.Errorf("docs/performance.md says the trimmed scheme registers %d groups; schemeGroups has %d", n, len(schemeGroups))
	}
	if n, _ := strconv.Atoi(m[2]); n != registered {
		t.Errorf("docs/performance.md says client-go's scheme registers %d groups; its localSchemeBuilder has %d", n, registered)
	}
	if phrase := "`kubernetes/scheme`, which controller-runtime's client imports, registers " + strconv.Itoa(registered) + " of them."; !strings.Contains(doc, phrase) {
		t.Errorf("docs/performance.md does not say %q", phrase)
	}
	words := []string{"no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"}
	if len(edits) >= len(words) || !strings.Contains(doc, "makes "+words[len(edits)]+" edits to the vendored copies") {
		t.Errorf("docs/performance.md does not say that trimdeps makes %d edits to the vendored copies", len(edits))
	}
}
