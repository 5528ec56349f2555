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
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// An Ingress whose legacy annotation names a class that is not listed is told how to put it in the
// mesh, and the advice works: by the annotation the controller serves its --ingress-class only, so the
// message offers for the annotation that class alone (when listed), and the other listed classes only
// through spec.ingressClassName, which a controller that ignores it is not offered at all.
func TestTheAdviceForALegacyAnnotationOfAnotherClassWorks(t *testing.T) {
	tests := map[string]struct {
		listed    []string
		args      []string
		forbidden bool
		want      []string
	}{
		"the --ingress-class is listed with another class": {
			listed: []string{"internal", "nginx"},
			want:   []string{`set the annotation to "nginx"`, FlagIngressClass, `remove the annotation and set spec.ingressClassName to "internal" or "nginx"`},
		},
		"the --ingress-class is not listed": {
			listed: []string{"internal"},
			want:   []string{`remove the annotation and set spec.ingressClassName to "internal"`},
		},
		"a listed --ingress-class other than the default": {
			listed: []string{"nginx", "internal"}, args: []string{FlagIngressClass + "=internal"},
			want: []string{`set the annotation to "internal"`, `set spec.ingressClassName to "nginx" or "internal"`},
		},
		"spec.ingressClassName ignored": {
			listed: []string{"internal", "nginx"}, forbidden: true,
			want: []string{`set the annotation to "nginx"`, "ignores spec.ingressClassName"},
		},
		"spec.ingressClassName ignored, and the --ingress-class not listed": {
			listed: []string{"internal"}, forbidden: true,
			want: []string{`run the controller with --ingress-class set to "internal" and set the annotation to that class`},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			spec := ingressNginx()
			spec.IngressClassNames = tt.listed
			template := controllerTemplate(nil, nil)
			template.Spec.Containers[0].Args = append([]string{"/nginx-ingress-controller"}, tt.args...)
			controller := IngressNginxPodTemplate(PodTemplateInput{IngressNginx: spec, Template: template, IngressClassesForbidden: tt.forbidden})
			if !controller.Configured {
				t.Fatalf("controller: decision %s (%s), want configured", controller.Reason, controller.Message)
			}
			d := Ingress(IngressInput{Ingress: ingress(networkingv1.IngressSpec{DefaultBackend: toService("web", 80)},
				map[string]string{AnnotationIngressClass: "public"}), IngressNginx: spec, NamespaceEnrolled: true,
				Controller: controller, Service: lookupShop})
			if d.Reason != ClassNotServed {
				t.Fatalf("decision %s (%s), want %s", d.Reason, d.Message, ClassNotServed)
			}
			for _, want := range tt.want {
				if !strings.Contains(d.Message, want) {
					t.Errorf("message %q does not say %q", d.Message, want)
				}
			}
			for _, class := range tt.listed {
				if class == controller.Classes.IngressClass {
					continue
				}
				for _, wrong := range []string{fmt.Sprintf("set the annotation to %q", class), "use class"} {
					if strings.Contains(d.Message, wrong) {
						t.Errorf("message %q says %q, which the controller would not serve by the annotation", d.Message, wrong)
					}
				}
			}
			if tt.forbidden && strings.Contains(d.Message, "set spec.ingressClassName to") {
				t.Errorf("message %q advises spec.ingressClassName, which the controller ignores", d.Message)
			}
		})
	}
}
