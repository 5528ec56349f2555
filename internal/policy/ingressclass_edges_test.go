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
	"k8s.io/utils/ptr"
)

// An empty spec.ingressClassName names no class: the legacy annotation decides, and without it the
// Ingress has none. The cluster's default IngressClass does not give it one: the API server's admission
// sets it on Ingresses as they are created, and ingress-nginx never reads it.
func TestIngressClassEmptyClassName(t *testing.T) {
	tests := map[string]struct {
		annotations map[string]string
		want        string
	}{
		"the legacy annotation decides": {annotations: map[string]string{AnnotationIngressClass: "nginx"}, want: "nginx"},
		"no class":                      {want: ""},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations},
				Spec: networkingv1.IngressSpec{IngressClassName: ptr.To("")}}
			if got, _ := (ClassSelection{}).ClassOf(ing); got != tt.want {
				t.Errorf("ClassOf() = %q, want %q", got, tt.want)
			}
		})
	}
}
