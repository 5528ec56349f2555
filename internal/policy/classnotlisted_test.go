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

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

// The controller's flags that choose its Ingresses by class are read as its pflag reads them.
func TestClassSelectionOfReadsTheControllersFlags(t *testing.T) {
	defaults := ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: DefaultIngressClass}
	tests := map[string]struct {
		containers []corev1.Container
		want       ClassSelection
	}{
		"no flags: the defaults": {[]corev1.Container{{Args: []string{"/nginx-ingress-controller", "--election-id=x"}}}, defaults},
		"controller class with =": {[]corev1.Container{{Args: []string{"/nginx-ingress-controller", "--controller-class=example.com/internal"}}},
			ClassSelection{Found: true, ControllerClass: "example.com/internal", IngressClass: DefaultIngressClass}},
		"ingress class as the next argument, by name": {[]corev1.Container{{Command: []string{"/nginx-ingress-controller", "--ingress-class", "internal"},
			Args: []string{"--ingress-class-by-name"}}},
			ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "internal", ByName: true}},
		"by name false, the last one counts": {[]corev1.Container{{Args: []string{"--ingress-class-by-name", "--ingress-class-by-name=false"}}}, defaults},
		"nothing after --":                   {[]corev1.Container{{Args: []string{"--", "--controller-class=other"}}}, defaults},
		"the controller's, not a sidecar's": {[]corev1.Container{{Name: "sidecar", Args: []string{"--ingress-class=other"}},
			{Name: "controller", Args: []string{"/nginx-ingress-controller", "--ingress-class=public"}}},
			ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "public"}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			got := ClassSelectionOf(&corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: tt.containers}})
			if got != tt.want {
				t.Errorf("ClassSelectionOf() = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := ClassSelectionOf(nil); got.Found {
		t.Errorf("ClassSelectionOf(nil) = %+v, want no controller", got)
	}
}

// An Ingress of a class spec.ingressNginx.ingressClassNames does not list, but that the controller
// serves all the same (as ingress-nginx's store decides it), bypasses the controller's sidecar: in an
// enrolled namespace it is a skipped mesh Ingress (ClassNotListed) whose message says to list the
// class, not an Ingress outside the mesh.
func TestAnIngressOfAClassTheControllerServesButNotListedIsSkipped(t *testing.T) {
	classes := map[string]string{"internal": DefaultControllerClass, "traefik": "traefik.io/ingress-controller", "public": "example.com/other"}
	lookup := func(name string) (string, bool) {
		controller, ok := classes[name]
		return controller, ok
	}
	defaults := ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: DefaultIngressClass}
	byName := ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "public", ByName: true}
	tests := map[string]struct {
		className  *string
		annotation map[string]string
		selection  ClassSelection
		enrolled   bool
		want       string
	}{
		"IngressClass of the controller's --controller-class": {className: ptr.To("internal"), selection: defaults, enrolled: true, want: ClassNotListed},
		"the same outside the mesh":                           {className: ptr.To("internal"), selection: defaults, want: ClassNotServed},
		"IngressClass of another controller":                  {className: ptr.To("traefik"), selection: defaults, enrolled: true, want: ClassNotServed},
		"no such IngressClass":                                {className: ptr.To("missing"), selection: defaults, enrolled: true, want: ClassNotServed},
		"IngressClass named --ingress-class, by name":         {className: ptr.To("public"), selection: byName, enrolled: true, want: ClassNotListed},
		"IngressClass named --ingress-class, not by name":     {className: ptr.To("public"), selection: ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: "public"}, enrolled: true, want: ClassNotServed},
		"legacy annotation of its --ingress-class":            {annotation: map[string]string{AnnotationIngressClass: "nginx"}, selection: defaults, enrolled: true, want: ClassNotListed},
		"legacy annotation of another class":                  {annotation: map[string]string{AnnotationIngressClass: "internal"}, selection: defaults, enrolled: true, want: ClassNotServed},
		"no controller workload":                              {className: ptr.To("internal"), enrolled: true, want: ClassNotServed},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			spec := ingressNginx()
			spec.IngressClassNames = []string{"listed"}
			controller := controllerInjected
			controller.Classes = tt.selection
			d := Ingress(IngressInput{
				Ingress: ingress(networkingv1.IngressSpec{IngressClassName: tt.className,
					Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, tt.annotation),
				IngressNginx:           spec,
				NamespaceEnrolled:      tt.enrolled,
				Controller:             controller,
				Service:                lookupShop,
				IngressClassController: lookup,
			})
			if d.Reason != tt.want || d.Configured || d.Annotations == nil || len(d.Annotations) != 0 {
				t.Fatalf("Ingress() = reason %q, configured %v, annotations %v; want reason %q, meshkeeper owning none",
					d.Reason, d.Configured, d.Annotations, tt.want)
			}
			if skipped := tt.want == ClassNotListed; d.Skipped() != skipped {
				t.Errorf("Skipped() = %v, want %v", d.Skipped(), skipped)
			}
			if tt.want == ClassNotListed && !strings.Contains(d.Message, "spec.ingressNginx.ingressClassNames") {
				t.Errorf("Message %q should say to add the class to spec.ingressNginx.ingressClassNames", d.Message)
			}
		})
	}
}
