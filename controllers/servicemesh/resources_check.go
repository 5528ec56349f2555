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

package servicemesh

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// checkResources refuses, as InvalidSpec, a spec under which a container of the control plane or the
// sidecar the injector adds would request more of a resource than its limit allows: the API server
// refuses such pods, so istiod's Deployment would create no pod, or every pod the injector mutates, in
// every enrolled namespace, would be refused (the next rollout, scale-up or node drain of any meshed
// workload creates none). It compares what istiod's chart renders with values, after the chart merged
// its defaults under them, so a limit spec.values sets alone is caught beside the default request it
// keeps. It comes before anything is installed or upgraded, so the running control plane is left as it
// is. A chart that does not render is not judged here: the install reports it.
func checkResources(ctx context.Context, spec *meshv1alpha1.ServiceMeshSpec, chart *chartv2.Chart, chartDigest string, values render.Values) error {
	if err := render.CNIRequestsAboveLimits(spec); err != nil {
		return meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, fmt.Errorf("%w; the running control plane is left as it is", err))
	}
	if chart == nil || !setsResources(spec) {
		return nil
	}
	raw, err := json.Marshal(values)
	if err != nil {
		return nil
	}
	// The verdict names the fields and keys of spec.values that set each request and limit, so they are
	// part of the key beside the values they render.
	fields, err := json.Marshal([]any{spec.Proxy.Resources, spec.ControlPlane.Resources, spec.Values})
	if err != nil {
		return nil
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00", chartDigest, chart.Name(), chart.Metadata.Version, spec.Namespace)
	h.Write(raw)
	h.Write([]byte{0})
	h.Write(fields)
	key := hex.EncodeToString(h.Sum(nil))
	msg, known := resourceVerdicts.get(key)
	if !known {
		msg = requestsAboveLimits(ctx, spec, chart, values)
		resourceVerdicts.put(key, msg)
	}
	if msg == "" {
		return nil
	}
	return meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, fmt.Errorf("%s; the running control plane is left as it is", msg))
}

// setsResources tells whether the spec sets any request or limit of istiod's chart: a resources field,
// or a key of spec.values named resources, defaultResources or profile (a profile brings requests of
// its own), at any depth. Without one the chart renders its own defaults, each request at most its
// limit, and checkResources renders nothing: the common spec costs no render of the chart.
func setsResources(spec *meshv1alpha1.ServiceMeshSpec) bool {
	if !isEmptyResources(spec.Proxy.Resources) || !isEmptyResources(spec.ControlPlane.Resources) {
		return true
	}
	if spec.Values == nil || len(spec.Values.Raw) == 0 {
		return false
	}
	var values any
	if err := json.Unmarshal(spec.Values.Raw, &values); err != nil {
		return true // IstiodValues refuses it before this is asked
	}
	var walk func(any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			for key, child := range v {
				if key == "resources" || key == "defaultResources" || key == "profile" || walk(child) {
					return true
				}
			}
		case []any:
			for _, child := range v {
				if walk(child) {
					return true
				}
			}
		}
		return false
	}
	return walk(values)
}

// isEmptyResources tells whether res sets no request and no limit.
func isEmptyResources(res corev1.ResourceRequirements) bool {
	return len(res.Requests) == 0 && len(res.Limits) == 0
}

// requestsAboveLimits is checkResources' verdict on istiod's chart: "" when every container requests
// at most its limits, or when the chart does not render.
func requestsAboveLimits(ctx context.Context, spec *meshv1alpha1.ServiceMeshSpec, chart *chartv2.Chart, values render.Values) string {
	containers, err := helm.RenderedResources(ctx, chart, values, istiodRelease, spec.Namespace)
	if err != nil {
		return ""
	}
	var problems []string
	for _, c := range containers {
		over := render.RequestsAboveLimits(c.Resources)
		if len(over) == 0 {
			continue
		}
		if c.Kind == "ConfigMap" && c.Container == helm.InjectedProxy {
			problems = append(problems, fmt.Sprintf("the sidecar's resources (ConfigMap %s, values global.proxy.resources): %s; "+
				"the API server would refuse every pod the sidecar injector mutates, in every enrolled namespace, "+
				"so the next rollout, scale-up or node drain of a meshed workload would create no pod",
				c.Name, render.DescribeAboveLimits(spec, render.SidecarResources, over)))
			continue
		}
		problems = append(problems, fmt.Sprintf("istiod's resources (%s %s, container %s): %s; its pods would be refused, so it would create none",
			c.Kind, c.Name, c.Container, render.DescribeAboveLimits(spec, render.IstiodResources, over)))
	}
	if len(problems) == 0 {
		return ""
	}
	return strings.Join(problems, "; ") + "; set each request at most its limit"
}

// resourceVerdicts keeps checkResources' verdicts by chart and values, so that istiod's chart is
// rendered for the check once per spec a manager sees, not on every reconcile.
var resourceVerdicts = verdictCache{max: 32}

// verdictCache maps a key to a verdict, forgetting all once it holds max of them.
type verdictCache struct {
	mu       sync.Mutex
	max      int
	verdicts map[string]string
}

func (c *verdictCache) get(key string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.verdicts[key]
	return v, ok
}

func (c *verdictCache) put(key, verdict string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.verdicts == nil || len(c.verdicts) >= c.max {
		c.verdicts = map[string]string{}
	}
	c.verdicts[key] = verdict
}
