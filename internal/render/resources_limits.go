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

package render

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// ResourcesOf names whose requests and limits ResourcesOrigin traces.
type ResourcesOf int

const (
	// SidecarResources are the sidecar's (and its init container's): global.proxy.resources of istiod's
	// values, which proxy.resources renders.
	SidecarResources ResourcesOf = iota
	// IstiodResources are istiod's container's: resources of istiod's values, which
	// controlPlane.resources renders.
	IstiodResources
	// CNIResources are the istio-cni agent's container's: resources of the CNI chart's values, which
	// cni.resources renders.
	CNIResources
)

// RequestAboveLimit is a resource a container requests more of than its limit allows. The API server
// refuses such a pod ("must be less than or equal to ... limit").
type RequestAboveLimit struct {
	Name           corev1.ResourceName
	Request, Limit resource.Quantity
}

// RequestsAboveLimits lists, sorted by name, each resource res requests more of than it limits. A
// resource with only a request, or only a limit (its request defaults to the limit), is never one.
func RequestsAboveLimits(res corev1.ResourceRequirements) []RequestAboveLimit {
	var out []RequestAboveLimit
	for name, limit := range res.Limits {
		if request, ok := res.Requests[name]; ok && request.Cmp(limit) > 0 {
			out = append(out, RequestAboveLimit{Name: name, Request: request, Limit: limit})
		}
	}
	slices.SortFunc(out, func(a, b RequestAboveLimit) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// ResourcesOrigin names what sets a request or limit (kind "requests" or "limits") of resource name
// of of: the key of spec.values when spec.values sets it (spec.values is merged last and wins), else
// the field of the spec, else the chart's defaults (with its profile's), which the chart merges under
// spec.values key by key.
func ResourcesOrigin(spec *meshv1alpha1.ServiceMeshSpec, of ResourcesOf, kind string, name corev1.ResourceName) string {
	var field corev1.ResourceRequirements
	var valuesPath []string
	switch of {
	case SidecarResources:
		field, valuesPath = spec.Proxy.Resources, []string{"global", "proxy", "resources"}
	case IstiodResources:
		field, valuesPath = spec.ControlPlane.Resources, []string{"resources"}
	case CNIResources:
		field = spec.CNI.Resources
	}
	if valuesPath != nil && spec.Values != nil && len(spec.Values.Raw) > 0 {
		var user Values
		if json.Unmarshal(spec.Values.Raw, &user) == nil {
			path := append(slices.Clone(valuesPath), kind, string(name))
			if v, set := valueAt(user, path); set && v != nil {
				return fmt.Sprintf("spec.values %s.%s.%s", strings.Join(valuesPath, "."), kind, name)
			}
		}
	}
	list := field.Requests
	if kind == "limits" {
		list = field.Limits
	}
	if _, set := list[name]; set {
		fieldName := map[ResourcesOf]string{SidecarResources: "proxy.resources", IstiodResources: "controlPlane.resources",
			CNIResources: "cni.resources"}[of]
		return fmt.Sprintf("%s.%s.%s", fieldName, kind, name)
	}
	return "the chart's default"
}

// CNIRequestsAboveLimits refuses cni.resources that request more of a resource than they limit: the
// agent's DaemonSet would create no pod, and without the agent no meshed pod starts on a new node.
// cni.resources replace the chart's defaults whole, so the spec's own requests and limits are all
// there is to compare. Nil when the spec runs no agent.
func CNIRequestsAboveLimits(spec *meshv1alpha1.ServiceMeshSpec) error {
	if Mode(spec) != SidecarCNI {
		return nil
	}
	over := RequestsAboveLimits(spec.CNI.Resources)
	if len(over) == 0 {
		return nil
	}
	return fmt.Errorf("cni.resources: %s; the istio-cni agent's DaemonSet would create no pod, and without the agent "+
		"no meshed pod starts on its node; set each request at most its limit", DescribeAboveLimits(spec, CNIResources, over))
}

// DescribeAboveLimits says, for each resource of over, its request and limit and what sets each
// (ResourcesOrigin): "memory request 2Gi (proxy.resources.requests.memory) exceeds its limit 1Gi
// (proxy.resources.limits.memory)".
func DescribeAboveLimits(spec *meshv1alpha1.ServiceMeshSpec, of ResourcesOf, over []RequestAboveLimit) string {
	var text string
	for i, o := range over {
		if i > 0 {
			text += ", "
		}
		text += fmt.Sprintf("%s request %s (%s) exceeds its limit %s (%s)", o.Name, o.Request.String(),
			ResourcesOrigin(spec, of, "requests", o.Name), o.Limit.String(), ResourcesOrigin(spec, of, "limits", o.Name))
	}
	return text
}
