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
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// podFieldProblems names the fields of spec that reach a pod's spec as written and hold what the API
// server refuses there: node selector keys and values that are not label keys and values, resource
// names that are neither standard nor an extended resource, negative quantities, requests and limits
// of a resource that cannot be overcommitted (huge pages, extended resources) that differ, huge pages
// without cpu or memory beside them or not in whole pages, extended resources not in whole units,
// resource claims (the pods have none to refer to), toleration keys and values that are not label
// keys and values, the CNI agent's node directories (cni.cniBinDir, cni.cniConfDir, its hostPath volumes)
// with a ".." element, and seccomp profiles of spec.values the API server refuses (render.SeccompProfileProblems).
// In the fields of controlPlane and cni the API server refuses istiod's Deployment or the istio-cni
// DaemonSet, part way through a Helm install or upgrade, after the release's other objects were
// applied; in proxy.resources it refuses every pod the sidecar injector mutates.
// The CRD cannot check them at apply time: rules over the maps and strings of the Kubernetes types,
// which declare no size limits, are past the API server's cost budget. Nil when there is none.
func podFieldProblems(spec *meshv1alpha1.ServiceMeshSpec) []string {
	var problems []string
	cp := spec.ControlPlane
	for _, key := range slices.Sorted(maps.Keys(cp.NodeSelector)) {
		if errs := validation.IsQualifiedName(key); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("spec.controlPlane.nodeSelector key %q is not a label key (%s)", key, strings.Join(errs, "; ")))
		}
		if errs := validation.IsValidLabelValue(cp.NodeSelector[key]); len(errs) > 0 {
			problems = append(problems, fmt.Sprintf("spec.controlPlane.nodeSelector value %q of %q is not a label value (%s)", cp.NodeSelector[key], key, strings.Join(errs, "; ")))
		}
	}
	problems = append(problems, resourceProblems("spec.controlPlane.resources", cp.Resources)...)
	problems = append(problems, resourceProblems("spec.proxy.resources", spec.Proxy.Resources)...)
	problems = append(problems, resourceProblems("spec.cni.resources", spec.CNI.Resources)...)
	problems = append(problems, tolerationProblems("spec.controlPlane.tolerations", cp.Tolerations)...)
	problems = append(problems, tolerationProblems("spec.cni.tolerations", spec.CNI.Tolerations)...)
	problems = append(problems, hostPathProblems("spec.cni.cniBinDir", spec.CNI.CNIBinDir)...)
	problems = append(problems, hostPathProblems("spec.cni.cniConfDir", spec.CNI.CNIConfDir)...)
	problems = append(problems, render.SeccompProfileProblems(spec)...)
	return problems
}

// checkPodFields refuses, as InvalidSpec, a spec with podFieldProblems, naming each field and what to
// set instead. It comes before anything is installed or upgraded, so the running control plane is left
// as it is.
func checkPodFields(spec *meshv1alpha1.ServiceMeshSpec) error {
	problems := podFieldProblems(spec)
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; ") + "; the API server would refuse the pods they are written into; the running control plane is left as it is")
}

// resourceProblems names what the API server refuses in a container's resources: a name without a
// domain that is not cpu, memory, ephemeral-storage or hugepages-<size>, or one that is not a qualified
// name; a negative quantity; and any resource claim.
func resourceProblems(field string, res corev1.ResourceRequirements) []string {
	var problems []string
	for _, list := range []struct {
		name      string
		resources corev1.ResourceList
	}{{"requests", res.Requests}, {"limits", res.Limits}} {
		for _, name := range slices.Sorted(maps.Keys(list.resources)) {
			if !validResourceName(string(name)) {
				problems = append(problems, fmt.Sprintf("%s.%s names %q, which is not a resource: use cpu, memory, ephemeral-storage, "+
					"hugepages-<size> or an extended resource with a domain (example.com/gpu)", field, list.name, name))
			}
			if q := list.resources[name]; q.Sign() < 0 {
				problems = append(problems, fmt.Sprintf("%s.%s.%s is %s: a quantity must not be negative", field, list.name, name, q.String()))
			}
		}
	}
	problems = append(problems, uncountedResourceProblems(field, res)...)
	if len(res.Claims) > 0 {
		problems = append(problems, fmt.Sprintf("%s.claims must not be set: the pods have no resource claims to refer to", field))
	}
	return problems
}

// uncountedResourceProblems names what the API server refuses in a container's resources that it
// cannot overcommit, huge pages and extended resources (a name with a domain other than kubernetes.io):
// a request without a limit or other than it, huge pages without cpu or memory beside them or not a
// whole number of pages, and an extended resource that is not a whole number.
func uncountedResourceProblems(field string, res corev1.ResourceRequirements) []string {
	var problems []string
	names := slices.Sorted(maps.Keys(res.Requests))
	for name := range res.Limits {
		if _, requested := res.Requests[name]; !requested {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	hugePages := false
	for _, name := range names {
		huge := strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
		extended := isExtendedResource(string(name))
		if !huge && !extended {
			continue
		}
		hugePages = hugePages || huge
		for _, list := range []struct {
			name      string
			resources corev1.ResourceList
		}{{"requests", res.Requests}, {"limits", res.Limits}} {
			q, set := list.resources[name]
			switch {
			case !set || q.Sign() < 0:
			case extended && q.MilliValue()%1000 != 0:
				problems = append(problems, fmt.Sprintf("%s.%s.%s is %s: an extended resource comes in whole units", field, list.name, name, q.String()))
			case huge && !wholePages(string(name), q):
				problems = append(problems, fmt.Sprintf("%s.%s.%s is %s: huge pages come in whole pages of the size the name gives", field, list.name, name, q.String()))
			}
		}
		request, requested := res.Requests[name]
		limit, limited := res.Limits[name]
		switch {
		case requested && !limited:
			problems = append(problems, fmt.Sprintf("%s.limits.%s must be set, equal to its request: %s cannot be overcommitted", field, name, name))
		case requested && request.Cmp(limit) != 0:
			problems = append(problems, fmt.Sprintf("%s.requests.%s is %s and its limit %s: they must be equal, since %s cannot be overcommitted",
				field, name, request.String(), limit.String(), name))
		}
	}
	if hugePages && !slices.ContainsFunc([]corev1.ResourceList{res.Requests, res.Limits}, func(l corev1.ResourceList) bool {
		_, cpu := l[corev1.ResourceCPU]
		_, memory := l[corev1.ResourceMemory]
		return cpu || memory
	}) {
		problems = append(problems, fmt.Sprintf("%s sets huge pages without cpu or memory: the API server asks for a request or limit of either beside them", field))
	}
	return problems
}

// isExtendedResource tells whether the API server takes name as an extended resource: a name with a
// domain other than kubernetes.io, which with the quota prefix "requests." is still a qualified name.
func isExtendedResource(name string) bool {
	if !strings.Contains(name, "/") || strings.Contains(name, "kubernetes.io/") || strings.HasPrefix(name, "requests.") {
		return false
	}
	return len(validation.IsQualifiedName("requests."+name)) == 0
}

// wholePages tells whether q is a whole number of the huge pages name (hugepages-<size>) counts.
func wholePages(name string, q resource.Quantity) bool {
	size, err := resource.ParseQuantity(strings.TrimPrefix(name, corev1.ResourceHugePagesPrefix))
	if err != nil || size.Sign() <= 0 || size.MilliValue()%1000 != 0 {
		return false
	}
	return q.Value()%size.Value() == 0
}

// validResourceName tells whether the API server accepts name as a container's resource: a qualified
// name that is one of the standard resources when it has no domain.
func validResourceName(name string) bool {
	if len(validation.IsQualifiedName(name)) > 0 {
		return false
	}
	if strings.Contains(name, "/") {
		return strings.Contains(name, "kubernetes.io/") || isExtendedResource(name)
	}
	switch corev1.ResourceName(name) {
	case corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage:
		return true
	}
	return strings.HasPrefix(name, corev1.ResourceHugePagesPrefix)
}

// tolerationProblems names the toleration keys and values the API server refuses in a pod: a key that
// is not a label key, and with operator Equal (or none) a value that is not a label value. The CRD
// checks the operator, effect and their combinations.
func tolerationProblems(field string, tolerations []corev1.Toleration) []string {
	var problems []string
	for i, t := range tolerations {
		if t.Key != "" {
			if errs := validation.IsQualifiedName(t.Key); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("%s[%d].key %q is not a label key (%s)", field, i, t.Key, strings.Join(errs, "; ")))
			}
		}
		if t.Operator != corev1.TolerationOpExists {
			if errs := validation.IsValidLabelValue(t.Value); len(errs) > 0 {
				problems = append(problems, fmt.Sprintf("%s[%d].value %q is not a label value (%s)", field, i, t.Value, strings.Join(errs, "; ")))
			}
		}
	}
	return problems
}

// hostPathProblems names what the API server refuses in the path of a hostPath volume that the CRD's
// pattern lets through: a ".." element.
func hostPathProblems(field, path string) []string {
	if !slices.Contains(strings.Split(path, "/"), "..") {
		return nil
	}
	return []string{fmt.Sprintf("%s %q has a \"..\" element, which the API server refuses in the path of the agent's hostPath volume: "+
		"give the directory without it", field, path)}
}
