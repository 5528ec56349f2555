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

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
)

// templateWithArgs is a pod template whose controller container runs the controller with args.
func templateWithArgs(args ...string) *corev1.PodTemplateSpec {
	return &corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{
		{Name: "controller", Args: append([]string{"/nginx-ingress-controller"}, args...)}}}}
}

// The controller's --watch-namespace and --watch-namespace-selector are read as its pflag reads them,
// and judged as ingress-nginx judges them as it starts: the one namespace, or the namespaces whose
// labels match the selector; both at once, or a selector that does not parse, stop it, and it serves
// no namespace's Ingresses.
func TestNamespaceScopeWatchesTheNamespacesTheControllerWatches(t *testing.T) {
	team := map[string]string{"team": "shop"}
	other := map[string]string{"team": "other"}
	tests := map[string]struct {
		args    []string
		refused bool
		// watched and unwatched are namespaces (name and labels) the controller serves, and does not.
		watched, unwatched map[string]map[string]string
	}{
		"no flags: every namespace":          {watched: map[string]map[string]string{"shop": nil, "other": other}},
		"--watch-namespace with =":           {args: []string{"--watch-namespace=shop"}, watched: map[string]map[string]string{"shop": other}, unwatched: map[string]map[string]string{"other": team}},
		"--watch-namespace as two args":      {args: []string{"--watch-namespace", "shop"}, watched: map[string]map[string]string{"shop": nil}, unwatched: map[string]map[string]string{"other": nil}},
		"--watch-namespace empty: every":     {args: []string{"--watch-namespace="}, watched: map[string]map[string]string{"shop": nil, "other": nil}},
		"the last --watch-namespace":         {args: []string{"--watch-namespace=other", "--watch-namespace=shop"}, watched: map[string]map[string]string{"shop": nil}, unwatched: map[string]map[string]string{"other": nil}},
		"--watch-namespace after -- is none": {args: []string{"--", "--watch-namespace=other"}, watched: map[string]map[string]string{"shop": nil}},
		"a selector":                         {args: []string{"--watch-namespace-selector=team=shop"}, watched: map[string]map[string]string{"shop": team, "any": team}, unwatched: map[string]map[string]string{"shop": other, "other": nil}},
		"a set-based selector":               {args: []string{"--watch-namespace-selector", "team in (shop),!legacy"}, watched: map[string]map[string]string{"shop": team}, unwatched: map[string]map[string]string{"old": {"team": "shop", "legacy": ""}}},
		"a selector of blanks: every":        {args: []string{"--watch-namespace-selector= "}, watched: map[string]map[string]string{"shop": nil, "other": other}},
		"both: it exits":                     {args: []string{"--watch-namespace=shop", "--watch-namespace-selector=team=shop"}, refused: true, unwatched: map[string]map[string]string{"shop": team}},
		"a selector that does not parse":     {args: []string{"--watch-namespace-selector=team in (shop"}, refused: true, unwatched: map[string]map[string]string{"shop": team, "other": nil}},
		"an empty one beside the other":      {args: []string{"--watch-namespace=", "--watch-namespace-selector=team=shop"}, watched: map[string]map[string]string{"shop": team}, unwatched: map[string]map[string]string{"other": other}},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			scope := NamespaceScopeOf(templateWithArgs(tt.args...))
			if (scope.Refused != "") != tt.refused {
				t.Errorf("Refused = %q, want refused: %v", scope.Refused, tt.refused)
			}
			for namespace, labels := range tt.watched {
				if watched, why := scope.Watches(namespace, labels); !watched {
					t.Errorf("Watches(%s, %v) = false (%s), want true", namespace, labels, why)
				}
			}
			for namespace, labels := range tt.unwatched {
				if watched, why := scope.Watches(namespace, labels); watched || why == "" {
					t.Errorf("Watches(%s, %v) = %v, %q; want false, and why", namespace, labels, watched, why)
				}
			}
		})
	}
	if watched, _ := NamespaceScopeOf(nil).Watches("shop", nil); !watched {
		t.Error("no workload: NamespaceScopeOf(nil) should judge no namespace (ControllerWithoutSidecar does)")
	}
}

// An Ingress of a namespace the controller does not watch is never served by it, whatever its class:
// it is not a mesh Ingress (ClassNotServed, not skipped), and the annotations meshkeeper set on it are
// taken back, as for an Ingress whose class the controller no longer serves, even while pods of its
// namespace, out of the mesh, still run a sidecar (another controller serves it, not the mesh's).
func TestAnIngressOfANamespaceTheControllerDoesNotWatchIsNotAMeshIngress(t *testing.T) {
	classes := map[string]string{"internal": DefaultControllerClass}
	lookup := func(name string) (string, bool) {
		controller, ok := classes[name]
		return controller, ok
	}
	tests := map[string]struct {
		args       []string
		labels     map[string]string
		className  string
		enrolled   bool
		proxies    int
		owned      bool
		want       string
		wantInText string
	}{
		"watched: configured":                            {args: []string{"--watch-namespace=shop"}, className: "nginx", enrolled: true, want: Configured},
		"another namespace":                              {args: []string{"--watch-namespace=ingress-nginx"}, className: "nginx", enrolled: true, want: ClassNotServed, wantInText: "--watch-namespace"},
		"another namespace, annotated before":            {args: []string{"--watch-namespace=ingress-nginx"}, className: "nginx", enrolled: true, owned: true, want: ClassNotServed},
		"another namespace, left the mesh with sidecars": {args: []string{"--watch-namespace=ingress-nginx"}, className: "nginx", proxies: 2, owned: true, want: ClassNotServed},
		"a served class not listed, not watched":         {args: []string{"--watch-namespace=ingress-nginx"}, className: "internal", enrolled: true, want: ClassNotServed},
		"selector matches":                               {args: []string{"--watch-namespace-selector=edge=nginx"}, labels: map[string]string{"edge": "nginx"}, className: "nginx", enrolled: true, want: Configured},
		"selector does not match":                        {args: []string{"--watch-namespace-selector=edge=nginx"}, labels: map[string]string{"edge": "traefik"}, className: "nginx", enrolled: true, owned: true, want: ClassNotServed, wantInText: `"edge=nginx"`},
		"refused flags":                                  {args: []string{"--watch-namespace=shop", "--watch-namespace-selector=edge=nginx"}, labels: map[string]string{"edge": "nginx"}, className: "nginx", enrolled: true, owned: true, want: ClassNotServed, wantInText: "serves no Ingress"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			controller := controllerInjected
			controller.Classes = ClassSelection{Found: true, ControllerClass: DefaultControllerClass, IngressClass: DefaultIngressClass}
			controller.Namespaces = NamespaceScopeOf(templateWithArgs(tt.args...))
			ing := ingress(networkingv1.IngressSpec{IngressClassName: ptr.To(tt.className),
				Rules: rules(rule("shop.example.com", path("/", toService("web", 80))))}, nil)
			owned := sets.New[string]()
			if tt.owned {
				ing.Annotations = maps.Clone(meshPair)
				owned = bothKeys
			}
			d := Ingress(IngressInput{
				Ingress:                ing,
				IngressNginx:           ingressNginx(),
				NamespaceEnrolled:      tt.enrolled,
				NamespaceLabels:        tt.labels,
				NamespaceProxies:       tt.proxies,
				Controller:             controller,
				Service:                lookupShop,
				OwnedAnnotations:       owned,
				IngressClassController: lookup,
			})
			if d.Reason != tt.want {
				t.Fatalf("Ingress() = reason %q (%s), want %q", d.Reason, d.Message, tt.want)
			}
			if tt.want == Configured {
				return
			}
			if d.Configured || d.Skipped() || d.KeptForSidecars || d.Annotations == nil || len(d.Annotations) != 0 {
				t.Errorf("Ingress() = configured %v, skipped %v, kept %v, annotations %v; want an Ingress outside the mesh, meshkeeper owning none",
					d.Configured, d.Skipped(), d.KeptForSidecars, d.Annotations)
			}
			if !strings.Contains(d.Message, tt.wantInText) || !strings.Contains(d.Message, "namespace shop") {
				t.Errorf("Message %q should name namespace shop and %q", d.Message, tt.wantInText)
			}
		})
	}
}

// The decision about the controller carries which namespaces it watches, whatever else it decides, and
// says so when the controller refuses its namespace flags and serves no Ingress.
func TestIngressNginxPodTemplateReadsTheNamespacesTheControllerWatches(t *testing.T) {
	in := PodTemplateInput{IngressNginx: ingressNginx(), Template: templateWithArgs("--watch-namespace=shop")}
	if d := IngressNginxPodTemplate(in); !d.Configured || d.Namespaces.Namespace != "shop" {
		t.Errorf("IngressNginxPodTemplate() = configured %v, namespaces %+v; want configured, watching shop", d.Configured, d.Namespaces)
	}
	in.Template.Spec.HostNetwork = true
	if d := IngressNginxPodTemplate(in); d.Configured || d.Namespaces.Namespace != "shop" {
		t.Errorf("IngressNginxPodTemplate() with hostNetwork = configured %v, namespaces %+v; want not configured, watching shop", d.Configured, d.Namespaces)
	}
	in = PodTemplateInput{IngressNginx: ingressNginx(), Template: templateWithArgs("--watch-namespace-selector=team in (")}
	if d := IngressNginxPodTemplate(in); !d.Configured || !strings.Contains(d.Message, "serves no Ingress") {
		t.Errorf("IngressNginxPodTemplate() = configured %v, %q; want configured, saying it serves no Ingress", d.Configured, d.Message)
	}
}
