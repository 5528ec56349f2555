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
)

// A controller that does not exist is ControllerNotFound whatever the cause, and the message says what
// the platform team can do: name the other kind when the chart's controller.kind changed, wait for its
// namespace's deletion to finish when a reinstall cannot yet create anything there, and install
// ingress-nginx otherwise.
func TestControllerNotFoundSaysWhatToDo(t *testing.T) {
	for name, tc := range map[string]struct {
		in      PodTemplateInput
		says    []string
		saysNot string
	}{
		"nothing there": {
			in:   PodTemplateInput{IngressNginx: ingressNginx()},
			says: []string{"does not exist; install ingress-nginx there"},
		},
		"a DaemonSet of the name": {
			in: PodTemplateInput{IngressNginx: ingressNginx(), OtherKind: "DaemonSet"},
			says: []string{"does not exist, but DaemonSet ingress-nginx/ingress-nginx-controller does",
				"set spec.ingressNginx.controller.kind to DaemonSet"},
			saysNot: "install ingress-nginx there",
		},
		"its namespace being deleted": {
			in:      PodTemplateInput{IngressNginx: ingressNginx(), NamespaceTerminating: true, OtherKind: "DaemonSet"},
			says:    []string{"does not exist, and namespace ingress-nginx is being deleted", "Install ingress-nginx again once it is"},
			saysNot: "install ingress-nginx there",
		},
	} {
		t.Run(name, func(t *testing.T) {
			d := IngressNginxPodTemplate(tc.in)
			if d.Configured || d.Reason != ControllerNotFound {
				t.Fatalf("decision is %s (configured %v), want %s", d.Reason, d.Configured, ControllerNotFound)
			}
			for _, s := range tc.says {
				if !strings.Contains(d.Message, s) {
					t.Errorf("message %q does not say %q", d.Message, s)
				}
			}
			if tc.saysNot != "" && strings.Contains(d.Message, tc.saysNot) {
				t.Errorf("message %q says %q", d.Message, tc.saysNot)
			}
		})
	}
}
