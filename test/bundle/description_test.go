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
	"path"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
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
