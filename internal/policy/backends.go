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

package policy

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// ingressBackends is every backend an Ingress names, across spec.defaultBackend and the paths of all
// its rules. Hosts, paths, ports and TLS do not matter to the mesh: only which Services it sends to.
type ingressBackends struct {
	// services are the distinct backend Service names, sorted. A Service reached through several
	// paths, hosts or ports counts once.
	services []string
	// resources are the distinct resource backends, as `Kind "name"`, sorted.
	resources []string
}

func backendsOf(ing *networkingv1.Ingress) ingressBackends {
	services, resources := sets.New[string](), sets.New[string]()
	add := func(b *networkingv1.IngressBackend) {
		switch {
		case b == nil:
		case b.Service != nil:
			services.Insert(b.Service.Name)
		case b.Resource != nil:
			resources.Insert(fmt.Sprintf("%s %q", b.Resource.Kind, b.Resource.Name))
		}
	}
	add(ing.Spec.DefaultBackend)
	for _, rule := range ing.Spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			add(&rule.HTTP.Paths[i].Backend)
		}
	}
	return ingressBackends{services: sets.List(services), resources: sets.List(resources)}
}

// BackendServices returns the distinct names of the Services an Ingress sends to, sorted: what an
// index of Ingresses by backend Service needs.
func BackendServices(ing *networkingv1.Ingress) []string {
	return backendsOf(ing).services
}

// IngressSpecRead is the part of an Ingress's spec the decisions read: its class and the backends it
// names, each once. The default backend stays as it is; the rules become one rule without a host whose
// paths carry only the distinct backends of all the rules, without their ports. Hosts, paths, path types,
// ports and TLS are left out: a cache that holds every Ingress of a cluster keeps this instead of the
// whole spec (a real Ingress has many hosts and paths that send to one or two Services), and every
// decision about it is the same.
func IngressSpecRead(spec networkingv1.IngressSpec) networkingv1.IngressSpec {
	read := networkingv1.IngressSpec{IngressClassName: spec.IngressClassName, DefaultBackend: spec.DefaultBackend}
	var paths []networkingv1.HTTPIngressPath
	seen := func(b networkingv1.IngressBackend) bool {
		for _, p := range paths {
			switch {
			case b.Service != nil && p.Backend.Service != nil:
				if b.Service.Name == p.Backend.Service.Name {
					return true
				}
			case b.Resource != nil && p.Backend.Resource != nil:
				if equalResources(b.Resource, p.Backend.Resource) {
					return true
				}
			case b.Service == nil && b.Resource == nil && p.Backend.Service == nil && p.Backend.Resource == nil:
				return true
			}
		}
		return false
	}
	for _, rule := range spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for _, path := range rule.HTTP.Paths {
			if seen(path.Backend) {
				continue
			}
			backend := networkingv1.IngressBackend{Resource: path.Backend.Resource}
			if path.Backend.Service != nil {
				backend.Service = &networkingv1.IngressServiceBackend{Name: path.Backend.Service.Name}
			}
			paths = append(paths, networkingv1.HTTPIngressPath{Backend: backend})
		}
	}
	if len(paths) > 0 {
		read.Rules = []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}
	}
	return read
}

func equalResources(a, b *corev1.TypedLocalObjectReference) bool {
	return a.Kind == b.Kind && a.Name == b.Name && ptr.Deref(a.APIGroup, "") == ptr.Deref(b.APIGroup, "")
}
