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
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestAutoscaledIstiodScalesOnItsCPURequest: the istiod chart's HorizontalPodAutoscaler scales on the
// CPU utilization of istiod's pods, which Kubernetes computes against the containers' CPU requests; a
// pod whose container requests no CPU gives the autoscaler nothing to compute ("missing request for
// cpu"), so it never scales. controlPlane.resources set, istiod gets exactly those, nothing of the
// chart's 500m request: with autoscaling they must request CPU (requests.cpu, or limits.cpu, which the
// request defaults to), and a spec whose do not is refused rather than installed with an autoscaler
// that cannot work.
func TestAutoscaledIstiodScalesOnItsCPURequest(t *testing.T) {
	quantities := func(kv ...string) corev1.ResourceList {
		list := corev1.ResourceList{}
		for i := 0; i < len(kv); i += 2 {
			list[corev1.ResourceName(kv[i])] = resource.MustParse(kv[i+1])
		}
		return list
	}
	autoscaling := &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}

	// The chart's autoscaler scales on CPU utilization: what makes a CPU request necessary.
	spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
	spec.ControlPlane.Replicas = nil
	spec.ControlPlane.Autoscaling = autoscaling
	hpa := renderedObject(t, renderIstiod(t, spec), "HorizontalPodAutoscaler", "istiod")
	metrics, _, _ := unstructured.NestedSlice(hpa.Object, "spec", "metrics")
	if len(metrics) == 0 {
		t.Fatal("the chart's HorizontalPodAutoscaler has no metrics")
	}
	name, _, _ := unstructured.NestedString(metrics[0].(map[string]any), "resource", "name")
	kind, _, _ := unstructured.NestedString(metrics[0].(map[string]any), "resource", "target", "type")
	if name != "cpu" || kind != "Utilization" {
		t.Fatalf("the chart's HorizontalPodAutoscaler scales on %s %s, want cpu Utilization", name, kind)
	}

	for name, tc := range map[string]struct {
		resources   corev1.ResourceRequirements
		autoscaling *meshv1alpha1.AutoscalingSpec
		values      string // spec.values
		refused     bool
	}{
		"autoscaled, no resources: the chart's CPU request": {autoscaling: autoscaling},
		"autoscaled, a CPU request":                         {autoscaling: autoscaling, resources: corev1.ResourceRequirements{Requests: quantities("cpu", "1", "memory", "2Gi")}},
		"autoscaled, a CPU limit, which the request defaults to": {autoscaling: autoscaling,
			resources: corev1.ResourceRequirements{Limits: quantities("cpu", "2", "memory", "4Gi")}},
		"autoscaled, a CPU request in spec.values": {autoscaling: autoscaling, values: `{"resources":{"requests":{"cpu":"1"}}}`,
			resources: corev1.ResourceRequirements{Limits: quantities("memory", "4Gi")}},
		"fixed replicas, a memory limit only": {resources: corev1.ResourceRequirements{Limits: quantities("memory", "4Gi")}},
		"autoscaled, a memory request only": {autoscaling: autoscaling, refused: true,
			resources: corev1.ResourceRequirements{Requests: quantities("memory", "2Gi")}},
		"autoscaled, a memory limit only": {autoscaling: autoscaling, refused: true,
			resources: corev1.ResourceRequirements{Limits: quantities("memory", "4Gi")}},
		"autoscaled through spec.values, a memory limit only": {values: `{"autoscaleEnabled":true,"autoscaleMin":2,"autoscaleMax":5}`,
			refused: true, resources: corev1.ResourceRequirements{Limits: quantities("memory", "4Gi")}},
	} {
		t.Run(name, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			spec.ControlPlane.Replicas = nil
			spec.ControlPlane.Autoscaling = tc.autoscaling
			spec.ControlPlane.Resources = tc.resources
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			values, err := render.IstiodValues(spec, charts.BuiltinVersion)
			if tc.refused {
				if err == nil {
					deployment := renderedObject(t, renderIstiod(t, spec), "Deployment", "istiod")
					t.Fatalf("IstiodValues accepted an autoscaled istiod whose container requests no CPU (resources %v), "+
						"so its HorizontalPodAutoscaler can never compute a utilization", containerResources(t, deployment, "discovery"))
				}
				if !strings.Contains(err.Error(), "controlPlane.resources") || !strings.Contains(err.Error(), "cpu") {
					t.Errorf("the refusal does not say what to set: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if values == nil {
				t.Fatal("no values")
			}
			deployment := renderedObject(t, renderIstiod(t, spec), "Deployment", "istiod")
			res, _ := containerResources(t, deployment, "discovery").(map[string]any)
			requests, _ := res["requests"].(map[string]any)
			limits, _ := res["limits"].(map[string]any)
			if spec.ControlPlane.Autoscaling != nil && requests["cpu"] == nil && limits["cpu"] == nil {
				t.Errorf("istiod requests no CPU under autoscaling: resources %v", res)
			}
		})
	}
}

// renderedObject is the object of the kind and name in a rendered manifest.
func renderedObject(t *testing.T, manifest []byte, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range objects(t, manifest) {
		if u.GetKind() == kind && u.GetName() == name {
			return u
		}
	}
	t.Fatalf("the manifest has no %s %s", kind, name)
	return nil
}

// TestDisruptionBudgetNeedsTwoReplicas: controlPlane.podDisruptionBudget true gives istiod a
// PodDisruptionBudget (minAvailable 1) only while it runs more than one replica, fixed or as the
// autoscaler's minimum: the chart leaves it out otherwise, so that a single istiod does not block every
// node drain. The test says whether the charts still do so.
func TestDisruptionBudgetNeedsTwoReplicas(t *testing.T) {
	for name, tc := range map[string]struct {
		replicas    *int32
		autoscaling *meshv1alpha1.AutoscalingSpec
		want        bool
	}{
		"the default two replicas":     {want: true},
		"one replica":                  {replicas: new(int32(1))},
		"autoscaled from one replica":  {autoscaling: &meshv1alpha1.AutoscalingSpec{MinReplicas: 1, MaxReplicas: 5}},
		"autoscaled from two replicas": {autoscaling: &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}, want: true},
	} {
		t.Run(name, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			spec.ControlPlane.Replicas, spec.ControlPlane.Autoscaling = tc.replicas, tc.autoscaling
			got := false
			for _, u := range objects(t, renderIstiod(t, spec)) {
				if u.GetKind() == "PodDisruptionBudget" {
					got = true
					if minAvailable, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "minAvailable"); fmt.Sprint(minAvailable) != "1" {
						t.Errorf("the PodDisruptionBudget has minAvailable %v, want 1", minAvailable)
					}
				}
			}
			if got != tc.want {
				t.Errorf("a PodDisruptionBudget rendered: %v, want %v", got, tc.want)
			}
		})
	}
}
