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

package render_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/testutil"
)

var update = flag.Bool("update", false, "rewrite the golden files from the current output")

var owner = helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default",
	UID: "00000000-0000-0000-0000-000000000001"}

// specFrom reads a ServiceMesh manifest and returns its spec with the CRD defaults applied the way
// the API server applies them (the fixture files spell every default out).
func specFrom(t *testing.T, path string) *meshv1alpha1.ServiceMeshSpec {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := yaml.UnmarshalStrict(data, mesh); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &mesh.Spec
}

func renderIstiod(t *testing.T, spec *meshv1alpha1.ServiceMeshSpec) []byte {
	t.Helper()
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	values, err := render.IstiodValues(spec, charts.BuiltinVersion)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := helm.Template(chart, values, charts.Istiod, spec.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := helm.Stamp(manifest, owner)
	if err != nil {
		t.Fatal(err)
	}
	return stamped
}

func compareGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run 'make test-update-golden' to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("rendered output differs from %s; if the change is intended, run 'make test-update-golden' and review the diff.\n%s",
			path, testutil.FirstDifference(want, got))
	}
}

func TestIstiodGolden(t *testing.T) {
	for _, tc := range []struct{ fixture, golden string }{
		{"sample.yaml", "istiod-sample.golden.yaml"},
		{"maximal.yaml", "istiod-maximal.golden.yaml"},
		{"no-cni.yaml", "istiod-no-cni.golden.yaml"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			compareGolden(t, tc.golden, renderIstiod(t, specFrom(t, filepath.Join("testdata", tc.fixture))))
		})
	}
}

// TestCNIGolden records what the CNI chart installs as the istio-cni release.
func TestCNIGolden(t *testing.T) {
	chart, err := charts.Builtin(charts.CNI)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ fixture, golden string }{
		{"sample.yaml", "cni-sample.golden.yaml"},
		{"maximal.yaml", "cni-maximal.golden.yaml"},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", tc.fixture))
			manifest, err := helm.Template(chart, render.CNIValues(spec, charts.BuiltinVersion), "istio-cni", spec.CNINamespace())
			if err != nil {
				t.Fatal(err)
			}
			// As the chart manager applies it: stamped, and with the agent's priority class.
			stamped, err := helm.PostRender(manifest, helm.Release{Owner: owner, PodPriority: &helm.PodPriority{
				DaemonSet: render.CNIDaemonSet, ClassName: render.CNIPriorityClassName(spec)}})
			if err != nil {
				t.Fatal(err)
			}
			compareGolden(t, tc.golden, stamped)
		})
	}
}

// TestBaseInventory records which objects the base chart installs (the chart's CRDs are too large for
// a readable golden file) and checks that every CRD survives an uninstall and has no owner.
func TestBaseInventory(t *testing.T) {
	spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	manifest, err := helm.Template(chart, render.BaseValues(spec), "istio-base", spec.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	stamped, err := helm.Stamp(manifest, owner)
	if err != nil {
		t.Fatal(err)
	}
	var inventory strings.Builder
	crds := 0
	for _, u := range objects(t, stamped) {
		fmt.Fprintf(&inventory, "%s %s\n", u.GetKind(), u.GetName())
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		crds++
		if u.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s lacks helm.sh/resource-policy: keep, so an uninstall would delete users' objects", u.GetName())
		}
		if len(u.GetOwnerReferences()) != 0 {
			t.Errorf("CRD %s is owned by %v, so deleting the ServiceMesh would garbage-collect it", u.GetName(), u.GetOwnerReferences())
		}
	}
	if crds < 10 {
		t.Errorf("the base chart rendered %d CRDs, want the Istio CRDs (15 in 1.31)", crds)
	}
	compareGolden(t, "base-inventory.golden.txt", []byte(inventory.String()))
}

// TestRenderedResourcesAreTheSpecs renders the charts with resources set in part and checks what each
// container gets: exactly the requests and limits the spec sets, nothing kept from the chart's defaults
// (the charts merge their values over those key by key, so a default limit of 1024Mi under a 2Gi
// request would make every injected pod invalid), and the chart's defaults where the spec sets none.
// The sidecar's are what the injector reads (the values of the istio-sidecar-injector ConfigMap) and
// what the values ConfigMap shows.
func TestRenderedResourcesAreTheSpecs(t *testing.T) {
	quantities := func(kv ...string) corev1.ResourceList {
		list := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return list
	}
	requestsOnly := &corev1.ResourceRequirements{Requests: quantities("memory", "2Gi")}
	memoryLimitOnly := &corev1.ResourceRequirements{Limits: quantities("memory", "512Mi")}
	// The charts' defaults (Istio 1.31).
	istiodDefault := corev1.ResourceRequirements{Requests: quantities("cpu", "500m", "memory", "2048Mi")}
	proxyDefault := corev1.ResourceRequirements{Requests: quantities("cpu", "100m", "memory", "128Mi"),
		Limits: quantities("cpu", "2000m", "memory", "1024Mi")}
	cniDefault := corev1.ResourceRequirements{Requests: quantities("cpu", "100m", "memory", "100Mi")}

	cniChart, err := charts.Builtin(charts.CNI)
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		controlPlane, proxy, cni *corev1.ResourceRequirements // nil: unset
	}{
		"unset: the charts' defaults":        {},
		"proxy: requests only":               {proxy: requestsOnly},
		"proxy: a memory limit only":         {proxy: memoryLimitOnly},
		"control plane: requests only":       {controlPlane: requestsOnly},
		"control plane: a memory limit only": {controlPlane: memoryLimitOnly},
		"CNI: requests only":                 {cni: requestsOnly},
		"CNI: a memory limit only":           {cni: memoryLimitOnly},
	} {
		t.Run(name, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			want := map[string]corev1.ResourceRequirements{"istiod": istiodDefault, "sidecar": proxyDefault, "CNI agent": cniDefault}
			spec.ControlPlane.Resources = corev1.ResourceRequirements{}
			if tc.controlPlane != nil {
				spec.ControlPlane.Resources, want["istiod"] = *tc.controlPlane, *tc.controlPlane
			}
			if tc.proxy != nil {
				spec.Proxy.Resources, want["sidecar"] = *tc.proxy, *tc.proxy
			}
			if tc.cni != nil {
				spec.CNI.Resources, want["CNI agent"] = *tc.cni, *tc.cni
			}

			got := map[string]any{}
			for _, u := range objects(t, renderIstiod(t, spec)) {
				switch {
				case u.GetKind() == "Deployment" && u.GetName() == "istiod":
					got["istiod"] = containerResources(t, u, "discovery")
				case u.GetKind() == "ConfigMap" && u.GetName() == "istio-sidecar-injector":
					got["sidecar"] = proxyResources(t, u, "values")
				case u.GetKind() == "ConfigMap" && u.GetName() == "values":
					got["sidecar (values ConfigMap)"] = proxyResources(t, u, "merged-values")
				}
			}
			want["sidecar (values ConfigMap)"] = want["sidecar"]
			manifest, err := helm.Template(cniChart, render.CNIValues(spec, charts.BuiltinVersion), "istio-cni", spec.CNINamespace())
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range objects(t, manifest) {
				if u.GetKind() == "DaemonSet" && u.GetName() == render.CNIDaemonSet {
					got["CNI agent"] = containerResources(t, u, "install-cni")
				}
			}
			for component, w := range want {
				raw, err := json.Marshal(got[component])
				if err != nil {
					t.Fatal(err)
				}
				var g corev1.ResourceRequirements
				if got[component] == nil || json.Unmarshal(raw, &g) != nil || !equality.Semantic.DeepEqual(g, w) {
					wantJSON, _ := json.Marshal(w)
					t.Errorf("%s resources = %s, want %s", component, raw, wantJSON)
				}
			}
		})
	}
}

// containerResources is the resources of the named container of a rendered workload.
func containerResources(t *testing.T, u *unstructured.Unstructured, container string) any {
	t.Helper()
	containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
	for _, c := range containers {
		if c, ok := c.(map[string]any); ok && c["name"] == container {
			return c["resources"]
		}
	}
	t.Fatalf("%s %s has no container %s", u.GetKind(), u.GetName(), container)
	return nil
}

// proxyResources is global.proxy.resources of the values (JSON) in a rendered ConfigMap's key.
func proxyResources(t *testing.T, u *unstructured.Unstructured, key string) any {
	t.Helper()
	data, _, _ := unstructured.NestedString(u.Object, "data", key)
	var values map[string]any
	if err := json.Unmarshal([]byte(data), &values); err != nil {
		t.Fatalf("ConfigMap %s, %s: %v", u.GetName(), key, err)
	}
	resources, _, _ := unstructured.NestedFieldNoCopy(values, "global", "proxy", "resources")
	return resources
}

func TestStampedObjectsAreOwnedAndLabelled(t *testing.T) {
	for _, u := range objects(t, renderIstiod(t, specFrom(t, filepath.Join("testdata", "sample.yaml")))) {
		if got := u.GetLabels()[helm.ManagedByLabel]; got != helm.ManagedByValue {
			t.Errorf("%s %s: %s=%q, want %q", u.GetKind(), u.GetName(), helm.ManagedByLabel, got, helm.ManagedByValue)
		}
		refs := u.GetOwnerReferences()
		if len(refs) != 1 || refs[0].Kind != "ServiceMesh" || string(refs[0].UID) != owner.UID || refs[0].Controller == nil || !*refs[0].Controller {
			t.Errorf("%s %s: owner references %v, want the ServiceMesh as controller", u.GetKind(), u.GetName(), refs)
		}
	}
}

func objects(t *testing.T, manifest []byte) []*unstructured.Unstructured {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var out []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			break
		}
		if len(obj) > 0 {
			out = append(out, &unstructured.Unstructured{Object: obj})
		}
	}
	if len(out) == 0 {
		t.Fatal("the manifest holds no objects")
	}
	return out
}

// The demo profile brings resource requests of its own, which the istiod chart merges over the values
// after Helm's coalescing, past the nulls that drop the chart's defaults: a sidecar memory limit below
// the profile's 40Mi request makes every injected pod invalid, and the profile's requests replace
// istiod's. The CRD refuses proxy.resources and controlPlane.resources with the demo profile for this;
// the test says whether the charts still do it.
func TestDemoProfileResourcesOverrideTheSpecs(t *testing.T) {
	spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
	spec.Proxy.Resources = corev1.ResourceRequirements{Limits: corev1.ResourceList{"memory": resource.MustParse("32Mi")}}
	spec.ControlPlane.Resources = corev1.ResourceRequirements{Requests: corev1.ResourceList{"memory": resource.MustParse("2Gi")}}
	spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(`{"profile":"demo"}`)}
	var sidecar, istiod any
	for _, u := range objects(t, renderIstiod(t, spec)) {
		switch {
		case u.GetKind() == "Deployment" && u.GetName() == "istiod":
			istiod = containerResources(t, u, "discovery")
		case u.GetKind() == "ConfigMap" && u.GetName() == "istio-sidecar-injector":
			sidecar = proxyResources(t, u, "values")
		}
	}
	sidecarJSON, _ := json.Marshal(sidecar)
	istiodJSON, _ := json.Marshal(istiod)
	if string(sidecarJSON) != `{"limits":{"memory":"32Mi"},"requests":{"cpu":"10m","memory":"40Mi"}}` ||
		string(istiodJSON) != `{"requests":{"cpu":"10m","memory":"100Mi"}}` {
		t.Errorf("with the demo profile: sidecar resources %s, istiod resources %s; the charts no longer put the "+
			"profile's requests over the spec's, and the CRD rule that refuses resources with the demo profile can go",
			sidecarJSON, istiodJSON)
	}
}
