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
	eachRuleBackend(&ing.Spec, add)
	return ingressBackends{services: sets.List(services), resources: sets.List(resources)}
}

// eachRuleBackend calls visit with the backend of every path of every rule of spec, in order.
func eachRuleBackend(spec *networkingv1.IngressSpec, visit func(*networkingv1.IngressBackend)) {
	for _, rule := range spec.Rules {
		if rule.HTTP == nil {
			continue
		}
		for i := range rule.HTTP.Paths {
			visit(&rule.HTTP.Paths[i].Backend)
		}
	}
}

// BackendServices returns the distinct names of the Services an Ingress sends to, sorted: what an
// index of Ingresses by backend Service needs.
func BackendServices(ing *networkingv1.Ingress) []string {
	return backendsOf(ing).services
}

// IngressSpecRead is the part of an Ingress's spec the decisions read: its class and the backends it
// names, each once. The default backend stays as it is; the rules become one rule without a host whose
// paths carry only the distinct backends of all the rules, a Service with its port as written (which,
// with the Service, names the upstream ingress-nginx shares between Ingresses: IngressUpstreams).
// Hosts, paths, path types and TLS are left out: a cache that holds every Ingress of a cluster keeps
// this instead of the whole spec (a real Ingress has many hosts and paths that send to one or two
// Services), and every decision about it is the same.
func IngressSpecRead(spec networkingv1.IngressSpec) networkingv1.IngressSpec {
	read := networkingv1.IngressSpec{IngressClassName: spec.IngressClassName, DefaultBackend: spec.DefaultBackend}
	// A backend is told apart by its Service's name and port, or by its resource's group, kind and name.
	type backendKey struct {
		service, group, kind, name string
		port                       networkingv1.ServiceBackendPort
	}
	seen := map[backendKey]bool{}
	var paths []networkingv1.HTTPIngressPath
	eachRuleBackend(&spec, func(b *networkingv1.IngressBackend) {
		var key backendKey
		backend := networkingv1.IngressBackend{Resource: b.Resource}
		switch {
		case b.Service != nil:
			key.service, key.port = b.Service.Name, b.Service.Port
			backend.Service = &networkingv1.IngressServiceBackend{Name: b.Service.Name, Port: b.Service.Port}
		case b.Resource != nil:
			key.group, key.kind, key.name = ptr.Deref(b.Resource.APIGroup, ""), b.Resource.Kind, b.Resource.Name
		}
		if !seen[key] {
			seen[key] = true
			paths = append(paths, networkingv1.HTTPIngressPath{Backend: backend})
		}
	})
	if len(paths) > 0 {
		read.Rules = []networkingv1.IngressRule{{IngressRuleValue: networkingv1.IngressRuleValue{
			HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}}
	}
	return read
}
