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
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"istio.io/istio/manifests"
	networkingv1 "k8s.io/api/networking/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// injectorWebhook is the istiod chart's sidecar injector webhook, as meshkeeper ships it.
const injectorWebhook = "charts/istio-control/istio-discovery/templates/mutatingwebhook.yaml"

// TestNeverInjectedIsTheInjectorsList: the namespaces meshkeeper never enrolls, and where a controller
// gets no sidecar, are exactly those the shipped istiod chart's injector webhook leaves out by name.
// Istio's injector skips the same ones in its code (inject.IgnoredNamespaces), whatever the labels of
// the namespace or the pod.
func TestNeverInjectedIsTheInjectorsList(t *testing.T) {
	data, err := fs.ReadFile(manifests.FS, injectorWebhook)
	if err != nil {
		t.Fatal(err)
	}
	lists := regexp.MustCompile(`values: (\["kube-system"[^\]]*\])`).FindAllSubmatch(data, -1)
	if len(lists) == 0 {
		t.Fatalf("%s names no namespaces the injector leaves out", injectorWebhook)
	}
	for _, list := range lists {
		var names []string
		if err := json.Unmarshal(list[1], &names); err != nil {
			t.Fatal(err)
		}
		if want := sets.New(names...); !neverInjected.Equal(want) {
			t.Errorf("meshkeeper's never-injected namespaces are %v, the injector's %v", sets.List(neverInjected), sets.List(want))
		}
	}
}

// TestTheCRDRefusesEveryNeverInjectedNamespace: the CRD's rule on spec.injection.namespaces refuses
// exactly the namespaces meshkeeper never enrolls, so that listing one fails at apply time instead of
// leaving it silently out of the mesh.
func TestTheCRDRefusesEveryNeverInjectedNamespace(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "mesh.meshkeeper.io_servicemeshes.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(data, &crd); err != nil {
		t.Fatal(err)
	}
	schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	for _, field := range []string{"spec", "injection", "namespaces"} {
		next, ok := schema.Properties[field]
		if !ok {
			t.Fatalf("the CRD's schema has no %s", field)
		}
		schema = &next
	}
	listed := regexp.MustCompile(`n in \[([^\]]*)\]`)
	var refused sets.Set[string]
	for _, rule := range schema.XValidations {
		m := listed.FindStringSubmatch(rule.Rule)
		if m == nil {
			continue
		}
		refused = sets.New[string]()
		for _, name := range strings.Split(m[1], ",") {
			refused.Insert(strings.Trim(strings.TrimSpace(name), "'"))
		}
		for _, name := range sets.List(neverInjected) {
			if !strings.Contains(rule.Message, name) {
				t.Errorf("the rule's message %q does not name %s", rule.Message, name)
			}
		}
	}
	if !neverInjected.Equal(refused) {
		t.Errorf("the CRD refuses %v in spec.injection.namespaces; want the never-injected namespaces %v",
			sets.List(refused), sets.List(neverInjected))
	}
}

// TestNeverInjectedNamespaceIsNeverEnrolled: an empty namespaceSelector selects every namespace, but
// one the injector never injects is not enrolled: its pods would count as without a sidecar for ever.
func TestNeverInjectedNamespaceIsNeverEnrolled(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		Injection: meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{}}}
	e, err := NewEnrollment(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range sets.List(neverInjected) {
		d := e.Namespace(namespace(name, nil), nil)
		if d.Enroll || d.Reason != SystemNamespace || len(d.Labels) != 0 || d.Labels == nil {
			t.Errorf("namespace %s: Enroll %v, Reason %s, Labels %v; want not enrolled, %s, and meshkeeper's label taken back",
				name, d.Enroll, d.Reason, d.Labels, SystemNamespace)
		}
		if !strings.Contains(d.Message, "never injects") {
			t.Errorf("namespace %s: message %q does not say the injector never injects it", name, d.Message)
		}
	}
}

// TestControllerInANeverInjectedNamespace: an ingress-nginx controller in kube-system (where RKE2 runs
// it) or another namespace the injector never injects gets no sidecar, whatever its pod template's own
// sidecar.istio.io/inject label. meshkeeper sets none of its settings on it, takes back those it set,
// and no mesh Ingress gets the annotations, which would have nginx send plaintext to the ClusterIPs.
func TestControllerInANeverInjectedNamespace(t *testing.T) {
	for _, ns := range append(sets.List(neverInjected), "ingress-nginx") {
		t.Run(ns, func(t *testing.T) {
			spec := ingressNginx()
			spec.Controller = meshv1alpha1.WorkloadReference{Namespace: ns, Name: "rke2-ingress-nginx-controller", Kind: "DaemonSet"}
			controller := IngressNginxPodTemplate(PodTemplateInput{
				IngressNginx: spec, Template: controllerTemplate(injectLabel, meshAnnotations("10.96.0.0/12")),
				OwnedLabels: sets.New(SidecarInject), OwnedAnnotations: sets.KeySet(meshAnnotations("")),
			})
			d := Ingress(IngressInput{
				Ingress:      ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("web", 80)}, nil),
				IngressNginx: spec, NamespaceEnrolled: true, Controller: controller, Service: lookupShop,
			})
			if ns == "ingress-nginx" {
				if !controller.Configured || !d.Configured {
					t.Fatalf("a controller in a namespace of its own: controller %s, Ingress %s; want both Configured", controller.Reason, d.Reason)
				}
				return
			}
			if controller.Configured || controller.Reason != NamespaceNeverInjected {
				t.Errorf("controller: Configured %v, Reason %s (%s); want %s", controller.Configured, controller.Reason, controller.Message, NamespaceNeverInjected)
			}
			if len(controller.Labels)+len(controller.Annotations) != 0 || controller.Labels == nil || controller.Annotations == nil {
				t.Errorf("controller: Labels %v, Annotations %v; want meshkeeper's settings taken back", controller.Labels, controller.Annotations)
			}
			for _, part := range []string{"DaemonSet " + ns + "/rke2-ingress-nginx-controller", "namespace " + ns, "never injects", "spec.ingressNginx.controller"} {
				if !strings.Contains(controller.Message, part) {
					t.Errorf("controller: message %q does not contain %q", controller.Message, part)
				}
			}
			if d.Configured || d.Reason != ControllerWithoutSidecar || len(d.Annotations) != 0 || d.Annotations == nil {
				t.Errorf("mesh Ingress: Configured %v, Reason %s, Annotations %v; want %s and no annotations", d.Configured, d.Reason, d.Annotations, ControllerWithoutSidecar)
			}
		})
	}
}
