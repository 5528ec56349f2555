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
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// RenderedResources reports what the real istiod chart gives its containers and the sidecar after it
// merged its defaults under the values: a limit spec.values sets alone sits beside the chart's default
// request, which is what makes every injected pod invalid when the limit is below it.
func TestRenderedResourcesKeepTheChartsDefaults(t *testing.T) {
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", Images: meshv1alpha1.ImagesSpec{Hub: "docker.io/istio"},
		Values: &meshv1alpha1.IstiodValues{Raw: []byte(`{"global": {"proxy": {"resources": {"limits": {"memory": "100Mi"}}}},
			"resources": {"limits": {"memory": "1Gi"}}}`)}}
	values, err := render.IstiodValues(spec, charts.BuiltinVersion)
	if err != nil {
		t.Fatal(err)
	}
	containers, err := RenderedResources(t.Context(), chart, values, "istiod", spec.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][2]string{ // the memory request and limit, by container
		InjectedProxy: {"128Mi", "100Mi"},
		"discovery":   {"2048Mi", "1Gi"},
	}
	for _, c := range containers {
		w, ok := want[c.Container]
		if !ok {
			continue
		}
		delete(want, c.Container)
		request, limit := c.Resources.Requests[corev1.ResourceMemory], c.Resources.Limits[corev1.ResourceMemory]
		if request.Cmp(resource.MustParse(w[0])) != 0 || limit.Cmp(resource.MustParse(w[1])) != 0 {
			t.Errorf("%s %s, container %s: memory request %s and limit %s, want %s and %s",
				c.Kind, c.Name, c.Container, request.String(), limit.String(), w[0], w[1])
		}
		if over := render.RequestsAboveLimits(c.Resources); len(over) != 1 || over[0].Name != corev1.ResourceMemory {
			t.Errorf("%s %s, container %s: requests above limits %v, want memory", c.Kind, c.Name, c.Container, over)
		}
	}
	for container := range want {
		t.Errorf("no container %s rendered", container)
	}
}
