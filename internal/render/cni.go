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
	"slices"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// DataPlaneMode is how the mesh redirects a meshed pod's traffic into its proxy. Each mode decides
// which node agent runs and what injection puts into pods; ambient (ztunnel) would be one more.
type DataPlaneMode string

const (
	// SidecarInitContainer means every injected pod gets the istio-init container, which sets up the
	// redirection itself with NET_ADMIN and NET_RAW.
	SidecarInitContainer DataPlaneMode = "SidecarInitContainer"
	// SidecarCNI means the istio-cni node agent sets up the redirection; injected pods get only the
	// unprivileged istio-validation container, which checks it.
	SidecarCNI DataPlaneMode = "SidecarCNI"
)

// Mode is the data-plane mode of a spec. spec.cni.enabled unset counts as on, the default of a new
// ServiceMesh: the controller settles it (ServiceMesh.CNIEnabled) before it renders anything.
func Mode(spec *meshv1alpha1.ServiceMeshSpec) DataPlaneMode {
	if boolOr(spec.CNI.Enabled, true) {
		return SidecarCNI
	}
	return SidecarInitContainer
}

// NeedsNodeAgent tells whether the mode runs a node agent chart (the CNI chart for SidecarCNI).
func (m DataPlaneMode) NeedsNodeAgent() bool { return m == SidecarCNI }

// PrivilegedInit tells whether injected pods of the mode carry an init container that needs NET_ADMIN
// and NET_RAW, which the Pod Security levels baseline and restricted reject.
func (m DataPlaneMode) PrivilegedInit() bool { return m == SidecarInitContainer }

// runtimeDefaultSeccomp is the seccomp profile the Pod Security level restricted asks every container
// for; Istio's injection template leaves it out unless global.proxy.seccompProfile is set.
var runtimeDefaultSeccomp = Values{"type": "RuntimeDefault"}

// injectionDefaults are the istiod values of a data-plane mode that spec.values may override.
func injectionDefaults(mode DataPlaneMode) Values {
	if mode != SidecarCNI {
		return Values{}
	}
	// With it, the sidecar and istio-validation meet the Pod Security level restricted on their own;
	// a user's own profile (a Localhost one) in spec.values wins.
	return Values{"global": Values{"proxy": Values{"seccompProfile": runtimeDefaultSeccomp}}}
}

// injectionValues are the istiod values of a data-plane mode that are merged over spec.values:
// injection must use the node agent meshkeeper runs, and enrollment's Pod Security check relies on it.
// Without CNI nothing is forced, so a user's own CNI installation (spec.values cni.enabled) keeps working.
func injectionValues(mode DataPlaneMode) Values {
	if mode != SidecarCNI {
		return Values{}
	}
	// istio-validation without added capabilities, running as the proxy's user, instead of istio-init.
	return Values{"cni": Values{"enabled": true}}
}

// alwaysExcludedFromCNI are namespaces the CNI plugin never touches, whatever spec.cni says.
var alwaysExcludedFromCNI = []string{"kube-system"}

// tolerateEverything lets the node agent run on every node, whatever its taints: a node without it
// cannot start meshed pods.
var tolerateEverything = []any{Values{"operator": "Exists"}}

// CNIDaemonSet is the DaemonSet of the CNI agent that the CNI chart renders.
const CNIDaemonSet = "istio-cni-node"

// defaultCNIPriorityClass is the CNI agent's priority class when the spec names none (the CRD's
// default): the class node agents run with, which the chart also hard-codes.
const defaultCNIPriorityClass = "system-node-critical"

// CNIPriorityClassName is the PriorityClass of the CNI agent's pods. The chart's template hard-codes
// system-node-critical, so no value sets it: the chart manager sets it on the rendered DaemonSet.
func CNIPriorityClassName(spec *meshv1alpha1.ServiceMeshSpec) string {
	if spec.CNI.PriorityClassName != "" {
		return spec.CNI.PriorityClassName
	}
	return defaultCNIPriorityClass
}

// CNIValues are the values of the CNI chart (the istio-cni release) for the given spec and resolved
// Istio version: the same hub, tag and pull policy as istiod, the platform's paths and the agent's
// placement.
func CNIValues(spec *meshv1alpha1.ServiceMeshSpec, version string) Values {
	cni := spec.CNI
	global := Values{
		// Always set: the upstream master charts default to a testing registry and the tag "latest".
		"hub": spec.Images.Hub,
		"tag": version,
	}
	if spec.Images.PullPolicy != "" {
		global["imagePullPolicy"] = string(spec.Images.PullPolicy)
	}
	exclude := slices.Clone(alwaysExcludedFromCNI)
	for _, ns := range cni.ExcludeNamespaces {
		if !slices.Contains(exclude, ns) {
			exclude = append(exclude, ns)
		}
	}
	values := Values{
		"global":            global,
		"chained":           boolOr(cni.Chained, true),
		"excludeNamespaces": toValues(exclude),
		"tolerations":       tolerateEverything,
	}
	if cni.CNIBinDir != "" {
		values["cniBinDir"] = cni.CNIBinDir
	}
	if cni.CNIConfDir != "" {
		values["cniConfDir"] = cni.CNIConfDir
	}
	if res := resources(cni.Resources); res != nil {
		values["resources"] = res
		values = withoutChartDefaults(values, []string{"resources"})
	}
	if cni.Tolerations != nil {
		values["tolerations"] = toValues(cni.Tolerations)
	}
	return values
}

// CNIImageHubs are the hubs the CNI chart pulls images from with CNIValues: none when the spec does not
// run the agent. Every one must be an allowed hub.
func CNIImageHubs(spec *meshv1alpha1.ServiceMeshSpec) []string {
	if !Mode(spec).NeedsNodeAgent() || spec.Images.Hub == "" {
		return nil
	}
	return []string{spec.Images.Hub}
}
