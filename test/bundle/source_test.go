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
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// readObjects reads every object of the YAML files named, relative to the repository root.
func readObjects(t *testing.T, paths ...string) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	for _, path := range paths {
		data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), path))
		if err != nil {
			t.Fatal(err)
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
		for {
			obj := map[string]any{}
			if err := decoder.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				t.Fatalf("%s: %v", path, err)
			}
			if len(obj) > 0 {
				out = append(out, &unstructured.Unstructured{Object: obj})
			}
		}
	}
	return out
}

// normalized is v as plain JSON values, so objects decoded by different means compare equal.
func normalized(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func rulesOf(t *testing.T, u *unstructured.Unstructured) []rbacv1.PolicyRule {
	t.Helper()
	role := &rbacv1.ClusterRole{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, role); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return role.Rules
}

// sameRules compares rules as sets: the generator may order them differently than the files list them.
func sameRules(t *testing.T, got, want []rbacv1.PolicyRule) bool {
	key := func(rules []rbacv1.PolicyRule) []string {
		var keys []string
		for _, r := range rules {
			data, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, string(data))
		}
		slices.Sort(keys)
		return keys
	}
	return slices.Equal(key(got), key(want))
}

// TestBundleIsConfig checks the bundle against config/ read straight from its files, not through the
// generator or kustomize: OLM must create the same Deployment, grant the same rules and install the
// same CRD and sample as `make deploy` and the Helm chart do. This catches a generator that drops or
// invents something, which TestBundleIsFresh cannot: it compares the generator with itself.
func TestBundleIsConfig(t *testing.T) {
	b := committedBundle(t)
	var kustomization struct {
		NamePrefix string `json:"namePrefix"`
	}
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "default", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, &kustomization); err != nil {
		t.Fatal(err)
	}
	prefix := kustomization.NamePrefix

	rbacFiles, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), "config", "rbac", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range rbacFiles {
		if filepath.Base(f) != "kustomization.yaml" {
			paths = append(paths, filepath.Join("config", "rbac", filepath.Base(f)))
		}
	}
	config := readObjects(t, append(paths, filepath.Join("config", "manager", "manager.yaml"))...)

	var deployment *unstructured.Unstructured
	roles := map[string]*unstructured.Unstructured{}
	for _, u := range config {
		switch u.GetKind() {
		case "Deployment":
			deployment = u
		case "ClusterRole", "Role":
			roles[u.GetKind()+"/"+u.GetName()] = u
		}
	}
	if deployment == nil {
		t.Fatal("config/manager/manager.yaml has no Deployment")
	}
	sa, _, _ := unstructured.NestedString(deployment.Object, "spec", "template", "spec", "serviceAccountName")

	// The rules of every role bound to the manager's ServiceAccount, cluster-wide and in its namespace.
	var cluster, namespaced []rbacv1.PolicyRule
	bound := map[string]bool{}
	for _, u := range config {
		if u.GetKind() != "ClusterRoleBinding" && u.GetKind() != "RoleBinding" {
			continue
		}
		subjects, _, _ := unstructured.NestedSlice(u.Object, "subjects")
		if !slices.ContainsFunc(subjects, func(s any) bool {
			m := s.(map[string]any)
			return m["kind"] == "ServiceAccount" && m["name"] == sa
		}) {
			continue
		}
		kind, _, _ := unstructured.NestedString(u.Object, "roleRef", "kind")
		name, _, _ := unstructured.NestedString(u.Object, "roleRef", "name")
		role, ok := roles[kind+"/"+name]
		if !ok {
			t.Fatalf("%s %s binds the missing %s %s", u.GetKind(), u.GetName(), kind, name)
		}
		bound[kind+"/"+name] = true
		if u.GetKind() == "ClusterRoleBinding" {
			cluster = append(cluster, rulesOf(t, role)...)
		} else {
			namespaced = append(namespaced, rulesOf(t, role)...)
		}
	}

	strategy := b.csv.Spec.InstallStrategy.StrategySpec
	for _, part := range []struct {
		name  string
		got   []operatorsv1alpha1.StrategyDeploymentPermissions
		rules []rbacv1.PolicyRule
	}{{"clusterPermissions", strategy.ClusterPermissions, cluster}, {"permissions", strategy.Permissions, namespaced}} {
		if len(part.got) != 1 {
			t.Errorf("%s has %d entries, want one for the manager's ServiceAccount", part.name, len(part.got))
			continue
		}
		if part.got[0].ServiceAccountName != prefix+sa {
			t.Errorf("%s are granted to %s, want %s", part.name, part.got[0].ServiceAccountName, prefix+sa)
		}
		if !sameRules(t, part.got[0].Rules, part.rules) {
			t.Errorf("%s grant other rules than the roles config/rbac binds to %s:\n got %v\nwant %v", part.name, sa, part.got[0].Rules, part.rules)
		}
	}

	if len(strategy.DeploymentSpecs) != 1 {
		t.Fatalf("the CSV has %d Deployments, config/ one", len(strategy.DeploymentSpecs))
	}
	d := strategy.DeploymentSpecs[0]
	if d.Name != prefix+deployment.GetName() {
		t.Errorf("the Deployment is %s, want %s", d.Name, prefix+deployment.GetName())
	}
	want := deployment.DeepCopy()
	containers, _, _ := unstructured.NestedSlice(want.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if c.(map[string]any)["name"] == generator.ManagerContainer {
			c.(map[string]any)["image"] = b.csv.Annotations[generator.AnnotationContainerImage]
		}
	}
	_ = unstructured.SetNestedSlice(want.Object, containers, "spec", "template", "spec", "containers")
	_ = unstructured.SetNestedField(want.Object, prefix+sa, "spec", "template", "spec", "serviceAccountName")
	// Through OLM's type, which is how OLM reads it: fields the type leaves out must not be there.
	wantSpec := &appsv1.DeploymentSpec{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(want.Object["spec"].(map[string]any), wantSpec, true); err != nil {
		t.Fatalf("config/manager/manager.yaml: %v", err)
	}
	if diff := cmp.Diff(normalized(t, wantSpec), normalized(t, d.Spec)); diff != "" {
		t.Errorf("the CSV's Deployment spec differs from config/manager/manager.yaml's, with the image and prefix (-config +CSV):\n%s", diff)
	}

	// The roles config/rbac binds to no one stay objects of their own, with the same rules.
	for key, role := range roles {
		if bound[key] {
			continue
		}
		kind, name, _ := strings.Cut(key, "/")
		found := false
		for _, m := range b.manifests {
			for _, u := range m.objects {
				if u.GetKind() == kind && u.GetName() == prefix+name {
					found = true
					if !sameRules(t, rulesOf(t, u), rulesOf(t, role)) {
						t.Errorf("%s: the rules differ from config/rbac's %s", m.path, key)
					}
				}
			}
		}
		if !found {
			t.Errorf("%s %s of config/rbac is not in the bundle", kind, prefix+name)
		}
	}

	// The CRD as controller-gen wrote it, and the sample as config/samples has it.
	crd, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.files[generator.ManifestsDir+"/mesh.meshkeeper.io_servicemeshes.yaml"], crd) {
		t.Error("the bundle's CRD differs from config/crd/bases/mesh.meshkeeper.io_servicemeshes.yaml")
	}
	list, err := examples(b)
	if err != nil {
		t.Fatal(err)
	}
	sample := readObjects(t, filepath.Join("config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
	if len(list) != len(sample) || !reflect.DeepEqual(normalized(t, list[0].Object), normalized(t, sample[0].Object)) {
		t.Errorf("alm-examples %v differ from config/samples %v", list, sample)
	}
}

// The manager installed from config/ or from the bundle (whose Deployment is config's, above) never
// gets a sidecar, also in a namespace the mesh enrolls: it must start while istiod, whose injection
// webhook fails closed, is down, since it is what repairs istiod.
func TestTheManagerNeverGetsASidecar(t *testing.T) {
	for _, u := range readObjects(t, filepath.Join("config", "manager", "manager.yaml")) {
		if u.GetKind() != "Deployment" {
			continue
		}
		labels, _, _ := unstructured.NestedStringMap(u.Object, "spec", "template", "metadata", "labels")
		if labels["sidecar.istio.io/inject"] != "false" {
			t.Errorf("the manager's pods are labelled %v: want sidecar.istio.io/inject=false", labels)
		}
		return
	}
	t.Fatal("config/manager/manager.yaml has no Deployment")
}
