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
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestIngressUpstreams(t *testing.T) {
	for name, tc := range map[string]struct {
		spec networkingv1.IngressSpec
		want []string
	}{
		"the default backend and every path, each upstream once, sorted": {
			spec: networkingv1.IngressSpec{DefaultBackend: toService("web", 80), Rules: rules(
				rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", 8080))),
				rule("www.shop.example.com", path("/", toService("web", 80))),
			)},
			want: []string{"api:8080", "web:80"},
		},
		// ingress-nginx names the upstream by the port as the backend writes it.
		"a port by number and by name are two upstreams": {
			spec: networkingv1.IngressSpec{Rules: rules(rule("shop.example.com",
				path("/", toService("web", 80)), path("/v2", toService("web", "http"))))},
			want: []string{"web:80", "web:http"},
		},
		"a resource backend is no upstream": {
			spec: networkingv1.IngressSpec{DefaultBackend: toResource("Bucket", "assets"),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
			want: []string{"web:80"},
		},
		"no backend, no upstream": {want: []string{}},
	} {
		ing := ingress(tc.spec, nil)
		if got := IngressUpstreams(ing); !slices.Equal(got, tc.want) {
			t.Errorf("%s: IngressUpstreams = %q, want %q", name, got, tc.want)
		}
		// The cache keeps IngressSpecRead of the spec: the upstreams are the same.
		read := *ing
		read.Spec = IngressSpecRead(ing.Spec)
		if got := IngressUpstreams(&read); !slices.Equal(got, tc.want) {
			t.Errorf("%s: IngressUpstreams of what the cache keeps = %q, want %q", name, got, tc.want)
		}
	}
}

// sharedIngress is an Ingress of namespace shop, created at the given second.
func sharedIngress(name string, created int, spec networkingv1.IngressSpec, annotations map[string]string) *networkingv1.Ingress {
	ing := ingress(spec, annotations)
	ing.Name = name
	ing.CreationTimestamp = metav1.Unix(int64(1_800_000_000+created), 0)
	return ing
}

func to(service string, port any) networkingv1.IngressSpec {
	return networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService(service, port)}
}

func fanOut(services ...string) networkingv1.IngressSpec {
	var paths []networkingv1.HTTPIngressPath
	for i, service := range services {
		paths = append(paths, path(fmt.Sprintf("/%d", i), toService(service, 80)))
	}
	return networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com", paths...))}
}

// TestSharedUpstreams: ingress-nginx builds one upstream per Service port of a namespace, and the
// oldest Ingress that names it decides for all of them whether nginx sends to the Service's ClusterIP.
// An Ingress meshkeeper can configure on its own is held back (SharedUpstream) while it shares an
// upstream, directly or through other such Ingresses, with a mesh Ingress meshkeeper cannot configure,
// whichever of them is the older; the message names that Ingress.
func TestSharedUpstreams(t *testing.T) {
	storefront := func(created int) *networkingv1.Ingress {
		return sharedIngress("storefront", created, to("web", 80), nil)
	}
	tests := map[string]struct {
		ingress *networkingv1.Ingress
		others  []*networkingv1.Ingress

		wantReason   string
		wantBlocking []string
		wantMessage  []string
	}{
		"alone on its upstream": {
			ingress: storefront(2), others: []*networkingv1.Ingress{sharedIngress("api", 1, to("api", 80), nil)},
			wantReason: Configured,
		},
		"beside another mesh Ingress meshkeeper configures": {
			ingress: storefront(2), others: []*networkingv1.Ingress{sharedIngress("www", 1, to("web", 80), nil)},
			wantReason: Configured,
		},
		"an older Ingress with two Services shares web:80": {
			ingress: storefront(2), others: []*networkingv1.Ingress{sharedIngress("split", 1, fanOut("web", "api"), nil)},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/split"},
			wantMessage: []string{"Ingress shop/storefront sends to Service web port 80", "Ingress shop/split (MultipleBackendServices)",
				"the oldest Ingress that names it decides", "all or none"},
		},
		"a newer Ingress with two Services shares web:80": {
			ingress: storefront(1), others: []*networkingv1.Ingress{sharedIngress("split", 2, fanOut("web", "api"), nil)},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/split"},
		},
		// bridge sends to one Service by two ports, so meshkeeper can configure it on its own; it shares
		// web:80 with storefront and web:http with split, which meshkeeper cannot configure.
		"through another mesh Ingress": {
			ingress: storefront(1), others: []*networkingv1.Ingress{
				sharedIngress("bridge", 2, networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("www.example.com",
					path("/", toService("web", 80)), path("/v2", toService("web", "http"))))}, nil),
				sharedIngress("split", 3, networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com",
					path("/", toService("web", "http")), path("/api", toService("api", 80))))}, nil),
			},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/split"},
			wantMessage: []string{"Ingress shop/storefront sends to Service web port 80", "directly or through other Ingresses", "shop/split (MultipleBackendServices)"},
		},
		"a canary of the same Service port": {
			ingress: storefront(1), others: []*networkingv1.Ingress{
				sharedIngress("storefront-canary", 2, to("web", 80), map[string]string{AnnotationCanary: "true"})},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/storefront-canary"}, wantMessage: []string{"(CanaryIngress)"},
		},
		"an Ingress with a conflicting annotation": {
			ingress: storefront(2), others: []*networkingv1.Ingress{
				sharedIngress("owned", 1, to("web", 80), map[string]string{AnnotationServiceUpstream: "false"})},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/owned"},
		},
		"the same Service by its port's name is another upstream": {
			ingress: storefront(2), others: []*networkingv1.Ingress{sharedIngress("split", 1, networkingv1.IngressSpec{
				IngressClassName: nginxClass, Rules: rules(rule("shop.example.com",
					path("/", toService("web", "http")), path("/api", toService("api", 80))))}, nil)},
			wantReason: Configured,
		},
		"an Ingress of a class the controller does not serve is no part of it": {
			ingress: storefront(2), others: []*networkingv1.Ingress{
				sharedIngress("internal", 1, networkingv1.IngressSpec{IngressClassName: ptr.To("internal"),
					Rules: rules(rule("shop.example.com", path("/", toService("web", 80)), path("/api", toService("api", 80))))}, nil)},
			wantReason: Configured,
		},
		"an Ingress being deleted is no part of it": {
			ingress: storefront(2), others: []*networkingv1.Ingress{func() *networkingv1.Ingress {
				ing := sharedIngress("split", 1, fanOut("web", "api"), nil)
				ing.DeletionTimestamp = &metav1.Time{}
				return ing
			}()},
			wantReason: Configured,
		},
		"the first three that block are named, and how many more": {
			ingress: storefront(1), others: []*networkingv1.Ingress{
				sharedIngress("split-a", 2, fanOut("web", "a"), nil), sharedIngress("split-b", 3, fanOut("web", "b"), nil),
				sharedIngress("split-c", 4, fanOut("web", "c"), nil), sharedIngress("split-d", 5, fanOut("web", "d"), nil),
			},
			wantReason: SharedUpstream, wantBlocking: []string{"shop/split-a", "shop/split-b", "shop/split-c", "shop/split-d"},
			wantMessage: []string{"shop/split-a (MultipleBackendServices), shop/split-b (MultipleBackendServices), shop/split-c (MultipleBackendServices) and 1 more"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			all := append([]*networkingv1.Ingress{tc.ingress}, tc.others...)
			alone := func(ing *networkingv1.Ingress) IngressDecision {
				return Ingress(IngressInput{Ingress: ing, IngressNginx: ingressNginx(), NamespaceEnrolled: true,
					Controller: controllerInjected, Service: lookupShop})
			}
			walked := map[string]int{}
			sharing := func(upstream string) []*networkingv1.Ingress {
				walked[upstream]++
				var found []*networkingv1.Ingress
				for _, ing := range all {
					if slices.Contains(IngressUpstreams(ing), upstream) {
						found = append(found, ing)
					}
				}
				return found
			}
			d := alone(tc.ingress)
			if !d.Configured {
				t.Fatalf("on its own: %s (%s), want Configured", d.Reason, d.Message)
			}
			group := GroupOf(tc.ingress, sharing, alone)
			got := group.Decide(tc.ingress, d)
			if got.Reason != tc.wantReason {
				t.Fatalf("Reason = %s (%s), want %s", got.Reason, got.Message, tc.wantReason)
			}
			if blocking := slices.Sorted(maps.Keys(group.Blocking())); !slices.Equal(blocking, tc.wantBlocking) {
				t.Errorf("Blocking = %q, want %q", blocking, tc.wantBlocking)
			}
			if got.Reason == SharedUpstream && (!maps.Equal(got.Annotations, map[string]string{}) || got.Annotations == nil || !got.Skipped()) {
				t.Errorf("held back: Annotations %v, Skipped %v; want meshkeeper's taken back, and skipped", got.Annotations, got.Skipped())
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
			for upstream, n := range walked {
				if n > 1 {
					t.Errorf("upstream %s looked up %d times", upstream, n)
				}
			}
			// Every Ingress of the group that meshkeeper can configure on its own is decided alike.
			for _, member := range group.Configured() {
				i := slices.IndexFunc(all, func(ing *networkingv1.Ingress) bool { return "shop/"+ing.Name == member })
				if reason := GroupOf(all[i], sharing, alone).Decide(all[i], alone(all[i])).Reason; reason != tc.wantReason {
					t.Errorf("Ingress %s of the group: %s, want %s", member, reason, tc.wantReason)
				}
			}
		})
	}
}
