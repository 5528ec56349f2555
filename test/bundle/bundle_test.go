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

// Package bundle tests the committed OLM bundle (bundle/, bundle.Dockerfile): that it is what `make
// bundle` generates from the current sources, that operator-framework's own validators
// (github.com/operator-framework/api pkg/validation, what `operator-sdk bundle validate
// --select-optional suite=operatorframework` runs) find no fault in it, that it keeps meshkeeper's own
// rules (rules_test.go), and that a real API server accepts its CRD, its examples and the objects OLM
// would create from it.
package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/internal/testutil"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// manifest is one file of bundle/manifests and the objects it holds.
type manifest struct {
	path    string
	objects []*unstructured.Unstructured
}

// bundle is a bundle parsed from its files, which are keyed like generator.Files.
type bundle struct {
	files       generator.Files
	annotations map[string]string
	csv         *operatorsv1alpha1.ClusterServiceVersion
	manifests   []manifest
	crds        []*apiextensionsv1.CustomResourceDefinition
}

// readBundle reads every file of the committed bundle: all of bundle/, whatever it holds, and the two
// files at the root.
func readBundle(root string) (generator.Files, error) {
	files := generator.Files{}
	err := filepath.WalkDir(filepath.Join(root, generator.BundleDir), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)], err = os.ReadFile(path)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading the bundle (run 'make bundle'): %w", err)
	}
	for _, name := range []string{generator.DockerfilePath, generator.DockerignorePath} {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			return nil, fmt.Errorf("reading the bundle (run 'make bundle'): %w", err)
		}
		files[name] = data
	}
	return files, nil
}

// parse decodes files. It fails only when the files cannot be read as a bundle at all; everything
// else is for the validators and rules to find.
func parse(files generator.Files) (*bundle, error) {
	b := &bundle{files: files}
	var meta struct {
		Annotations map[string]string `json:"annotations"`
	}
	if err := yaml.UnmarshalStrict(files[generator.AnnotationsPath], &meta); err != nil {
		return nil, fmt.Errorf("%s: %w", generator.AnnotationsPath, err)
	}
	b.annotations = meta.Annotations
	for _, path := range files.Paths() {
		if !strings.HasPrefix(path, generator.ManifestsDir+"/") {
			continue
		}
		m := manifest{path: path}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(files[path]), 4096)
		for {
			obj := map[string]any{}
			if err := decoder.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if len(obj) > 0 {
				m.objects = append(m.objects, &unstructured.Unstructured{Object: obj})
			}
		}
		b.manifests = append(b.manifests, m)
		if len(m.objects) != 1 {
			continue
		}
		switch m.objects[0].GetKind() {
		case operatorsv1alpha1.ClusterServiceVersionKind:
			if b.csv != nil {
				return nil, fmt.Errorf("%s: a second ClusterServiceVersion", path)
			}
			// Strict: a field OLM's CSV type does not have is a typo OLM would drop.
			b.csv = &operatorsv1alpha1.ClusterServiceVersion{}
			if err := yaml.UnmarshalStrict(files[path], b.csv); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
		case "CustomResourceDefinition":
			crd := &apiextensionsv1.CustomResourceDefinition{}
			if err := yaml.UnmarshalStrict(files[path], crd); err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			b.crds = append(b.crds, crd)
		}
	}
	if b.csv == nil {
		return nil, fmt.Errorf("%s holds no ClusterServiceVersion", generator.ManifestsDir)
	}
	return b, nil
}

// csvPath is the file of the bundle's CSV.
func (b *bundle) csvPath() string {
	for _, m := range b.manifests {
		if len(m.objects) == 1 && m.objects[0].GetKind() == operatorsv1alpha1.ClusterServiceVersionKind {
			return m.path
		}
	}
	return ""
}

// withCSV writes csv back into b's files, as the generator would, and parses them again.
func (b *bundle) withCSV(t *testing.T, csv *operatorsv1alpha1.ClusterServiceVersion) *bundle {
	t.Helper()
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(csv)
	if err != nil {
		t.Fatal(err)
	}
	delete(obj, "status")
	data, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	files := b.clone()
	files[b.csvPath()] = data
	out, err := parse(files)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *bundle) clone() generator.Files {
	files := generator.Files{}
	for path, data := range b.files {
		files[path] = bytes.Clone(data)
	}
	return files
}

// writeBundle writes files below a new directory and returns the bundle directory in it, for the
// loaders that read a bundle from disk.
func writeBundle(t *testing.T, files generator.Files) string {
	t.Helper()
	root := t.TempDir()
	for path, data := range files {
		full := filepath.Join(root, filepath.FromSlash(path))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(root, generator.BundleDir)
}

func committedBundle(t *testing.T) *bundle {
	t.Helper()
	files, err := readBundle(testenv.RepoRoot())
	if err != nil {
		t.Fatal(err)
	}
	b, err := parse(files)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// generatedBundle is the bundle generated from the current sources with the committed bundle's release
// inputs, generated once per test binary: rendering the built-in charts for the owned kinds makes a
// generation the slowest step of these tests.
var generatedBundle = sync.OnceValues(func() (generator.Files, error) {
	files, err := readBundle(testenv.RepoRoot())
	if err != nil {
		return nil, err
	}
	committed, err := parse(files)
	if err != nil {
		return nil, err
	}
	return generator.Generate(testenv.RepoRoot(), optionsOf(committed))
})

// optionsOf are the release inputs the committed bundle was generated with, read back from it.
func optionsOf(b *bundle) generator.Options {
	return generator.Options{
		Version:        b.csv.Spec.Version.String(),
		Image:          b.csv.Annotations[generator.AnnotationContainerImage],
		Channels:       strings.Split(b.annotations[generator.ChannelsLabel], ","),
		DefaultChannel: b.annotations[generator.ChannelDefaultLabel],
		CreatedAt:      b.csv.Annotations[generator.AnnotationCreatedAt],
	}
}

// TestBundleIsFresh generates the bundle from the current sources with the release inputs of the
// committed one and fails when any file differs, is missing or is left over: a change to config/, the
// CRD, the sample, the chart's kubeVersion, the built-in Istio charts or hack/bundle that was not
// followed by `make bundle`.
func TestBundleIsFresh(t *testing.T) {
	t.Parallel()
	committed := committedBundle(t)
	opts := optionsOf(committed)
	generated, err := generatedBundle()
	if err != nil {
		t.Fatal(err)
	}
	regenerate := fmt.Sprintf("run 'make bundle VERSION=%s IMG=%s CHANNELS=%s DEFAULT_CHANNEL=%s CREATED_AT=%s' and commit the result",
		opts.Version, opts.Image, strings.Join(opts.Channels, ","), opts.DefaultChannel, opts.CreatedAt)
	for _, path := range generated.Paths() {
		got, ok := committed.files[path]
		switch {
		case !ok:
			t.Errorf("%s is missing: %s", path, regenerate)
		case !bytes.Equal(got, generated[path]):
			t.Errorf("%s is stale (%s): %s", path, testutil.FirstDifference(generated[path], got), regenerate)
		}
	}
	for _, path := range committed.files.Paths() {
		if _, ok := generated[path]; !ok {
			t.Errorf("%s is not generated any more: %s", path, regenerate)
		}
	}
}

// TestGenerateIsDeterministic generates twice and compares: a map iterated in random order or a clock
// read would make every `make bundle` a diff.
func TestGenerateIsDeterministic(t *testing.T) {
	t.Parallel()
	opts := optionsOf(committedBundle(t))
	first, err := generatedBundle()
	if err != nil {
		t.Fatal(err)
	}
	second, err := generator.Generate(testenv.RepoRoot(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(first.Paths(), " ") != strings.Join(second.Paths(), " ") {
		t.Fatalf("two runs generated different files: %v and %v", first.Paths(), second.Paths())
	}
	for _, path := range first.Paths() {
		if !bytes.Equal(first[path], second[path]) {
			t.Errorf("two runs generated different %s: %s", path, testutil.FirstDifference(first[path], second[path]))
		}
	}
}

// TestGeneratorRejectsUnpinnedImages: the generator refuses what the rules would reject, so `make
// bundle IMG=...:latest` fails at once rather than in the tests.
func TestGeneratorRejectsUnpinnedImages(t *testing.T) {
	opts := optionsOf(committedBundle(t))
	for _, image := range []string{"ghcr.io/meshkeeper/meshkeeper", "ghcr.io/meshkeeper/meshkeeper:latest", "not a reference"} {
		opts.Image = image
		if _, err := generator.Generate(testenv.RepoRoot(), opts); err == nil {
			t.Errorf("Generate accepted the image %q", image)
		}
	}
}
