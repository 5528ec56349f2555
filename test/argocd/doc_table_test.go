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
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// docReason is a name in backticks in a cell of docs/argocd.md.
var docReason = regexp.MustCompile("`([A-Za-z]+)`")

// TestStatusTableAgreesWithTheCheck: every reason of Ready that the table of docs/argocd.md under "What
// the statuses mean" names in a row is answered by the check with that row's status, as readyReasons,
// which TestEveryReasonOfReadyHasItsHealth runs the check with, says (or Progressing for one of
// restartingReasons, which meshkeeper's restarts may clear). A user reads the table to know
// whether a sync waits on a reason or fails on it.
func TestStatusTableAgreesWithTheCheck(t *testing.T) {
	f, err := os.Open(filepath.Join("..", "..", "docs", "argocd.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	section, rows := false, 0
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		line := scanner.Text()
		if strings.HasPrefix(line, "#") {
			section = line == "## What the statuses mean"
			continue
		}
		cells := strings.Split(line, "|")
		if !section || len(cells) < 4 {
			continue
		}
		status := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if status != "Progressing" && status != "Degraded" {
			continue
		}
		rows++
		for _, m := range docReason.FindAllStringSubmatch(cells[2], -1) {
			want, known := readyReasons[m[1]]
			if !known || want == "" {
				continue // a condition, a field or a reason of no health of its own
			}
			if want != status && (status != "Progressing" || !restartingReasons[m[1]]) {
				t.Errorf("docs/argocd.md gives %s the status %s, but the check answers it %s", m[1], status, want)
			}
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	if rows == 0 {
		t.Fatal(`docs/argocd.md has no row of Progressing or Degraded under "## What the statuses mean"`)
	}
}
