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
	"k8s.io/utils/ptr"
)

// servedByIngressNginx is whether an ingress-nginx controller serves an Ingress, as its store decides
// it (GetIngressClass, and the IngressClasses its informer keeps: those of its --controller-class):
// when it could not list IngressClasses as it started (ignoring), spec.ingressClassName counts for
// nothing; otherwise it decides, by the IngressClass it names. Then the legacy annotation, which must be
// its --ingress-class; then, without it, --watch-ingress-without-class.
func servedByIngressNginx(ing *networkingv1.Ingress, classes map[string]string, watchWithoutClass, ignoring bool) bool {
	if name := ing.Spec.IngressClassName; !ignoring && name != nil {
		return classes[*name] == DefaultControllerClass
	}
	if class, ok := ing.Annotations[AnnotationIngressClass]; ok {
		return class == DefaultIngressClass
	}
	return watchWithoutClass
}

// A controller whose service account may not list IngressClasses ignores spec.ingressClassName: an
// Ingress is then a mesh Ingress by its legacy annotation, or as one without a class, exactly when
// ingress-nginx serves it, and meshkeeper puts its annotations on exactly those.
func TestAMeshIngressIsOneTheControllerServesWhenItIgnoresIngressClasses(t *testing.T) {
	classes := map[string]string{"nginx": DefaultControllerClass, "traefik": "traefik.io/ingress-controller"}
	lookup := func(name string) (string, bool) {
		controller, ok := classes[name]
		return controller, ok
	}
	for _, forbidden := range []bool{false, true} {
		for _, watch := range []bool{false, true} {
			args := []string{"/nginx-ingress-controller"}
			if watch {
				args = append(args, FlagWatchIngressWithoutClass)
			}
			template := controllerTemplate(nil, nil)
			template.Spec.Containers[0].Args = args
			controller := IngressNginxPodTemplate(PodTemplateInput{IngressNginx: ingressNginx(), Template: template, IngressClassesForbidden: forbidden})
			if !controller.Configured || controller.Classes.IgnoresClassName != forbidden {
				t.Fatalf("controller decision %s, ignores spec.ingressClassName %v; want configured, ignoring it %v",
					controller.Reason, controller.Classes.IgnoresClassName, forbidden)
			}
			if says := strings.Contains(controller.Message, "may not list IngressClasses"); says != forbidden {
				t.Errorf("forbidden %v: the controller's message %q says so: %v", forbidden, controller.Message, says)
			}
			for _, className := range []*string{nil, ptr.To("nginx"), ptr.To("traefik"), ptr.To("missing")} {
				for _, annotation := range []*string{nil, ptr.To("nginx"), ptr.To("internal"), ptr.To("")} {
					var annotations map[string]string
					if annotation != nil {
						annotations = map[string]string{AnnotationIngressClass: *annotation}
					}
					ing := ingress(networkingv1.IngressSpec{IngressClassName: className, DefaultBackend: toService("web", 80)}, annotations)
					name := fmt.Sprintf("forbidden %v, watching without class %v, spec.ingressClassName %v, annotation %v",
						forbidden, watch, ptr.Deref(className, "<none>"), ptr.Deref(annotation, "<none>"))
					d := Ingress(IngressInput{Ingress: ing, IngressNginx: ingressNginx(), NamespaceEnrolled: true, Controller: controller,
						Service: lookupShop, IngressClassController: lookup})
					served := servedByIngressNginx(ing, classes, watch, forbidden)
					if mesh := d.Reason != ClassNotServed; mesh != served {
						t.Errorf("%s: decision %s (%s); ingress-nginx serves it: %v", name, d.Reason, d.Message, served)
						continue
					}
					if d.Configured != served {
						t.Errorf("%s: configured %v, served %v (%s: %s)", name, d.Configured, served, d.Reason, d.Message)
					}
					if forbidden && !served && className != nil && annotation == nil &&
						!strings.Contains(d.Message, "ignores") {
						t.Errorf("%s: the message %q does not say the controller ignores spec.ingressClassName", name, d.Message)
					}
				}
			}
		}
	}
}

// The controller talks to the API server as its pod's service account, unless it runs with a
// kubeconfig, whose credentials are someone else's.
func TestServiceAccountOf(t *testing.T) {
	tests := map[string]struct {
		account, deprecated string
		args                []string
		want                string
		ok                  bool
	}{
		"the namespace's default":      {want: "default", ok: true},
		"spec.serviceAccountName":      {account: "ingress-nginx", deprecated: "old", want: "ingress-nginx", ok: true},
		"spec.serviceAccount":          {deprecated: "old", want: "old", ok: true},
		"with a kubeconfig":            {account: "ingress-nginx", args: []string{"--kubeconfig", "/etc/kube/config"}},
		"with an empty kubeconfig":     {account: "ingress-nginx", args: []string{"--kubeconfig="}, want: "ingress-nginx", ok: true},
		"a kubeconfig that is a value": {account: "ingress-nginx", args: []string{"--configmap", "--kubeconfig=/x"}, want: "ingress-nginx", ok: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			template := controllerTemplate(nil, nil)
			template.Spec.ServiceAccountName, template.Spec.DeprecatedServiceAccount = tc.account, tc.deprecated
			template.Spec.Containers[0].Args = append([]string{"/nginx-ingress-controller"}, tc.args...)
			if got, ok := ServiceAccountOf(template); got != tc.want || ok != tc.ok {
				t.Errorf("ServiceAccountOf() = %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
	if _, ok := ServiceAccountOf(nil); ok {
		t.Error("ServiceAccountOf(nil) names a service account")
	}
}
