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
