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

// TestEnforceVersionPinsWhatTheLevelChecks: the levels check the seccomp profile's field since v1.19, so
// a namespace pinned to an older version (enforce-version) admits the Unconfined sidecar spec.values
// asks for; every other check that rejects the injected pods exists since v1.0. A version the API server
// does not know (one stored before the PodSecurity admission was on) is enforced as latest, and so is a
// level it does not know as restricted. TestPodSecurityJudgementMatchesTheAPIServer (envtest) compares
// the versions the API server accepts with its verdicts.
func TestEnforceVersionPinsWhatTheLevelChecks(t *testing.T) {
	const unconfined = `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`
	tests := map[string]struct {
		cniOff  bool
		labels  map[string]string
		rejects string // a word of what is rejected; "" when the level admits the pods
	}{
		"restricted at v1.18 admits the Unconfined sidecar": {
			labels: map[string]string{LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.18"},
		},
		"restricted at v1.19 rejects it": {
			labels:  map[string]string{LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.19"},
			rejects: "Unconfined",
		},
		"a version the API server does not know is latest": {
			labels:  map[string]string{LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "1.18"},
			rejects: "Unconfined",
		},
		"a version v1.x the API server does not know is latest": {
			labels:  map[string]string{LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "v1.x"},
			rejects: "Unconfined",
		},
		"v1.018 is a version the API server does not know": {
			labels:  map[string]string{LabelPodSecurityEnforce: "restricted", LabelPodSecurityEnforceVersion: "v1.018"},
			rejects: "Unconfined",
		},
		"a level the API server does not know is restricted, at the version pinned": {
			labels: map[string]string{LabelPodSecurityEnforce: "Restricted", LabelPodSecurityEnforceVersion: "v1.18"},
		},
		"without CNI, baseline at v1.18 still rejects istio-init, and the message names it": {
			cniOff: true, labels: map[string]string{LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "v1.18"},
			rejects: "istio-init",
		},
		"without CNI, at latest the Unconfined sidecar is named first": {
			cniOff: true, labels: map[string]string{LabelPodSecurityEnforce: "baseline", LabelPodSecurityEnforceVersion: "latest"},
			rejects: "Unconfined",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			_, rejected, rejects := PrivilegeOf(meshSpecWith(t, tt.cniOff, unconfined)).RejectedBy(tt.labels)
			if rejects != (tt.rejects != "") || !strings.Contains(rejected.What, tt.rejects) {
				t.Errorf("RejectedBy(%v) rejects %v (%q), want %q", tt.labels, rejects, rejected.What, tt.rejects)
			}
		})
	}
}
