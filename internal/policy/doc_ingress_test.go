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
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// ingressNginxDoc is the user's guide to the ingress-nginx integration.
var ingressNginxDoc = filepath.Join("..", "..", "docs", "ingress-nginx.md")

// docTableRow returns the row of a table of doc whose first cell is first.
func docTableRow(t *testing.T, doc, first string) string {
	t.Helper()
	f, err := os.Open(doc)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for scanner.Scan() {
		if line := scanner.Text(); strings.HasPrefix(line, "| "+first+" |") {
			return line
		}
	}
	if err := scanner.Err(); err != nil {
		t.Fatal(err)
	}
	t.Fatalf("%s has no table row for %s", doc, first)
	return ""
}

// TestDocNamesEveryControllerReasonOfControllerWithoutSidecar: the row of ControllerWithoutSidecar in
// docs/ingress-nginx.md lists the reasons of the controller for which a mesh Ingress gets no
// annotations. Every reason of IngressNginxPodTemplate that leaves the controller without its sidecar,
// the integration being on, makes a mesh Ingress ControllerWithoutSidecar, so the row names each of
// them: a user who reads the Ingress's reason looks there for what to fix on the controller.
func TestDocNamesEveryControllerReasonOfControllerWithoutSidecar(t *testing.T) {
	restricted := map[string]string{LabelPodSecurityEnforce: "restricted"}
	tests := map[string]PodTemplateInput{
		ControllerNotFound:         {},
		HostNetwork:                {Template: controllerTemplate(nil, nil)},
		NamespaceNeverInjected:     {Template: controllerTemplate(nil, nil)},
		CustomAnnotationsPrefix:    {Template: controllerTemplate(nil, nil)},
		NamespaceInjectionDisabled: {Template: controllerTemplate(nil, nil), NamespaceLabels: map[string]string{LabelIstioInjection: "disabled"}},
		PodSecurityRejectsSidecar: {Template: controllerTemplate(nil, nil), NamespaceLabels: restricted,
			Privilege: PrivilegeOf(meshSpecWith(t, true, ""))},
		CNIExcludesNamespace: {Template: controllerTemplate(nil, nil), CNIExcluded: true},
		AnnotationConflict:   {Template: controllerTemplate(nil, map[string]string{AnnotationIncludeInboundPorts: "80"})},
	}
	tests[HostNetwork].Template.Spec.HostNetwork = true
	tests[CustomAnnotationsPrefix].Template.Spec.Containers[0].Args = []string{"--annotations-prefix=custom.example.com"}
	row := docTableRow(t, ingressNginxDoc, "`"+ControllerWithoutSidecar+"`")
	for reason, in := range tests {
		t.Run(reason, func(t *testing.T) {
			in.IngressNginx = ingressNginx()
			if reason == NamespaceNeverInjected {
				in.IngressNginx.Controller.Namespace = "kube-system"
			}
			controller := IngressNginxPodTemplate(in)
			if controller.Reason != reason {
				t.Fatalf("the controller's reason is %s (%s), want %s", controller.Reason, controller.Message, reason)
			}
			d := Ingress(IngressInput{
				Ingress: ingress(networkingv1.IngressSpec{IngressClassName: nginxClass,
					DefaultBackend: toService("web", 80)}, nil),
				IngressNginx: ingressNginx(), NamespaceEnrolled: true, Controller: controller, Service: lookupShop,
			})
			if d.Reason != ControllerWithoutSidecar {
				t.Fatalf("the mesh Ingress's reason is %s, want %s", d.Reason, ControllerWithoutSidecar)
			}
			if !strings.Contains(row, "`"+reason+"`") {
				t.Errorf("the row of %s in %s does not name the controller's reason %s, which leaves mesh Ingresses %s:\n%s",
					ControllerWithoutSidecar, ingressNginxDoc, reason, ControllerWithoutSidecar, row)
			}
		})
	}
}
