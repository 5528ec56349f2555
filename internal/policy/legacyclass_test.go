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
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/utils/ptr"
)

// ingressNginxClass is the class ingress-nginx's store finds for an Ingress (GetIngressClass), and
// whether it serves it at all: spec.ingressClassName, unless the controller ignores it, when its
// informer keeps the IngressClass of that name (one of its --controller-class, or, with
// --ingress-class-by-name, the one named its --ingress-class), with no fallback to the annotation;
// then the legacy annotation, which must be its --ingress-class; then, without either,
// --watch-ingress-without-class, as the wildcard "_".
func ingressNginxClass(ing *networkingv1.Ingress, classes map[string]string, s ClassSelection, watchWithoutClass bool) (string, bool) {
	if name := ing.Spec.IngressClassName; !s.IgnoresClassName && name != nil {
		controller, ok := classes[*name]
		return *name, ok && (controller == s.ControllerClass || s.ByName && *name == s.IngressClass)
	}
	if class, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return class, class == s.IngressClass
	}
	return "_", watchWithoutClass
}

// In every mode of the controller (reading spec.ingressClassName or not, serving Ingresses without a
// class or not, by name or not, whatever its --ingress-class) an Ingress is a mesh Ingress exactly when
// ingress-nginx serves it and its class is listed (or it is served as one without a class), and one it
// serves of a class not listed is ClassNotListed. The legacy annotation is served only when it is the
// controller's --ingress-class: listing another class does not make the controller serve it. The
// classes listed are IngressClasses of the controller, as spec.ingressNginx.ingressClassNames declares
// them.
func TestAMeshIngressByTheLegacyAnnotationIsOfTheControllersIngressClass(t *testing.T) {
	classes := map[string]string{"nginx": DefaultControllerClass, "internal": DefaultControllerClass, "public": "example.com/other",
		"traefik": "traefik.io/ingress-controller"}
	lookup := func(name string) (string, bool) {
		controller, ok := classes[name]
		return controller, ok
	}
	for _, forbidden := range []bool{false, true} {
		for _, watch := range []bool{false, true} {
			for _, byName := range []bool{false, true} {
				for _, ingressClass := range []string{"", "internal", "public"} {
					args := []string{"/nginx-ingress-controller"}
					if watch {
						args = append(args, FlagWatchIngressWithoutClass)
					}
					if byName {
						args = append(args, FlagIngressClassByName)
					}
					if ingressClass != "" {
						args = append(args, FlagIngressClass, ingressClass)
					}
					template := controllerTemplate(nil, nil)
					template.Spec.Containers[0].Args = args
					for _, listed := range [][]string{{"nginx"}, {"nginx", "internal"}, {"internal"}} {
						spec := ingressNginx()
						spec.IngressClassNames = listed
						controller := IngressNginxPodTemplate(PodTemplateInput{IngressNginx: spec, Template: template, IngressClassesForbidden: forbidden})
						if !controller.Configured {
							t.Fatalf("controller %v: decision %s (%s), want configured", args, controller.Reason, controller.Message)
						}
						for _, className := range []*string{nil, ptr.To("nginx"), ptr.To("internal"), ptr.To("public"), ptr.To("traefik"), ptr.To("missing")} {
							for _, annotation := range []*string{nil, ptr.To("nginx"), ptr.To("internal"), ptr.To("public"), ptr.To("")} {
								var annotations map[string]string
								if annotation != nil {
									annotations = map[string]string{AnnotationIngressClass: *annotation}
								}
								ing := ingress(networkingv1.IngressSpec{IngressClassName: className, DefaultBackend: toService("web", 80)}, annotations)
								name := fmt.Sprintf("controller %v, forbidden %v, listed %v, spec.ingressClassName %v, annotation %v",
									args[1:], forbidden, listed, ptr.Deref(className, "<none>"), ptr.Deref(annotation, "<none>"))
								d := Ingress(IngressInput{Ingress: ing, IngressNginx: spec, NamespaceEnrolled: true, Controller: controller,
									Service: lookupShop, IngressClassController: lookup})
								class, served := ingressNginxClass(ing, classes, controller.Classes, watch)
								want := ClassNotServed
								switch {
								case served && (class == "_" || slices.Contains(listed, class)):
									want = Configured
								case served:
									want = ClassNotListed
								}
								if d.Reason != want || d.Configured != (want == Configured) {
									t.Errorf("%s: decision %s, configured %v (%s); want %s", name, d.Reason, d.Configured, d.Message, want)
									continue
								}
								fromAnnotation := annotation != nil && (className == nil || forbidden)
								if !served && fromAnnotation && slices.Contains(listed, *annotation) && !strings.Contains(d.Message, FlagIngressClass) {
									t.Errorf("%s: the message %q does not name the controller's %s", name, d.Message, FlagIngressClass)
								}
							}
						}
					}
				}
			}
		}
	}
}

// Without the controller's workload its flags are unknown: an Ingress of a listed class by the
// annotation is taken as the mesh's, and waits for the controller's sidecar.
func TestALegacyAnnotationOfAListedClassWithoutTheControllersWorkload(t *testing.T) {
	spec := ingressNginx()
	spec.IngressClassNames = []string{"internal"}
	d := Ingress(IngressInput{Ingress: ingress(networkingv1.IngressSpec{DefaultBackend: toService("web", 80)},
		map[string]string{AnnotationIngressClass: "internal"}), IngressNginx: spec, NamespaceEnrolled: true,
		Controller: withoutSidecar(ControllerNotFound), Service: lookupShop})
	if d.Reason != ControllerWithoutSidecar {
		t.Errorf("decision %s (%s), want %s", d.Reason, d.Message, ControllerWithoutSidecar)
	}
}
