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

package bundle

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// TestInstallYAMLAppliesInOneGo applies the release's install.yaml, as `make release-artifacts` writes
// it, to a fresh API server the way `kubectl apply --server-side -f install.yaml` does: object after
// object, in the file's order, with nothing installed before. kubectl does not reorder a file, so every
// object must come after the Namespace it lives in; one that comes first is refused and the install
// documented as a single command leaves the manager without its ServiceAccount or roles.
func TestInstallYAMLAppliesInOneGo(t *testing.T) {
	root := testenv.RepoRoot()
	out := t.TempDir()
	build := exec.Command("go", "build", "-o", filepath.Join(out, "release"), "./hack/release")
	build.Dir = root
	if output, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building hack/release: %v\n%s", err, output)
	}
	run := exec.Command(filepath.Join(out, "release"), "-version", "0.1.0", "-out", out)
	run.Dir = root
	if output, err := run.CombinedOutput(); err != nil {
		t.Fatalf("hack/release: %v\n%s", err, output)
	}
	data, err := os.ReadFile(filepath.Join(out, "install.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var objects []*unstructured.Unstructured
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("install.yaml: %v", err)
		}
		if len(obj) > 0 {
			objects = append(objects, &unstructured.Unstructured{Object: obj})
		}
	}
	if len(objects) == 0 {
		t.Fatal("install.yaml holds no object")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env := testenv.Start(t, testenv.WithoutCRDs())
	for _, u := range objects {
		what := u.GetKind() + " " + u.GetName()
		if ns := u.GetNamespace(); ns != "" {
			what += " in " + ns
		}
		if err := env.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
			client.FieldOwner("kubectl"), client.ForceOwnership); err != nil {
			t.Errorf("kubectl apply --server-side -f install.yaml: %s: %v", what, err)
		}
	}
}
