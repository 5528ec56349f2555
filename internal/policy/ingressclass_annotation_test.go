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
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
)

// A legacy class annotation that is present but empty names a class, the empty one, as the API
// server's DefaultIngressClass admission and ingress-nginx read it: the admission gives such an
// Ingress no default class, and ingress-nginx serves it only when the annotation equals its own class.
// It is not an Ingress of the cluster's default class.
func TestIngressClassEmptyLegacyAnnotation(t *testing.T) {
	ing := ingress(networkingv1.IngressSpec{
		Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))},
		map[string]string{AnnotationIngressClass: ""})
	if class, from := (ClassSelection{}).ClassOf(ing); class != "" || !strings.Contains(from, AnnotationIngressClass) {
		t.Errorf("ClassOf() = %q from %q, want the empty class from the annotation %s", class, from, AnnotationIngressClass)
	}

	for name, owned := range map[string]sets.Set[string]{
		"never configured":                  sets.New[string](),
		"configured before: taken back now": bothKeys,
	} {
		t.Run(name, func(t *testing.T) {
			annotated := ing.DeepCopy()
			if owned.Len() > 0 {
				for k, v := range meshPair {
					annotated.Annotations[k] = v
				}
			}
			d := Ingress(IngressInput{
				Ingress:           annotated,
				IngressNginx:      ingressNginx(),
				NamespaceEnrolled: true,
				Controller:        controllerInjected,
				Service:           lookupShop,
				OwnedAnnotations:  owned,
			})
			if d.Reason != ClassNotServed || d.Configured || len(d.Annotations) != 0 || d.Annotations == nil {
				t.Errorf("Ingress() = reason %q, configured %v, annotations %v; want reason %q, not configured, meshkeeper owning none",
					d.Reason, d.Configured, d.Annotations, ClassNotServed)
			}
			if !strings.Contains(d.Message, "empty") || strings.Contains(d.Message, "has no class") {
				t.Errorf("Message %q should say the Ingress's %s annotation is empty", d.Message, AnnotationIngressClass)
			}
		})
	}
}
