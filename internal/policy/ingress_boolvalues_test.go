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
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// ingress-nginx reads service-upstream with strconv.ParseBool, so "True", "TRUE", "t" and "1" turn it
// on as "true" does. An owner's such value does what meshkeeper's would: it is neither a conflict nor
// replaced, and meshkeeper adds only upstream-vhost. A value ParseBool reads as false, or cannot read,
// is a conflict as before.
func TestIngressOwnersServiceUpstreamAsIngressNginxReadsIt(t *testing.T) {
	tests := map[string]struct {
		value           string
		owned           sets.Set[string]
		wantAnnotations map[string]string
		wantConfigured  bool
		wantReason      string
	}{
		"True": {value: "True",
			wantAnnotations: map[string]string{AnnotationUpstreamVhost: "web.shop.svc"}, wantConfigured: true, wantReason: Configured},
		"TRUE": {value: "TRUE",
			wantAnnotations: map[string]string{AnnotationUpstreamVhost: "web.shop.svc"}, wantConfigured: true, wantReason: Configured},
		"1": {value: "1",
			wantAnnotations: map[string]string{AnnotationUpstreamVhost: "web.shop.svc"}, wantConfigured: true, wantReason: Configured},
		"False is a conflict": {value: "False", wantAnnotations: map[string]string{}, wantReason: AnnotationConflict},
		"0 is a conflict":     {value: "0", wantAnnotations: map[string]string{}, wantReason: AnnotationConflict},
		"yes, which ingress-nginx cannot read, is a conflict": {value: "yes",
			wantAnnotations: map[string]string{}, wantReason: AnnotationConflict},
		"meshkeeper's own value stays its own": {value: "true", owned: bothKeys,
			wantAnnotations: meshPair, wantConfigured: true, wantReason: Configured},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ing := ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
				map[string]string{AnnotationServiceUpstream: tc.value})
			if tc.owned != nil {
				ing.Annotations[AnnotationUpstreamVhost] = "web.shop.svc"
			}
			got := Ingress(IngressInput{Ingress: ing, IngressNginx: ingressNginx(), NamespaceEnrolled: true,
				Controller: controllerInjected, Service: lookupShop, OwnedAnnotations: tc.owned})
			if got.Reason != tc.wantReason || got.Configured != tc.wantConfigured {
				t.Errorf("Reason, Configured = %q, %v; want %q, %v (message: %s)", got.Reason, got.Configured, tc.wantReason, tc.wantConfigured, got.Message)
			}
			if !maps.Equal(got.Annotations, tc.wantAnnotations) || got.Annotations == nil {
				t.Errorf("Annotations = %#v, want %#v", got.Annotations, tc.wantAnnotations)
			}
		})
	}
}
