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
	"maps"
	"slices"
	"strconv"
	"strings"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// IngressUpstreams returns the upstreams of ingress-nginx an Ingress sends to, across
// spec.defaultBackend and the paths of all its rules: one for each Service backend, named by the
// Service and the port as the backend writes it, its number or its name ("web:80", "web:http"),
// distinct and sorted. ingress-nginx names an upstream so (with the namespace, which is the Ingress's),
// and builds one for every Ingress of the namespace that names it: a port written by number and by name
// makes two upstreams, even where both are the same port of the Service.
func IngressUpstreams(ing *networkingv1.Ingress) []string {
	upstreams := sets.New[string]()
	add := func(b *networkingv1.IngressBackend) {
		if b == nil || b.Service == nil {
			return
		}
		port := b.Service.Port.Name
		if b.Service.Port.Number != 0 {
			port = strconv.Itoa(int(b.Service.Port.Number))
		}
		upstreams.Insert(b.Service.Name + ":" + port)
	}
	add(ing.Spec.DefaultBackend)
	eachRuleBackend(&ing.Spec, add)
	return sets.List(upstreams)
}

// UpstreamGroup is a mesh Ingress that meshkeeper can configure on its own (decided Configured by
// Ingress) with the mesh Ingresses of its namespace it shares an upstream of ingress-nginx with, directly
// or through others that meshkeeper can configure too.
//
// ingress-nginx builds one upstream per Service port of a namespace, and the oldest Ingress that names
// it decides for every Ingress that does whether nginx sends to the Service's ClusterIP
// (service-upstream) or to the pods' IPs; a later Ingress's service-upstream is ignored for it. An
// Ingress configured beside one meshkeeper leaves unchanged would have its requests sent to the pods'
// IPs when that one is the older (past the controller's sidecar, in plaintext, with the Host of
// upstream-vhost), or the other's requests sent to the ClusterIP without their upstream-vhost (which
// the sidecar passes on unrouted, in plaintext) when it is the older. So the Ingresses of a group are
// configured all or none: while one of them cannot be (Blocking), the others are held back
// (SharedUpstream).
type UpstreamGroup struct {
	// configured are the Ingresses of the group meshkeeper can configure on their own, as
	// namespace/name.
	configured sets.Set[string]
	// blocking are the mesh Ingresses sharing an upstream with one of configured that meshkeeper
	// cannot configure (IngressDecision.Skipped), as namespace/name, each with its reason.
	blocking map[string]string
}

// GroupOf finds the group of ing, which Ingress decides Configured. sharing returns the Ingresses of
// ing's namespace that name an upstream (as IngressUpstreams names it), alone the decision about one of
// them made on its own (Ingress). Ingresses outside the mesh (another class, being deleted) are served
// apart from the mesh's or not at all, and are no part of the group.
func GroupOf(ing *networkingv1.Ingress, sharing func(upstream string) []*networkingv1.Ingress,
	alone func(*networkingv1.Ingress) IngressDecision) *UpstreamGroup {
	key := func(i *networkingv1.Ingress) string { return i.Namespace + "/" + i.Name }
	g := &UpstreamGroup{configured: sets.New(key(ing))}
	seen := sets.New(key(ing))
	walked := sets.New[string]()
	for queue := []*networkingv1.Ingress{ing}; len(queue) > 0; queue = queue[1:] {
		for _, upstream := range IngressUpstreams(queue[0]) {
			if walked.Has(upstream) {
				continue
			}
			walked.Insert(upstream)
			for _, other := range sharing(upstream) {
				k := key(other)
				if seen.Has(k) {
					continue
				}
				seen.Insert(k)
				switch d := alone(other); {
				case d.Configured:
					g.configured.Insert(k)
					queue = append(queue, other)
				case d.Skipped():
					if g.blocking == nil {
						g.blocking = map[string]string{}
					}
					g.blocking[k] = d.Reason
				}
			}
		}
	}
	return g
}

// Configured returns the Ingresses of the group meshkeeper can configure on their own, as
// namespace/name, sorted: the group is theirs too.
func (g *UpstreamGroup) Configured() []string {
	return sets.List(g.configured)
}

// Blocking returns the Ingresses sharing an upstream with the group that meshkeeper cannot configure,
// as namespace/name, each with its reason.
func (g *UpstreamGroup) Blocking() map[string]string {
	return maps.Clone(g.blocking)
}

// maxNamed is how many of the Ingresses that hold a group back its Ingresses' messages name.
const maxNamed = 3

// Decide returns the decision about ing, an Ingress of the group that Ingress decides d (Configured)
// on its own: d while no Ingress blocks the group, else SharedUpstream, and meshkeeper takes back the
// annotations it set.
func (g *UpstreamGroup) Decide(ing *networkingv1.Ingress, d IngressDecision) IngressDecision {
	if !d.Configured || len(g.blocking) == 0 {
		return d
	}
	names := slices.Sorted(maps.Keys(g.blocking))
	blocking := make([]string, 0, maxNamed+1)
	for _, name := range names[:min(len(names), maxNamed)] {
		blocking = append(blocking, fmt.Sprintf("%s (%s)", name, g.blocking[name]))
	}
	if more := len(names) - maxNamed; more > 0 {
		blocking = append(blocking, fmt.Sprintf("%d more", more))
	}
	upstreams := IngressUpstreams(ing)
	for i, u := range upstreams {
		service, port, _ := strings.Cut(u, ":")
		upstreams[i] = fmt.Sprintf("Service %s port %s", service, port)
	}
	return IngressDecision{
		Annotations: map[string]string{},
		Reason:      SharedUpstream,
		Message: fmt.Sprintf("Ingress %s/%s sends to %s, which ingress-nginx shares, directly or through other Ingresses, with Ingress %s, which meshkeeper cannot configure. "+
			"ingress-nginx builds one upstream per Service port of a namespace, and the oldest Ingress that names it decides for all of them whether nginx sends to the Service's ClusterIP (service-upstream): "+
			"configured beside one left unchanged, an Ingress would have nginx send past the controller's sidecar, in plaintext, which STRICT mTLS rejects. "+
			"meshkeeper configures the Ingresses that share an upstream all or none, so it leaves this one unchanged. "+
			"Fix the other as its Warning Event says, or have the Ingresses send to different Services or ports",
			ing.Namespace, ing.Name, joinAnd(upstreams), joinAnd(blocking)),
	}
}
