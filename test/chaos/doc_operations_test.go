//go:build cluster

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

package chaos

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// docOperationName is an operation's name in the first cell of a row of the table of operations.
var docOperationName = regexp.MustCompile("`([a-z-]+)`")

// TestDocListsEveryOperation: the table of operations under "## Random sequences" in
// docs/reliability.md names exactly the operations TestRandomSequences draws, so that a reader of the
// doc, or of a failed sequence's log, knows every step a sequence can take.
func TestDocListsEveryOperation(t *testing.T) {
	f, err := os.Open(filepath.Join(testenv.RepoRoot(), "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var documented []string
	section, inTable := false, false
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		line := scanner.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			section = line == "## Random sequences (`TestRandomSequences`)"
		case section && strings.HasPrefix(line, "| operation |"):
			inTable = true
		case inTable && !strings.HasPrefix(line, "|"):
			inTable, section = false, false
		case inTable && !strings.HasPrefix(line, "|---"):
			first := strings.SplitN(strings.TrimPrefix(line, "|"), "|", 2)[0]
			for _, m := range docOperationName.FindAllStringSubmatch(first, -1) {
				documented = append(documented, m[1])
			}
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	var drawn []string
	for _, op := range operations {
		drawn = append(drawn, op.name)
	}
	slices.Sort(documented)
	slices.Sort(drawn)
	if !slices.Equal(documented, drawn) {
		t.Errorf("docs/reliability.md lists the operations %v, TestRandomSequences draws %v", documented, drawn)
	}
}
