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
	"strings"
	"testing"
)

const broadcaster = `package events

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	clientset "k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"
)

// Keep stays.
func Keep(ctx context.Context) corev1.Event {
	klog.FromContext(ctx).Info("kept")
	return corev1.Event{}
}

// Adapter goes,
// with both lines of its comment.
func Adapter(client clientset.Interface) {
	AdapterWithContext(context.Background(), client)
}

func AdapterWithContext(ctx context.Context, client clientset.Interface) {}

func (k keeper) Adapter() {}

type keeper struct{}
`

func TestDropFuncsRemovesTheFunctionsTheirCommentsAndTheImportsOnlyTheyUsed(t *testing.T) {
	got, err := dropFuncs("b.go", []byte(broadcaster), "Adapter", "AdapterWithContext")
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	for _, gone := range []string{"func Adapter(", "func AdapterWithContext(", "Adapter goes", "with both lines", `"k8s.io/client-go/kubernetes"`} {
		if strings.Contains(out, gone) {
			t.Errorf("%q is still there:\n%s", gone, out)
		}
	}
	// The method of the same name, and the imports Keep still uses (klog by its package name, not
	// its path's last element), stay.
	for _, kept := range []string{"func (k keeper) Adapter()", "// Keep stays.", `"context"`, `corev1 "k8s.io/api/core/v1"`, `"k8s.io/klog/v2"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q is gone:\n%s", kept, out)
		}
	}
}

func TestEditsFailWhenTheirTargetIsMissing(t *testing.T) {
	if _, err := dropFuncs("b.go", []byte(broadcaster), "Adapter", "Renamed"); err == nil || !strings.Contains(err.Error(), "Renamed") {
		t.Errorf("dropFuncs of a missing function: %v, want an error naming it", err)
	}
	if _, err := dropImport("b.go", []byte(broadcaster), "k8s.io/client-go/informers"); err == nil {
		t.Error("dropImport of a missing import succeeded")
	}
	if _, err := keepSchemeGroups("r.go", []byte(register), "localSchemeBuilder", []string{"k8s.io/api/core/v1", "k8s.io/api/events/v1"}); err == nil || !strings.Contains(err.Error(), "events/v1") {
		t.Errorf("keepSchemeGroups of a group the scheme does not list: %v, want an error naming it", err)
	}
	if _, err := keepSchemeGroups("r.go", []byte(register), "otherBuilder", nil); err == nil {
		t.Error("keepSchemeGroups of a missing variable succeeded")
	}
}

func TestDropImportRemovesABlankImport(t *testing.T) {
	src := "package version\n\nimport (\n\t\"errors\"\n\n\t_ \"k8s.io/client-go/kubernetes\" // Force it into the build\n)\n\nvar _ = errors.New\n"
	got, err := dropImport("v.go", []byte(src), "k8s.io/client-go/kubernetes")
	if err != nil {
		t.Fatal(err)
	}
	if want := "package version\n\nimport (\n\t\"errors\"\n\n)\n\nvar _ = errors.New\n"; string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

const register = `package scheme

import (
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	v1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	runtime "k8s.io/apimachinery/pkg/runtime"
)

var Scheme = runtime.NewScheme()
var localSchemeBuilder = runtime.SchemeBuilder{
	appsv1.AddToScheme,
	batchv1.AddToScheme,
	corev1.AddToScheme,
}

var AddToScheme = localSchemeBuilder.AddToScheme

func init() {
	v1.AddToGroupVersion(Scheme, schema.GroupVersion{Version: "v1"})
}
`

func TestKeepSchemeGroupsKeepsOnlyTheListedGroups(t *testing.T) {
	got, err := keepSchemeGroups("r.go", []byte(register), "localSchemeBuilder", []string{"k8s.io/api/core/v1", "k8s.io/api/apps/v1"})
	if err != nil {
		t.Fatal(err)
	}
	out := string(got)
	if strings.Contains(out, "batchv1") {
		t.Errorf("batch/v1 is still registered or imported:\n%s", out)
	}
	for _, kept := range []string{"appsv1.AddToScheme,", "corev1.AddToScheme,", `appsv1 "k8s.io/api/apps/v1"`, `v1 "k8s.io/apimachinery/pkg/apis/meta/v1"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("%q is gone:\n%s", kept, out)
		}
	}
}

// TestEditsApplyToTheDependenciesInGoMod makes every edit on the module cache's copy of the file it
// edits, for the versions go.mod requires: a dependency update that moves what an edit removes fails
// here, in the pure tier, as well as in the image build.
func TestEditsApplyToTheDependenciesInGoMod(t *testing.T) {
	dirs := map[string]string{}
	for _, module := range []string{"helm.sh/helm/v4", "k8s.io/client-go"} {
		out, err := goCmd("../..", "list", "-m", "-f", "{{.Dir}}", module)
		if err != nil || strings.TrimSpace(string(out)) == "" {
			t.Fatalf("go list -m %s: %v", module, err)
		}
		dirs[module] = strings.TrimSpace(string(out))
	}
	for _, e := range edits {
		var file string
		for module, dir := range dirs {
			if rest, ok := strings.CutPrefix(e.file, module+"/"); ok {
				file = filepath.Join(dir, filepath.FromSlash(rest))
			}
		}
		if file == "" {
			t.Fatalf("%s is in no module this test knows", e.file)
		}
		src, err := os.ReadFile(file)
		if err != nil {
			t.Errorf("%s: %v", e.file, err)
			continue
		}
		if e.remove {
			continue
		}
		out, err := e.edit(e.file, src)
		if err != nil {
			t.Errorf("%s: %v", e.file, err)
			continue
		}
		if len(out) >= len(src) {
			t.Errorf("%s: the edit removed nothing", e.file)
		}
	}
}
