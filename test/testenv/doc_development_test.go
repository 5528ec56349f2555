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
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestDevelopmentCountsTheFuzzTargets checks the number of short fuzz runs docs/development.md gives
// against the Makefile's FUZZ_TARGETS: make fuzz runs each target once, so a target added to the
// Makefile is one more run the page must count.
func TestDevelopmentCountsTheFuzzTargets(t *testing.T) {
	targets := makefilePackages(t, filepath.Join(RepoRoot(), "Makefile"))["FUZZ_TARGETS"]
	if len(targets) == 0 {
		t.Fatal("the Makefile lists no FUZZ_TARGETS")
	}
	page, err := os.ReadFile(filepath.Join(RepoRoot(), "docs", "development.md"))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(page)), " ")
	m := regexp.MustCompile(`the (\d+) short runs`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal(`docs/development.md no longer says how many short fuzz runs there are ("the N short runs")`)
	}
	if n, _ := strconv.Atoi(m[1]); n != len(targets) {
		t.Errorf("docs/development.md counts %d short fuzz runs, but the Makefile's FUZZ_TARGETS lists %d targets", n, len(targets))
	}
}
