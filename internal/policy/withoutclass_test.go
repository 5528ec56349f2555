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

	corev1 "k8s.io/api/core/v1"
)

// ingress-nginx serves an Ingress without a class (no spec.ingressClassName, no legacy annotation) only
// when its controller runs with --watch-ingress-without-class set true, as pflag reads a bool flag: the
// bare flag, or =value with a value strconv.ParseBool reads; the last one given counts, and nothing
// after a "--" is a flag. The cluster's default IngressClass plays no part: ingress-nginx never reads it.
func TestServesIngressesWithoutClass(t *testing.T) {
	tests := map[string]struct {
		command, args []string
		sidecar       bool
		want          bool
	}{
		"the chart's default: no flag":         {args: []string{"/nginx-ingress-controller", "--ingress-class=nginx"}},
		"the chart's watchIngressWithoutClass": {args: []string{"/nginx-ingress-controller", "--watch-ingress-without-class=true"}, want: true},
		"the bare flag":                        {args: []string{"--watch-ingress-without-class"}, want: true},
		"a value ParseBool reads as true":      {args: []string{"--watch-ingress-without-class=True"}, want: true},
		"set false":                            {args: []string{"--watch-ingress-without-class=false"}},
		"the last one counts":                  {args: []string{"--watch-ingress-without-class", "--watch-ingress-without-class=0"}},
		"the last one counts, true":            {args: []string{"--watch-ingress-without-class=false", "--watch-ingress-without-class=1"}, want: true},
		"in the command":                       {command: []string{"/nginx-ingress-controller", "--watch-ingress-without-class=true"}, want: true},
		// The args follow the command, so they are read after it.
		"the args after the command":  {command: []string{"/nginx-ingress-controller", "--watch-ingress-without-class=true"}, args: []string{"--watch-ingress-without-class=false"}},
		"a value pflag refuses":       {args: []string{"--watch-ingress-without-class=yes"}},
		"a bool flag takes no value":  {args: []string{"--watch-ingress-without-class", "false"}, want: true},
		"one dash is not the flag":    {args: []string{"-watch-ingress-without-class=true"}},
		"another flag of that prefix": {args: []string{"--watch-ingress-without-class-x=true"}},
		// pflag reads no flag after a "--": the arguments there are positional.
		"after --, no flag":          {args: []string{"/nginx-ingress-controller", "--", "--watch-ingress-without-class=true"}},
		"the bare flag after --":     {args: []string{"--", "--watch-ingress-without-class"}},
		"before --, the flag counts": {args: []string{"--watch-ingress-without-class", "--", "--watch-ingress-without-class=false"}, want: true},
		// Only the controller reads it: a sidecar's flag is not the controller's.
		"in a sidecar": {sidecar: true},
		"in the controller, after a sidecar": {command: []string{"/nginx-ingress-controller"}, args: []string{"--watch-ingress-without-class"},
			sidecar: true, want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			template := controllerTemplate(nil, nil)
			template.Spec.Containers[0].Command, template.Spec.Containers[0].Args = tc.command, tc.args
			if tc.sidecar {
				template.Spec.Containers = append([]corev1.Container{{Name: "nginx", Args: []string{"--watch-ingress-without-class=true"}}},
					template.Spec.Containers...)
			}
			for _, in := range []PodTemplateInput{
				{IngressNginx: ingressNginx(), Template: template},
				// It is read whatever else is decided about the controller.
				{IngressNginx: ingressNginx(), Template: template, NamespaceLabels: map[string]string{LabelIstioInjection: "disabled"}},
			} {
				got := IngressNginxPodTemplate(in)
				if got.ServesIngressesWithoutClass != tc.want {
					t.Errorf("ServesIngressesWithoutClass = %v with reason %s, want %v", got.ServesIngressesWithoutClass, got.Reason, tc.want)
				}
			}
		})
	}
	if IngressNginxPodTemplate(PodTemplateInput{IngressNginx: ingressNginx()}).ServesIngressesWithoutClass {
		t.Error("a controller that does not exist serves Ingresses without a class")
	}
}
