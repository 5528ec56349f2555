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

package helm

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// InjectorConfigMapPrefix begins the name of the ConfigMap the istiod chart keeps the sidecar
// injector's template and values in (istio-sidecar-injector, with "-<revision>" for a revision).
const InjectorConfigMapPrefix = "istio-sidecar-injector"

// InjectedProxy is the container name ContainerResources gives the sidecar the injector adds.
const InjectedProxy = "istio-proxy"

// ContainerResources are the requests and limits one container gets.
type ContainerResources struct {
	// Kind and Name name the object that says so: a workload (Deployment, DaemonSet, StatefulSet) for
	// its containers, the injector's ConfigMap for the sidecar (and its init container) of the pods it
	// injects.
	Kind, Name string
	// Container is the container's name; InjectedProxy for the injector's sidecar.
	Container string
	Resources corev1.ResourceRequirements
}

// RenderedResources renders chart offline with values, as the release would be installed, and returns
// the requests and limits of every container of its workloads and of the sidecar its injector adds to
// pods (global.proxy.resources of the values in the injector's ConfigMap). Those are the effective
// ones: Istio's charts merge values over their defaults and profile key by key (zzz_profile.yaml), so a
// limit set alone keeps the default request beside it. It reads nothing from the API server.
func RenderedResources(ctx context.Context, chart *chartv2.Chart, values map[string]any, releaseName, namespace string) ([]ContainerResources, error) {
	objects, _, err := renderChart(ctx, chart, values, common.ReleaseOptions{Name: releaseName, Namespace: namespace,
		Revision: 1, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	var out []ContainerResources
	for _, obj := range objects {
		switch obj.GetKind() {
		case "Deployment", "DaemonSet", "StatefulSet":
			for _, field := range []string{"initContainers", "containers"} {
				containers, _, _ := unstructured.NestedSlice(obj.Object, "spec", "template", "spec", field)
				for _, c := range containers {
					container, _ := c.(map[string]any)
					name, _ := container["name"].(string)
					res, err := resourcesOf(container["resources"])
					if err != nil {
						return nil, fmt.Errorf("%s %s, container %s: %w", obj.GetKind(), obj.GetName(), name, err)
					}
					out = append(out, ContainerResources{Kind: obj.GetKind(), Name: obj.GetName(), Container: name, Resources: res})
				}
			}
		case "ConfigMap":
			if !strings.HasPrefix(obj.GetName(), InjectorConfigMapPrefix) {
				continue
			}
			raw, found, _ := unstructured.NestedString(obj.Object, "data", "values")
			if !found {
				continue
			}
			var injector map[string]any
			if err := json.Unmarshal([]byte(raw), &injector); err != nil {
				return nil, fmt.Errorf("ConfigMap %s, values: %w", obj.GetName(), err)
			}
			proxy, _, _ := unstructured.NestedFieldNoCopy(injector, "global", "proxy", "resources")
			res, err := resourcesOf(proxy)
			if err != nil {
				return nil, fmt.Errorf("ConfigMap %s, global.proxy.resources: %w", obj.GetName(), err)
			}
			out = append(out, ContainerResources{Kind: obj.GetKind(), Name: obj.GetName(), Container: InjectedProxy, Resources: res})
		}
	}
	return out, nil
}

// resourcesOf decodes a rendered resources map. A request or limit left null (the injection template
// leaves nulls out) counts as unset.
func resourcesOf(v any) (corev1.ResourceRequirements, error) {
	var res corev1.ResourceRequirements
	m, _ := v.(map[string]any)
	if len(m) == 0 {
		return res, nil
	}
	clean := map[string]any{}
	for _, key := range []string{"requests", "limits"} {
		list, _ := m[key].(map[string]any)
		set := map[string]any{}
		for name, q := range list {
			if q != nil {
				set[name] = q
			}
		}
		clean[key] = set
	}
	raw, err := json.Marshal(clean)
	if err != nil {
		return res, err
	}
	if err := json.Unmarshal(raw, &res); err != nil {
		return res, err
	}
	return res, nil
}
