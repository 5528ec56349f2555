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

package generator

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// injectorConfigMap holds the values istiod's sidecar injector builds the proxy images from.
const injectorConfigMap = "istio-sidecar-injector"

// defaultMesh is what a ServiceMesh with an empty spec deploys: the built-in Istio version and the
// CRD's defaults, as the API server applies them. Its objects are found the way meshkeeper finds them,
// not listed by hand: meshkeeper's values are computed from the defaulted spec and the built-in base
// and istiod charts are rendered with them. optional holds what other specs add (an autoscaled
// istiod), for the kinds a ServiceMesh may own.
type defaultMesh struct {
	mesh     *meshv1alpha1.ServiceMesh
	objects  []*unstructured.Unstructured
	optional []*unstructured.Unstructured
}

func renderDefaultMesh(crds []crdFile) (*defaultMesh, error) {
	mesh, err := defaultedServiceMesh(crds)
	if err != nil {
		return nil, err
	}
	objects, err := renderCharts(&mesh.Spec)
	if err != nil {
		return nil, err
	}
	autoscaled := mesh.Spec.DeepCopy()
	autoscaled.ControlPlane.Replicas = nil
	autoscaled.ControlPlane.Autoscaling = &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}
	optional, err := renderCharts(autoscaled)
	if err != nil {
		return nil, err
	}
	return &defaultMesh{mesh: mesh, objects: objects, optional: optional}, nil
}

// renderCharts renders the built-in base, istiod and (when the spec runs it) CNI charts with the values meshkeeper computes for spec.
func renderCharts(spec *meshv1alpha1.ServiceMeshSpec) ([]*unstructured.Unstructured, error) {
	istiodValues, err := render.IstiodValues(spec, charts.BuiltinVersion)
	if err != nil {
		return nil, err
	}
	var objects []*unstructured.Unstructured
	releases := []struct {
		name, namespace string
		values          map[string]any
	}{{charts.Base, spec.Namespace, render.BaseValues(spec)}, {charts.Istiod, spec.Namespace, istiodValues}}
	if render.Mode(spec).NeedsNodeAgent() {
		releases = append(releases, struct {
			name, namespace string
			values          map[string]any
		}{charts.CNI, spec.CNINamespace(), render.CNIValues(spec, charts.BuiltinVersion)})
	}
	for _, release := range releases {
		chart, err := charts.Builtin(release.name)
		if err != nil {
			return nil, err
		}
		manifest, err := helm.Template(chart, release.values, release.name, release.namespace)
		if err != nil {
			return nil, err
		}
		decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
		for {
			obj := map[string]any{}
			if err := decoder.Decode(&obj); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, fmt.Errorf("decoding the rendered %s chart: %w", release.name, err)
			}
			if len(obj) > 0 {
				objects = append(objects, &unstructured.Unstructured{Object: obj})
			}
		}
	}
	return objects, nil
}

// images are the images the default mesh deploys: those of the pod templates the charts render
// (istiod) and those istiod injects proxies with (the sidecar and its init container).
func (m *defaultMesh) images() ([]string, error) {
	var images []string
	add := func(image string) {
		if !slices.Contains(images, image) {
			images = append(images, image)
		}
	}
	injector := false
	for _, u := range m.objects {
		podSpec := []string{"spec", "template", "spec"}
		if u.GetKind() == "Pod" {
			podSpec = []string{"spec"}
		}
		for _, field := range []string{"initContainers", "containers"} {
			containers, _, _ := unstructured.NestedSlice(u.Object, append(podSpec, field)...)
			for _, c := range containers {
				if container, ok := c.(map[string]any); ok {
					if image, ok := container["image"].(string); ok {
						add(image)
					}
				}
			}
		}
		if u.GetKind() == "ConfigMap" && u.GetName() == injectorConfigMap {
			injector = true
			proxies, err := proxyImages(u)
			if err != nil {
				return nil, err
			}
			for _, image := range proxies {
				add(image)
			}
		}
	}
	if !injector {
		return nil, fmt.Errorf("the istiod chart rendered no ConfigMap %s to read the proxy image from", injectorConfigMap)
	}
	slices.Sort(images)
	return images, nil
}

// resources are the kinds of the objects a ServiceMesh owns, for the owned CRD's resources list: what
// the charts render but the CustomResourceDefinitions (they outlive the mesh and are not owned), and
// the policies meshkeeper applies itself. A custom resource is named by its plural, as the CRD in the
// base chart has it; a built-in kind by no name, as OLM's API asks. The version is the whole
// apiVersion, which is how operator-framework's deprecated-API validator reads it.
func (m *defaultMesh) resources() []operatorsv1alpha1.APIResourceReference {
	plurals := map[schema.GroupKind]string{}
	for _, u := range m.objects {
		if u.GetKind() != "CustomResourceDefinition" {
			continue
		}
		group, _, _ := unstructured.NestedString(u.Object, "spec", "group")
		kind, _, _ := unstructured.NestedString(u.Object, "spec", "names", "kind")
		plural, _, _ := unstructured.NestedString(u.Object, "spec", "names", "plural")
		plurals[schema.GroupKind{Group: group, Kind: kind}] = plural
	}
	owned := slices.Concat(m.objects, m.optional)
	owned = append(owned,
		render.PeerAuthentication(m.mesh.Spec.Namespace, meshv1alpha1.MTLSPermissive),
		render.Sidecar(&m.mesh.Spec, m.mesh.Spec.Namespace, nil, nil))
	var refs []operatorsv1alpha1.APIResourceReference
	for _, u := range owned {
		gvk := u.GroupVersionKind()
		if gvk.Kind == "CustomResourceDefinition" {
			continue
		}
		ref := operatorsv1alpha1.APIResourceReference{Name: plurals[gvk.GroupKind()], Kind: gvk.Kind, Version: u.GetAPIVersion()}
		if !slices.Contains(refs, ref) {
			refs = append(refs, ref)
		}
	}
	slices.SortFunc(refs, func(a, b operatorsv1alpha1.APIResourceReference) int {
		return strings.Compare(a.Kind+"/"+a.Version, b.Kind+"/"+b.Version)
	})
	return refs
}

// proxyImages are the images of injected proxies as istiod names them (ProxyImage and ProxyInitImage
// in istio.io/istio/pkg/kube/inject): <global.hub>/<image>:<global.tag>, with "-<global.variant>"
// appended to the tag unless the variant is empty or "default".
func proxyImages(injector *unstructured.Unstructured) ([]string, error) {
	raw, _, _ := unstructured.NestedString(injector.Object, "data", "values")
	var values struct {
		Global struct {
			Hub       string                 `json:"hub"`
			Tag       any                    `json:"tag"`
			Variant   string                 `json:"variant"`
			Proxy     struct{ Image string } `json:"proxy"`
			ProxyInit struct{ Image string } `json:"proxy_init"`
		} `json:"global"`
	}
	if err := json.Unmarshal([]byte(raw), &values); err != nil {
		return nil, fmt.Errorf("the values of ConfigMap %s: %w", injectorConfigMap, err)
	}
	g := values.Global
	tag := fmt.Sprint(g.Tag)
	if g.Hub == "" || g.Tag == nil || tag == "" {
		return nil, fmt.Errorf("the values of ConfigMap %s set no global.hub or global.tag", injectorConfigMap)
	}
	if g.Variant != "" && g.Variant != "default" {
		tag += "-" + g.Variant
	}
	var images []string
	for _, name := range []string{g.Proxy.Image, g.ProxyInit.Image} {
		if name == "" {
			name = "proxyv2" // istiod's default for both
		}
		images = append(images, g.Hub+"/"+name+":"+tag)
	}
	return images, nil
}

// defaultedServiceMesh is the ServiceMesh "default" with an empty spec after the API server applied
// the defaults of the CRD's storage version.
func defaultedServiceMesh(crds []crdFile) (*meshv1alpha1.ServiceMesh, error) {
	gvk := meshv1alpha1.GroupVersion.WithKind("ServiceMesh")
	for _, f := range crds {
		crd := f.crd
		if crd.Spec.Group != gvk.Group || crd.Spec.Names.Kind != gvk.Kind {
			continue
		}
		for _, v := range crd.Spec.Versions {
			if v.Name != gvk.Version || v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
				continue
			}
			internal := &apiextensions.JSONSchemaProps{}
			if err := apiextensionsv1.Convert_v1_JSONSchemaProps_To_apiextensions_JSONSchemaProps(v.Schema.OpenAPIV3Schema, internal, nil); err != nil {
				return nil, fmt.Errorf("converting the schema of %s: %w", crd.Name, err)
			}
			structural, err := structuralschema.NewStructural(internal)
			if err != nil {
				return nil, fmt.Errorf("the schema of %s is not structural: %w", crd.Name, err)
			}
			obj := map[string]any{
				"apiVersion": gvk.GroupVersion().String(),
				"kind":       gvk.Kind,
				"metadata":   map[string]any{"name": "default"},
				"spec":       map[string]any{},
			}
			defaulting.Default(obj, structural)
			mesh := &meshv1alpha1.ServiceMesh{}
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, mesh); err != nil {
				return nil, fmt.Errorf("the defaulted ServiceMesh: %w", err)
			}
			return mesh, nil
		}
	}
	return nil, fmt.Errorf("config/crd/bases has no CRD of %s", gvk)
}
