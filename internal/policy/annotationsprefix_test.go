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
)

// ingress-nginx reads every Ingress annotation under the prefix of its --annotations-prefix flag, as its
// pflag reads a string flag: =value, or the value as the next argument, whatever it is; the last one
// given counts, and a "--" ends the flags. A controller that reads them under another prefix than
// meshkeeper writes them under is refused, as a controller that would get no sidecar is, so no Ingress
// is reported as routed through the mesh while nginx sends to its pods' IPs.
func TestAnnotationsPrefix(t *testing.T) {
	tests := map[string]struct {
		command, args []string
		sidecar       bool
		want          string
	}{
		"the chart's default: no flag":     {args: []string{"/nginx-ingress-controller", "--ingress-class=nginx"}, want: DefaultAnnotationsPrefix},
		"=value":                           {args: []string{"/nginx-ingress-controller", "--annotations-prefix=custom.example.com"}, want: "custom.example.com"},
		"the value as the next argument":   {args: []string{"--annotations-prefix", "custom.example.com", "--ingress-class=nginx"}, want: "custom.example.com"},
		"the next argument whatever it is": {args: []string{"--annotations-prefix", "--ingress-class=nginx"}, want: "--ingress-class=nginx"},
		"set to the default":               {args: []string{"--annotations-prefix=nginx.ingress.kubernetes.io"}, want: DefaultAnnotationsPrefix},
		"set empty":                        {args: []string{"--annotations-prefix="}, want: ""},
		"the last one counts":              {args: []string{"--annotations-prefix=a.example.com", "--annotations-prefix", "b.example.com"}, want: "b.example.com"},
		"the last one counts, the default": {args: []string{"--annotations-prefix=a.example.com", "--annotations-prefix=nginx.ingress.kubernetes.io"}, want: DefaultAnnotationsPrefix},
		"in the command":                   {command: []string{"/nginx-ingress-controller", "--annotations-prefix=custom.example.com"}, want: "custom.example.com"},
		// The args follow the command, so they are read after it.
		"the args after the command": {command: []string{"/nginx-ingress-controller", "--annotations-prefix=custom.example.com"},
			args: []string{"--annotations-prefix=nginx.ingress.kubernetes.io"}, want: DefaultAnnotationsPrefix},
		"the command's value in the args": {command: []string{"/nginx-ingress-controller", "--annotations-prefix"}, args: []string{"custom.example.com"}, want: "custom.example.com"},
		"without a value, last":           {args: []string{"--ingress-class=nginx", "--annotations-prefix"}, want: DefaultAnnotationsPrefix},
		"after --, no flag":               {args: []string{"--", "--annotations-prefix=custom.example.com"}, want: DefaultAnnotationsPrefix},
		"the value may be --":             {args: []string{"--annotations-prefix", "--", "--annotations-prefix=b.example.com"}, want: "b.example.com"},
		"one dash is not the flag":        {args: []string{"-annotations-prefix=custom.example.com"}, want: DefaultAnnotationsPrefix},
		"another flag of that prefix":     {args: []string{"--annotations-prefix-x=custom.example.com"}, want: DefaultAnnotationsPrefix},
		// Only the controller reads it: a sidecar's flag is not the controller's.
		"in a sidecar": {sidecar: true, want: DefaultAnnotationsPrefix},
		"in the controller, after a sidecar": {args: []string{"/nginx-ingress-controller", "--annotations-prefix=other.example.com"},
			sidecar: true, want: "other.example.com"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			template := controllerTemplate(nil, nil)
			template.Spec.Containers[0].Command, template.Spec.Containers[0].Args = tc.command, tc.args
			if tc.sidecar {
				template.Spec.Containers = append([]corev1.Container{{Name: "nginx", Args: []string{"--annotations-prefix", "custom.example.com"}}},
					template.Spec.Containers...)
			}
			if got := AnnotationsPrefix(template); got != tc.want {
				t.Fatalf("AnnotationsPrefix = %q, want %q", got, tc.want)
			}
			d := IngressNginxPodTemplate(PodTemplateInput{IngressNginx: ingressNginx(), Template: template})
			if tc.want == DefaultAnnotationsPrefix {
				if !d.Configured {
					t.Fatalf("a controller that reads the default prefix is not configured: %s: %s", d.Reason, d.Message)
				}
				return
			}
			if d.Configured || d.Reason != CustomAnnotationsPrefix || len(d.Labels)+len(d.Annotations) != 0 {
				t.Fatalf("decision is %s (configured %v, labels %v, annotations %v), want %s owning nothing",
					d.Reason, d.Configured, d.Labels, d.Annotations, CustomAnnotationsPrefix)
			}
			for _, s := range []string{"Deployment ingress-nginx/ingress-nginx-controller runs with --annotations-prefix=\"" + tc.want + "\"",
				AnnotationServiceUpstream, "Run the controller without --annotations-prefix"} {
				if !strings.Contains(d.Message, s) {
					t.Errorf("message %q does not say %q", d.Message, s)
				}
			}
			// No mesh Ingress gets the annotations the controller would ignore.
			ing := Ingress(IngressInput{
				Ingress:      ingress(networkingv1.IngressSpec{IngressClassName: nginxClass, DefaultBackend: toService("web", 80)}, nil),
				IngressNginx: ingressNginx(), NamespaceEnrolled: true, Controller: d, Service: lookupShop,
			})
			if ing.Configured || ing.Reason != ControllerWithoutSidecar || ing.Annotations == nil || len(ing.Annotations) != 0 {
				t.Errorf("the mesh Ingress's decision is %s (configured %v, annotations %v), want %s owning nothing",
					ing.Reason, ing.Configured, ing.Annotations, ControllerWithoutSidecar)
			}
		})
	}
	if got := AnnotationsPrefix(nil); got != DefaultAnnotationsPrefix {
		t.Errorf("AnnotationsPrefix(nil) = %q, want the default", got)
	}
}
