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

	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// meshSpecWith is a ServiceMesh spec that enrolls the namespace shop, with the CNI agent unless cniOff,
// and the given spec.values (JSON, none when empty).
func meshSpecWith(t *testing.T, cniOff bool, values string) *meshv1alpha1.ServiceMeshSpec {
	t.Helper()
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{"shop"}}}
	if cniOff {
		spec.CNI.Enabled = new(bool)
	}
	if values != "" {
		spec.Values = &meshv1alpha1.IstiodValues{}
		if err := spec.Values.UnmarshalJSON([]byte(values)); err != nil {
			t.Fatal(err)
		}
	}
	return spec
}

// TestPodSecurityLevelsJudgeWhatEachRejects: the Pod Security levels baseline and restricted reject
// different things. Istio's injection template gives istio-proxy NET_BIND_SERVICE and has it run as
// root (runAsNonRoot: false, runAsUser: 0) when global.proxy.capNetBindService is true: baseline allows
// both, restricted allows neither root nor runAsNonRoot: false. A seccomp profile of type Unconfined,
// which spec.values may choose for the sidecar's containers (global.proxy.seccompProfile), is rejected
// by baseline and restricted alike; none at all (null, or a profile of no type, in place of the
// RuntimeDefault meshkeeper sets with CNI) is rejected by restricted only.
func TestPodSecurityLevelsJudgeWhatEachRejects(t *testing.T) {
	const capNetBindService = `{"global": {"proxy": {"capNetBindService": true}}}`
	tests := map[string]struct {
		cniOff bool
		values string
		level  string

		wantEnroll     bool
		wantMessage    []string
		wantNotMessage []string
	}{
		"with CNI, capNetBindService keeps a restricted namespace out: its sidecar runs as root": {
			values: capNetBindService, level: "restricted",
			wantMessage: []string{`"restricted"`, "global.proxy.capNetBindService: true", "runs as root",
				"remove global.proxy.capNetBindService: true from spec.values"},
		},
		"with CNI, capNetBindService keeps a namespace with a level the API server does not know out: it enforces restricted": {
			values: capNetBindService, level: "Baseline",
		},
		"with CNI, capNetBindService as a string counts too: Istio's template compares its text": {
			values: `{"global": {"proxy": {"capNetBindService": "true"}}}`, level: "restricted",
		},
		"with CNI, capNetBindService is admitted by baseline: it allows NET_BIND_SERVICE and root": {
			values: capNetBindService, level: "baseline", wantEnroll: true,
		},
		"with CNI, capNetBindService false asks for nothing": {
			values: `{"global": {"proxy": {"capNetBindService": false}}}`, level: "restricted", wantEnroll: true,
		},
		"without CNI and with capNetBindService, restricted rejects both, and the message names both fixes": {
			cniOff: true, values: capNetBindService, level: "restricted",
			wantMessage: []string{"istio-init", "NET_ADMIN", "global.proxy.capNetBindService: true",
				"spec.cni.enabled: true", "remove global.proxy.capNetBindService: true from spec.values"},
		},
		"without CNI and with capNetBindService, baseline rejects only istio-init, and the message asks only for CNI": {
			cniOff: true, values: capNetBindService, level: "baseline",
			wantMessage:    []string{"istio-init", "spec.cni.enabled: true"},
			wantNotMessage: []string{"capNetBindService"},
		},
		"with CNI, an Unconfined seccomp profile for the sidecar keeps a baseline namespace out": {
			values: `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`, level: "baseline",
			wantMessage: []string{`"baseline"`, "global.proxy.seccompProfile.type: Unconfined",
				"remove global.proxy.seccompProfile.type: Unconfined from spec.values"},
		},
		"with CNI, a null seccomp profile for the sidecar keeps a restricted namespace out: its containers have none": {
			values: `{"global": {"proxy": {"seccompProfile": null}}}`, level: "restricted",
			wantMessage: []string{`"restricted"`, "global.proxy.seccompProfile: null", "no seccomp profile",
				"remove global.proxy.seccompProfile: null from spec.values"},
		},
		"with CNI, a seccomp profile of type null keeps a restricted namespace out": {
			values: `{"global": {"proxy": {"seccompProfile": {"type": null}}}}`, level: "restricted",
			wantMessage: []string{"global.proxy.seccompProfile.type: null"},
		},
		"with CNI, a null seccomp profile keeps a namespace with a level the API server does not know out": {
			values: `{"global": {"proxy": {"seccompProfile": null}}}`, level: "Baseline",
		},
		"with CNI, a null seccomp profile is admitted by baseline: it asks for no profile": {
			values: `{"global": {"proxy": {"seccompProfile": null}}}`, level: "baseline", wantEnroll: true,
		},
		"with CNI, an empty seccomp profile keeps meshkeeper's RuntimeDefault, which restricted admits": {
			values: `{"global": {"proxy": {"seccompProfile": {}}}}`, level: "restricted", wantEnroll: true,
		},
		"without CNI and with a null seccomp profile, restricted names only istio-init: meshkeeper sets no profile there": {
			cniOff: true, values: `{"global": {"proxy": {"seccompProfile": null}}}`, level: "restricted",
			wantMessage:    []string{"istio-init", "spec.cni.enabled: true"},
			wantNotMessage: []string{"seccompProfile"},
		},
		"without CNI, a CNI installation of the user's own (spec.values cni.enabled) adds no istio-init, which baseline admits": {
			cniOff: true, values: `{"cni": {"enabled": true}}`, level: "baseline", wantEnroll: true,
		},
		"without CNI, a CNI installation of the user's own leaves the sidecar without a seccomp profile, which restricted rejects": {
			cniOff: true, values: `{"cni": {"enabled": true}}`, level: "restricted",
			wantMessage:    []string{`"restricted"`, "cni.enabled", "no seccomp profile", "global.proxy.seccompProfile.type: RuntimeDefault"},
			wantNotMessage: []string{"istio-init"},
		},
		"without CNI, a CNI installation of the user's own with a RuntimeDefault profile from spec.values is admitted by restricted": {
			cniOff: true, values: `{"cni": {"enabled": true}, "global": {"proxy": {"seccompProfile": {"type": "RuntimeDefault"}}}}`,
			level: "restricted", wantEnroll: true,
		},
		"without CNI, spec.values cni.enabled false still has injection add istio-init": {
			cniOff: true, values: `{"cni": {"enabled": false}}`, level: "baseline",
			wantMessage: []string{"istio-init"},
		},
		"with CNI, a Localhost seccomp profile for the sidecar is admitted by restricted": {
			values: `{"global": {"proxy": {"seccompProfile": {"type": "Localhost", "localhostProfile": "istio.json"}}}}`,
			level:  "restricted", wantEnroll: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			enrollment, err := NewEnrollment(meshSpecWith(t, tc.cniOff, tc.values), "")
			if err != nil {
				t.Fatalf("NewEnrollment: %v", err)
			}
			got := enrollment.Namespace(namespace("shop", map[string]string{LabelPodSecurityEnforce: tc.level}), sets.New[string]())
			wantReason := PodSecurityRejectsSidecar
			if tc.wantEnroll {
				wantReason = Listed
			}
			if got.Reason != wantReason || got.Enroll != tc.wantEnroll {
				t.Errorf("Reason = %q, Enroll = %v, want %q, %v (message: %s)", got.Reason, got.Enroll, wantReason, tc.wantEnroll, got.Message)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(got.Message, part) {
					t.Errorf("Message %q does not contain %q", got.Message, part)
				}
			}
			for _, part := range tc.wantNotMessage {
				if strings.Contains(got.Message, part) {
					t.Errorf("Message %q contains %q", got.Message, part)
				}
			}
		})
	}
}

// TestControllerNamespacePodSecurityLevels: the ingress-nginx controller's namespace is judged by the
// same rules as an enrolled namespace.
func TestControllerNamespacePodSecurityLevels(t *testing.T) {
	capNetBindService := PrivilegeOf(meshSpecWith(t, false, `{"global": {"proxy": {"capNetBindService": true}}}`))
	tests := map[string]struct {
		level          string
		wantConfigured bool
	}{
		"restricted rejects a sidecar that runs as root": {level: "restricted"},
		"baseline admits it":                             {level: "baseline", wantConfigured: true},
		"privileged admits it":                           {level: "privileged", wantConfigured: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := IngressNginxPodTemplate(PodTemplateInput{
				IngressNginx: ingressNginx(), Template: controllerTemplate(nil, nil),
				NamespaceLabels: map[string]string{LabelPodSecurityEnforce: tc.level}, Privilege: capNetBindService,
			})
			if got.Configured != tc.wantConfigured {
				t.Errorf("Configured = %v, want %v (reason %s: %s)", got.Configured, tc.wantConfigured, got.Reason, got.Message)
			}
			if !tc.wantConfigured && (got.Reason != PodSecurityRejectsSidecar || !strings.Contains(got.Message, "global.proxy.capNetBindService: true")) {
				t.Errorf("Reason = %q, Message = %q, want %s naming global.proxy.capNetBindService: true", got.Reason, got.Message, PodSecurityRejectsSidecar)
			}
		})
	}
}
