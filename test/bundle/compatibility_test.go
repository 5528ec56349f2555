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

package bundle

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// compatibilityRow is the row of docs/compatibility.md that describes the tree as it is, whose
// "Kubernetes (meshkeeper itself)" column is what the bundle must let OLM install on.
const compatibilityRow = "unreleased"

// kubernetesColumn is the header of that column.
const kubernetesColumn = "Kubernetes (meshkeeper itself)"

// TestMinKubeVersionIsTheDocumented checks the CSV's minKubeVersion against docs/compatibility.md: the
// lowest Kubernetes version of the row for the current tree, and the version the page quotes for the
// bundle. OLM refuses to install the bundle below minKubeVersion, so a bundle that says less than the
// page lets meshkeeper onto a cluster whose API server refuses its CRD, and one that says more keeps it
// off clusters the page promises.
func TestMinKubeVersionIsTheDocumented(t *testing.T) {
	b := committedBundle(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, problem := range minKubeVersionProblems(string(data), b.csv.Spec.MinKubeVersion) {
		t.Error(problem)
	}
}

// TestMinKubeVersionCheckCanFail proves the check tells: a page that moves the row's Kubernetes
// version, or quotes another minKubeVersion, each disagree with the committed bundle.
func TestMinKubeVersionCheckCanFail(t *testing.T) {
	b := committedBundle(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	page, minKube := string(data), b.csv.Spec.MinKubeVersion
	minor := strings.TrimSuffix(minKube, ".0")
	laterRow := regexp.MustCompile(`(?m)^(\| ` + compatibilityRow + ` \|.*?\| )` + regexp.QuoteMeta(minor) + ` and later`)
	for name, changed := range map[string]string{
		"the row says a later version": laterRow.ReplaceAllString(page, "${1}1.99 and later"),
		"the quoted minKubeVersion":    strings.Replace(page, "`minKubeVersion` (`"+minKube+"`)", "`minKubeVersion` (`1.99.0`)", 1),
	} {
		if changed == page {
			t.Fatalf("%s: the page was not changed; the check cannot be shown to fail", name)
		}
		if problems := minKubeVersionProblems(changed, minKube); len(problems) == 0 {
			t.Errorf("%s: the check found nothing wrong", name)
		}
	}
}

// minKubeVersionProblems says how page, docs/compatibility.md, disagrees with minKubeVersion.
func minKubeVersionProblems(page, minKubeVersion string) []string {
	column := -1
	var cells []string
	for _, line := range strings.Split(page, "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		row := strings.Split(strings.Trim(line, "|"), "|")
		for i := range row {
			row[i] = strings.TrimSpace(row[i])
		}
		if column < 0 {
			for i, header := range row {
				if header == kubernetesColumn {
					column = i
				}
			}
			continue
		}
		if row[0] == compatibilityRow {
			cells = row
			break
		}
	}
	if column < 0 || cells == nil || column >= len(cells) {
		return []string{fmt.Sprintf("docs/compatibility.md has no table with a %q column and a %q row", kubernetesColumn, compatibilityRow)}
	}
	var problems []string
	documented := regexp.MustCompile(`^([0-9]+\.[0-9]+) and later`).FindStringSubmatch(cells[column])
	switch {
	case documented == nil:
		problems = append(problems, fmt.Sprintf("docs/compatibility.md, row %q: %q does not read \"X.Y and later\"", compatibilityRow, cells[column]))
	case minKubeVersion != documented[1]+".0":
		problems = append(problems, fmt.Sprintf("the CSV's minKubeVersion is %q, but docs/compatibility.md says meshkeeper runs on Kubernetes %s: want %q",
			minKubeVersion, cells[column], documented[1]+".0"))
	}
	quoted := regexp.MustCompile("OLM bundle's `minKubeVersion` \\(`([^`]+)`\\)").FindStringSubmatch(page)
	switch {
	case quoted == nil:
		problems = append(problems, "docs/compatibility.md no longer quotes the OLM bundle's minKubeVersion")
	case quoted[1] != minKubeVersion:
		problems = append(problems, fmt.Sprintf("docs/compatibility.md quotes the bundle's minKubeVersion as %q, the CSV has %q", quoted[1], minKubeVersion))
	}
	return problems
}
