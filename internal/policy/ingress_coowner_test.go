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
	"maps"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// An annotation the Ingress's owner applied server-side with meshkeeper's value (Argo CD with
// ServerSideApply, Helm 4, Flux) is owned by both. While meshkeeper's value stays, the Ingress is
// configured and meshkeeper keeps its share; once meshkeeper's value moves (the backend Service changed),
// the owner's value stays and the API server would refuse meshkeeper's apply of the new one: it is a
// conflict, named with the owner's field manager.
func TestIngressAnnotationSharedWithTheOwner(t *testing.T) {
	toWeb := networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}
	toAPI := networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com", path("/", toService("api", 80))))}
	argo := map[string][]string{AnnotationUpstreamVhost: {"argocd-controller"}}
	tests := map[string]struct {
		spec            networkingv1.IngressSpec
		others          map[string][]string
		wantAnnotations map[string]string
		wantReason      string
		wantMessage     []string
	}{
		"shared with meshkeeper's value: configured, meshkeeper keeps its share": {
			spec: toWeb, others: argo, wantAnnotations: meshPair, wantReason: Configured,
		},
		"shared, and meshkeeper's value moved: a conflict naming the owner": {
			spec: toAPI, others: argo, wantAnnotations: map[string]string{}, wantReason: AnnotationConflict,
			wantMessage: []string{"Ingress shop/storefront", `nginx.ingress.kubernetes.io/upstream-vhost: "web.shop.svc" (field manager "argocd-controller")`,
				`"api.shop.svc"`, "Remove the conflicting annotation"},
		},
		"shared with two managers: both named": {
			spec: toAPI, others: map[string][]string{AnnotationUpstreamVhost: {"argocd-controller", "helm"}},
			wantAnnotations: map[string]string{}, wantReason: AnnotationConflict,
			wantMessage: []string{`(field managers "argocd-controller" and "helm")`},
		},
		"meshkeeper's alone, and its value moved: meshkeeper changes it": {
			spec: toAPI, wantAnnotations: map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "api.shop.svc"},
			wantReason: Configured,
		},
		"another manager owns a key meshkeeper does not write: no conflict": {
			spec: toAPI, others: map[string][]string{"team": {"argocd-controller"}},
			wantAnnotations: map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "api.shop.svc"},
			wantReason:      Configured,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := Ingress(IngressInput{
				Ingress:           ingress(tc.spec, meshPair),
				IngressNginx:      ingressNginx(),
				NamespaceEnrolled: true,
				Controller:        controllerInjected,
				Service:           lookupShop,
				OwnedAnnotations:  sets.New(AnnotationServiceUpstream, AnnotationUpstreamVhost),
				OthersAnnotations: tc.others,
			})
			if got.Reason != tc.wantReason {
				t.Errorf("Reason = %q, want %q (message: %s)", got.Reason, tc.wantReason, got.Message)
			}
			if !maps.Equal(got.Annotations, tc.wantAnnotations) || got.Annotations == nil {
				t.Errorf("Annotations = %#v, want %#v", got.Annotations, tc.wantAnnotations)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
		})
	}
}

// An Ingress of a namespace that left the mesh keeps meshkeeper's annotations while pods there still run
// a sidecar, and its upstream-vhost follows a new backend Service. One the Ingress's owner applied too
// stays the owner's, as in the mesh: the API server would refuse meshkeeper's apply of the new value at
// every retry (a conflict with the owner's field manager), so the annotations are left as they are: a
// conflict (skipped, warned about), whose message says whose manifest to change.
func TestIngressKeptForSidecarsLeavesAValueSharedWithTheOwner(t *testing.T) {
	toAPI := networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com", path("/", toService("api", 80))))}
	in := IngressInput{
		Ingress:           ingress(toAPI, meshPair),
		IngressNginx:      ingressNginx(),
		NamespaceProxies:  2,
		Controller:        controllerInjected,
		Service:           lookupShop,
		OwnedAnnotations:  sets.New(AnnotationServiceUpstream, AnnotationUpstreamVhost),
		OthersAnnotations: map[string][]string{AnnotationUpstreamVhost: {"argocd-controller"}},
	}
	got := Ingress(in)
	if got.Reason != AnnotationConflict || !got.KeptForSidecars || !got.Skipped() {
		t.Fatalf("Reason = %q, KeptForSidecars = %v, Skipped = %v; want AnnotationConflict, kept and skipped (message: %s)",
			got.Reason, got.KeptForSidecars, got.Skipped(), got.Message)
	}
	if got.Annotations != nil {
		t.Errorf("Annotations = %#v, want nil: upstream-vhost is the owner's too, and an apply of another value is refused", got.Annotations)
	}
	for _, part := range []string{`nginx.ingress.kubernetes.io/upstream-vhost: "web.shop.svc" (field manager "argocd-controller")`,
		"no longer in the mesh", "Service shop/api", `"api.shop.svc"`} {
		if !strings.Contains(got.Message, part) {
			t.Errorf("Message %q does not contain %q", got.Message, part)
		}
	}

	// meshkeeper's alone: it follows the new backend.
	in.OthersAnnotations = nil
	got = Ingress(in)
	want := map[string]string{AnnotationServiceUpstream: "true", AnnotationUpstreamVhost: "api.shop.svc"}
	if !got.KeptForSidecars || !maps.Equal(got.Annotations, want) {
		t.Errorf("without a co-owner: KeptForSidecars = %v, Annotations = %#v; want kept, %#v", got.KeptForSidecars, got.Annotations, want)
	}
}

// Meanwhile meshkeeper adds nothing to such an Ingress: when its backend moves, only the keys it still
// holds change. A service-upstream its owner set and took off again since is not put back by meshkeeper
// in a namespace that is no longer in the mesh.
func TestIngressKeptForSidecarsAddsNothing(t *testing.T) {
	toAPI := networkingv1.IngressSpec{IngressClassName: nginxClass, Rules: rules(rule("shop.example.com", path("/", toService("api", 80))))}
	got := Ingress(IngressInput{
		Ingress:          ingress(toAPI, map[string]string{AnnotationUpstreamVhost: "web.shop.svc"}),
		IngressNginx:     ingressNginx(),
		NamespaceProxies: 1,
		Controller:       controllerInjected,
		Service:          lookupShop,
		OwnedAnnotations: sets.New(AnnotationUpstreamVhost),
	})
	want := map[string]string{AnnotationUpstreamVhost: "api.shop.svc"}
	if got.Reason != NamespaceNotEnrolled || !got.KeptForSidecars || !maps.Equal(got.Annotations, want) {
		t.Errorf("Reason = %q, KeptForSidecars = %v, Annotations = %#v; want NamespaceNotEnrolled, kept, %#v",
			got.Reason, got.KeptForSidecars, got.Annotations, want)
	}
}
