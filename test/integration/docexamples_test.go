//go:build envtest

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

package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// The ServiceMesh examples of the documentation are what users copy, so each must be one the CRD as
// shipped accepts: its schema and its CEL rules, as the API server runs them. The examples are read
// from the fenced ```yaml blocks of README.md and docs/*.md, and from config/samples/*.yaml (a file
// is one block); a block may hold several documents separated by "---". Each document is:
//
//   - a whole ServiceMesh (apiVersion mesh.meshkeeper.io/..., with its kind): applied as written;
//   - a fragment that holds only "spec:": the docs show a ServiceMesh's spec that way, ServiceMesh
//     being the one kind they show fragments of, so it is applied as the spec of a ServiceMesh named
//     default (a fragment of another kind's spec needs its apiVersion and kind to be told apart);
//   - skipped otherwise, and counted: objects of other groups (Namespaces, Flux and Argo CD objects,
//     which name ServiceMesh only inside their own fields), fragments that hold only "status:"
//     (written by meshkeeper, never applied), and other YAML without an apiVersion (a
//     kustomization.yaml).
//
// An example the docs show being refused, to explain what validation rejects, is preceded by the
// HTML comment <!-- rejected --> (or <!-- rejected: part of the API server's message -->) on the
// nearest non-blank line before its fence, which a rendered page does not show; its documents must
// then be refused, with that message when it is given.
//
// Each is applied with a server-side dry run: the API server validates it as a create, and nothing is
// stored, so the examples do not depend on one another. A ServiceMesh named default that another spec
// left behind is no failure: the API server answers AlreadyExists only for an object it has validated.
var _ = Describe("The documentation's ServiceMesh examples", func() {
	It("are accepted by the CRD, except those marked rejected", func() {
		root := testenv.RepoRoot()
		var sources []string
		for _, pattern := range []string{"README.md", "docs/*.md", "config/samples/*.yaml"} {
			matches, err := filepath.Glob(filepath.Join(root, pattern))
			Expect(err).NotTo(HaveOccurred())
			sources = append(sources, matches...)
		}

		var examples []docExample
		for _, path := range sources {
			text, err := os.ReadFile(path)
			Expect(err).NotTo(HaveOccurred())
			rel, err := filepath.Rel(root, path)
			Expect(err).NotTo(HaveOccurred())
			if strings.HasSuffix(path, ".md") {
				examples = append(examples, markdownYAMLBlocks(rel, string(text))...)
			} else {
				examples = append(examples, docExample{file: rel, line: 1, firstLine: 1, text: string(text)})
			}
		}

		var failures, skipped []string
		checked, fromSamples := 0, 0
		for _, ex := range examples {
			for _, doc := range ex.documents() {
				where := fmt.Sprintf("%s:%d", ex.file, doc.line)
				obj, skip, err := meshObject(doc.text)
				if err != nil {
					failures = append(failures, fmt.Sprintf("%s (block at line %d): not YAML: %v", where, ex.line, err))
					continue
				}
				if skip != "" {
					skipped = append(skipped, where+": "+skip)
					continue
				}
				checked++
				if strings.HasPrefix(ex.file, "config/samples/") {
					fromSamples++
				}
				err = k8sClient.Create(ctx, obj, client.DryRunAll)
				if apierrors.IsAlreadyExists(err) {
					err = nil
				}
				switch {
				case !ex.rejected && err != nil:
					failures = append(failures, fmt.Sprintf("%s (block at line %d): the API server refuses this example:\n    %v",
						where, ex.line, err))
				case ex.rejected && err == nil:
					failures = append(failures, fmt.Sprintf("%s (block at line %d): marked <!-- rejected -->, but the API server accepts it",
						where, ex.line))
				case ex.rejected && !strings.Contains(err.Error(), ex.message):
					failures = append(failures, fmt.Sprintf("%s (block at line %d): refused, but not with %q:\n    %v",
						where, ex.line, ex.message, err))
				}
			}
		}
		GinkgoWriter.Printf("checked %d ServiceMesh examples; skipped %d documents:\n  %s\n",
			checked, len(skipped), strings.Join(skipped, "\n  "))

		// An extraction that finds nothing would pass; the README and the sample each have a whole
		// ServiceMesh.
		Expect(checked).To(BeNumerically(">", 1), "found no ServiceMesh example: is the extraction broken?")
		Expect(fromSamples).To(BeNumerically(">", 0), "found no ServiceMesh in config/samples")
		if len(failures) > 0 {
			Fail("documentation examples the CRD does not treat as documented:\n" + strings.Join(failures, "\n"))
		}
	})
})

// docExample is a fenced yaml block of a Markdown file, or a whole YAML file.
type docExample struct {
	file string
	// line is the block's opening fence, and firstLine the line its YAML starts on (both 1 for a file).
	line, firstLine int
	text            string
	rejected        bool
	message         string
}

// yamlFence opens a yaml block, indented when the block sits in a list item; anyFence opens or closes
// any block; rejectedMarks is the marker of an example shown being refused.
var (
	yamlFence     = regexp.MustCompile("^(\\s*)```+\\s*ya?ml\\b")
	anyFence      = regexp.MustCompile("^\\s*```")
	rejectedMarks = regexp.MustCompile(`^<!--\s*rejected(?::\s*(.*?))?\s*-->$`)
)

// markdownYAMLBlocks returns the ```yaml (or ```yml) blocks of a Markdown file, the indentation of
// their fence taken off their lines.
func markdownYAMLBlocks(file, text string) []docExample {
	lines := strings.Split(text, "\n")
	var blocks []docExample
	for i := 0; i < len(lines); i++ {
		if !anyFence.MatchString(lines[i]) {
			continue
		}
		m := yamlFence.FindStringSubmatch(lines[i])
		start := i
		var body []string
		for i++; i < len(lines) && !anyFence.MatchString(lines[i]); i++ {
			if m != nil {
				body = append(body, strings.TrimPrefix(lines[i], m[1]))
			}
		}
		if m == nil {
			continue // another language's block; skipped whole, so its lines are never taken for fences
		}
		ex := docExample{file: file, line: start + 1, firstLine: start + 2, text: strings.Join(body, "\n")}
		for j := start - 1; j >= 0; j-- {
			if prev := strings.TrimSpace(lines[j]); prev != "" {
				if mark := rejectedMarks.FindStringSubmatch(prev); mark != nil {
					ex.rejected, ex.message = true, mark[1]
				}
				break
			}
		}
		blocks = append(blocks, ex)
	}
	return blocks
}

type yamlDocument struct {
	line int
	text string
}

// documents splits the block at its "---" lines, each document with the line of the file it starts on.
func (ex docExample) documents() []yamlDocument {
	first := ex.firstLine
	var docs []yamlDocument
	cur := yamlDocument{line: first}
	var body []string
	for i, l := range strings.Split(ex.text, "\n") {
		if strings.TrimRight(l, " \t") == "---" {
			cur.text = strings.Join(body, "\n")
			docs = append(docs, cur)
			cur, body = yamlDocument{line: first + i + 1}, nil
			continue
		}
		body = append(body, l)
	}
	cur.text = strings.Join(body, "\n")
	return append(docs, cur)
}

// meshObject returns the ServiceMesh a document shows, or why the document is skipped.
func meshObject(text string) (*unstructured.Unstructured, string, error) {
	var parsed any
	if err := yaml.Unmarshal([]byte(text), &parsed); err != nil {
		return nil, "", err
	}
	doc, ok := parsed.(map[string]any)
	if !ok || len(doc) == 0 {
		return nil, "not an object", nil
	}
	apiVersion, _ := doc["apiVersion"].(string)
	kind, _ := doc["kind"].(string)
	keys := make([]string, 0, len(doc))
	for k := range doc {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	switch {
	case strings.HasPrefix(apiVersion, meshv1alpha1.GroupVersion.Group+"/") && kind != "":
		return &unstructured.Unstructured{Object: doc}, "", nil
	case apiVersion != "":
		return nil, fmt.Sprintf("a %s of %s, not meshkeeper's", kind, apiVersion), nil
	case slices.Equal(keys, []string{"spec"}):
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": meshv1alpha1.GroupVersion.String(),
			"kind":       "ServiceMesh",
			"metadata":   map[string]any{"name": meshv1alpha1.ServiceMeshName},
			"spec":       doc["spec"],
		}}, "", nil
	case slices.Equal(keys, []string{"status"}):
		return nil, "a status, which meshkeeper writes", nil
	default:
		return nil, fmt.Sprintf("no apiVersion, and not a spec alone (keys %v)", keys), nil
	}
}
