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
	"path"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/revision"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestDescriptionNamesTheImagesToMirror checks the advice OperatorHub shows before an install: in a
// disconnected cluster, the description tells the installer which Istio images to mirror. A ServiceMesh
// with the defaults pulls every Istio image of relatedImages (the CNI agent's as well: a new mesh runs
// it), so the description names each of them; one it leaves out is never mirrored, and its pods cannot
// pull it.
func TestDescriptionNamesTheImagesToMirror(t *testing.T) {
	b := committedBundle(t)
	description := b.csv.Spec.Description
	_, advice, found := strings.Cut(description, "disconnected cluster")
	if !found {
		t.Fatalf("the CSV's description says nothing about a disconnected cluster:\n%s", description)
	}
	advice, _, _ = strings.Cut(advice, "\n\n")
	manager := b.csv.Annotations[generator.AnnotationContainerImage]
	istio := 0
	for _, related := range b.csv.Spec.RelatedImages {
		if related.Image == manager {
			continue
		}
		istio++
		name, _, _ := strings.Cut(path.Base(related.Image), "@")
		name, _, _ = strings.Cut(name, ":")
		if !strings.Contains(advice, "`"+name+"`") {
			t.Errorf("the description's advice for a disconnected cluster does not name `%s` (%s, a related image):%s",
				name, related.Image, advice)
		}
	}
	if istio == 0 {
		t.Fatal("relatedImages lists no Istio image; this check would prove nothing")
	}
}

// TestDescriptionAllowsTheMirror checks the rest of that advice: a mirror outside the image hubs the
// installer allowed is refused (ImageHubNotAllowed), so the description says to allow it, with the
// environment variable a Subscription sets (main.go's), and docs/install.md says the same with the
// chart's value too. Advice that stops at spec.images.hub leaves a disconnected mesh refused.
func TestDescriptionAllowsTheMirror(t *testing.T) {
	b := committedBundle(t)
	_, advice, _ := strings.Cut(b.csv.Spec.Description, "disconnected cluster")
	advice, _, _ = strings.Cut(advice, "\n\n")
	mainGo, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	env := regexp.MustCompile(`envAllowedHubs\s*=\s*"([A-Z_]+)"`).FindSubmatch(mainGo)
	if env == nil {
		t.Fatal("main.go has no envAllowedHubs constant")
	}
	for _, want := range []string{"`" + string(env[1]) + "`", "`" + meshv1alpha1.ReasonImageHubNotAllowed + "`"} {
		if !strings.Contains(advice, want) {
			t.Errorf("the description's advice for a disconnected cluster does not name %s:%s", want, advice)
		}
	}

	install, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, advice, found := strings.Cut(string(install), "in a disconnected")
	if !found {
		t.Fatal("docs/install.md says nothing about a disconnected cluster")
	}
	advice, _, _ = strings.Cut(advice, "\n- ")
	for _, want := range []string{"`--allowed-image-hubs`", "`allowedImageHubs`", "`" + meshv1alpha1.ReasonImageHubNotAllowed + "`"} {
		if !strings.Contains(advice, want) {
			t.Errorf("docs/install.md's advice for a disconnected cluster does not name %s:%s", want, advice)
		}
	}
}

// TestDescriptionSaysWhereTheBuiltinIstioRuns checks the Kubernetes versions the description and
// docs/install.md give before an install: meshkeeper's own (the CSV's minKubeVersion), and the range
// the upgrade gate holds the built-in Istio to. Saying only the first sends an installer on a version
// outside the range to a ServiceMesh that installs nothing (UpgradeNotSupported).
func TestDescriptionSaysWhereTheBuiltinIstioRuns(t *testing.T) {
	b := committedBundle(t)
	lowest, highest := -1, -1
	for minor := 0; minor < 100; minor++ {
		if revision.Gate(revision.GateInput{Target: charts.BuiltinVersion, Kubernetes: fmt.Sprintf("1.%d", minor)}) == "" {
			highest = minor
			if lowest < 0 {
				lowest = minor
			}
		}
	}
	if lowest <= 0 || highest >= 99 {
		t.Fatalf("the upgrade gate holds Istio %s to no range of Kubernetes versions (1.%d to 1.%d); add it to internal/revision",
			charts.BuiltinVersion, lowest, highest)
	}
	want := []string{
		fmt.Sprintf("Kubernetes %s or later", strings.TrimSuffix(b.csv.Spec.MinKubeVersion, ".0")),
		fmt.Sprintf("Kubernetes 1.%d to 1.%d", lowest, highest),
		"`" + meshv1alpha1.ReasonUpgradeNotSupported + "`",
	}
	// The description's "Before you install", and docs/install.md's first paragraph, as one line each.
	_, before, _ := strings.Cut(b.csv.Spec.Description, "## Before you install")
	before, _, _ = strings.Cut(before, "\n##")
	install, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, intro, _ := strings.Cut(string(install), "\n\n")
	intro, _, _ = strings.Cut(intro, "\n\n")
	for name, text := range map[string]string{"the description": before, "docs/install.md": intro} {
		text = strings.Join(strings.Fields(text), " ")
		for _, w := range want {
			if !strings.Contains(text, w) {
				t.Errorf("%s does not say %q: %s", name, w, text)
			}
		}
	}
}
