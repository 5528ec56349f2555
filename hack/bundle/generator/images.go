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

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// injectorConfigMap holds the values istiod's sidecar injector builds the proxy images from.
const injectorConfigMap = "istio-sidecar-injector"

// istioImages are the images a ServiceMesh with an empty spec deploys: the built-in Istio version and
// the CRD's default hub. They are found the way meshkeeper and istiod find them, not listed by hand:
// the spec gets the CRD's defaults as the API server applies them, meshkeeper's istiod values are
// computed from it, the built-in istiod chart is rendered with them, and the images are read from the
// pod templates it renders (istiod) and from the values istiod injects proxies with (the sidecar and
// its init container).
func istioImages(crds []crdFile) ([]string, error) {
	mesh, err := defaultedServiceMesh(crds)
	if err != nil {
		return nil, err
	}
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		return nil, err
	}
	values, err := render.IstiodValues(&mesh.Spec, charts.BuiltinVersion)
	if err != nil {
		return nil, err
	}
	manifest, err := helm.Template(chart, values, charts.Istiod, mesh.Spec.Namespace)
	if err != nil {
		return nil, err
	}

	var images []string
	add := func(image string) {
		if !slices.Contains(images, image) {
			images = append(images, image)
		}
	}
	injector := false
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("decoding the rendered istiod chart: %w", err)
		}
		u := &unstructured.Unstructured{Object: obj}
		podSpec := []string{"spec", "template", "spec"}
		if u.GetKind() == "Pod" {
			podSpec = []string{"spec"}
		}
		for _, field := range []string{"initContainers", "containers"} {
			containers, _, _ := unstructured.NestedSlice(obj, append(podSpec, field)...)
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
