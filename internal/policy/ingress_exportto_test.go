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
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIngressToAServiceNotExportedToTheController: a Service that Istio does not export to the
// ingress-nginx controller's namespace (ingress-nginx here) is unknown to the controller's sidecar,
// which passes nginx's requests to its ClusterIP on unrouted, in plaintext: under STRICT mTLS, a 502.
// Istio reads the Service's networking.istio.io/exportTo annotation, and without one the mesh's
// meshConfig.defaultServiceExportTo; "*" is every namespace, "." the Service's own, "~" none.
func TestIngressToAServiceNotExportedToTheController(t *testing.T) {
	tests := map[string]struct {
		exportTo   *string  // the Service's annotation; none when nil
		defaults   []string // meshConfig.defaultServiceExportTo
		controller string   // the controller's namespace; ingress-nginx when empty

		wantReason  string
		wantMessage []string
	}{
		"no annotation and no mesh default: exported everywhere": {wantReason: Configured},
		"exported to every namespace":                            {exportTo: new("*"), wantReason: Configured},
		"exported to the controller's namespace among others, spaced": {
			exportTo: new("shop, ingress-nginx"), wantReason: Configured,
		},
		"exported to its own namespace only": {
			exportTo: new("."), wantReason: ServiceNotExported,
			wantMessage: []string{"Ingress shop/storefront sends to Service shop/web", `exports only to "."`,
				"networking.istio.io/exportTo annotation", "not to namespace ingress-nginx", "Add ingress-nginx"},
		},
		"exported to its own namespace, where the controller runs": {
			exportTo: new("."), controller: "shop", wantReason: Configured,
		},
		"exported to other namespaces by name": {
			exportTo: new("shop,payments"), wantReason: ServiceNotExported, wantMessage: []string{`"shop,payments"`},
		},
		"exported to none": {exportTo: new("~"), wantReason: ServiceNotExported},
		"the mesh's default keeps a Service without the annotation in its namespace": {
			defaults: []string{"."}, wantReason: ServiceNotExported,
			wantMessage: []string{"meshConfig.defaultServiceExportTo"},
		},
		"an empty annotation leaves the mesh's default": {
			exportTo: new(""), defaults: []string{"~"}, wantReason: ServiceNotExported,
		},
		"the annotation overrides the mesh's default": {
			exportTo: new("*"), defaults: []string{"."}, wantReason: Configured,
		},
		"a mesh default that names the controller's namespace": {
			defaults: []string{".", "ingress-nginx"}, wantReason: Configured,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.10.1"}}
			if tc.exportTo != nil {
				svc.Annotations = map[string]string{AnnotationServiceExportTo: *tc.exportTo}
			}
			spec := ingressNginx()
			if tc.controller != "" {
				spec.Controller.Namespace = tc.controller
			}
			got := Ingress(IngressInput{
				Ingress:      ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("web", 80)}, nil),
				IngressNginx: spec, NamespaceEnrolled: true, Controller: controllerInjected,
				OwnedAnnotations:       bothKeys,
				Service:                func(string) (*corev1.Service, bool) { return svc, true },
				ServiceExportToDefault: tc.defaults,
			})
			if got.Reason != tc.wantReason {
				t.Fatalf("Reason = %s (%s), want %s", got.Reason, got.Message, tc.wantReason)
			}
			want := meshPair
			if tc.wantReason != Configured {
				// Skipped: meshkeeper's annotations are taken back.
				want = map[string]string{}
				if !got.Skipped() {
					t.Errorf("Skipped() = false, want true")
				}
			}
			if !maps.Equal(got.Annotations, want) || got.Annotations == nil {
				t.Errorf("Annotations = %v, want %v", got.Annotations, want)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
		})
	}
}

func TestServiceExportToDefault(t *testing.T) {
	for values, want := range map[string][]string{
		"": nil,
		`{"meshConfig": {"accessLogFile": "/dev/stdout"}}`:                   nil,
		`{"meshConfig": {"defaultServiceExportTo": ["."]}}`:                  {"."},
		`{"meshConfig": {"defaultServiceExportTo": [".", "ingress-nginx"]}}`: {".", "ingress-nginx"},
		// Not a list of names: istiod would refuse it, and meshkeeper judges by Istio's default.
		`{"meshConfig": {"defaultServiceExportTo": "."}}`: nil,
	} {
		if got := ServiceExportToDefault(meshSpecWith(t, false, values)); !slices.Equal(got, want) {
			t.Errorf("ServiceExportToDefault(%s) = %q, want %q", values, got, want)
		}
	}
}
