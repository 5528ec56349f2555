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
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ingressClassNamed(name, isDefault string) networkingv1.IngressClass {
	c := networkingv1.IngressClass{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if isDefault != "" {
		c.Annotations = map[string]string{networkingv1.AnnotationIsDefaultIngressClass: isDefault}
	}
	return c
}

func TestDefaultIngressClass(t *testing.T) {
	tests := map[string]struct {
		classes []networkingv1.IngressClass
		want    string
	}{
		"no IngressClasses": {classes: nil, want: ""},
		"no class is marked default": {
			classes: []networkingv1.IngressClass{ingressClassNamed("nginx", ""), ingressClassNamed("traefik", "")},
			want:    "",
		},
		"the one class marked default": {
			classes: []networkingv1.IngressClass{ingressClassNamed("traefik", ""), ingressClassNamed("nginx", "true")},
			want:    "nginx",
		},
		"a class marked is-default-class=false is not the default": {
			classes: []networkingv1.IngressClass{ingressClassNamed("nginx", "false"), ingressClassNamed("traefik", "true")},
			want:    "traefik",
		},
		"only the exact value true counts, as in the API server's admission": {
			classes: []networkingv1.IngressClass{ingressClassNamed("nginx", "True")},
			want:    "",
		},
		"two defaults: no single default, so none": {
			classes: []networkingv1.IngressClass{ingressClassNamed("nginx", "true"), ingressClassNamed("traefik", "true")},
			want:    "",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := DefaultIngressClass(tc.classes); got != tc.want {
				t.Errorf("DefaultIngressClass = %q, want %q", got, tc.want)
			}
		})
	}
}
