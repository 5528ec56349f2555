//go:build envtest

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

package helm

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestARecoveredFirstInstallIsCheckedAsTheInstallItWas: the upgrade that recovers a failed first install
// renders it as an install (Istio's validating webhook fails open until istiod serves), as revision 2.
// After a restart of the manager, whose memory of the render is gone, the drift check rendered revision
// 2 as an upgrade, found what the install rendered different, and "repaired" it: the validator would
// fail closed before istiod serves. The record now says it was rendered as an install.
func TestARecoveredFirstInstallIsCheckedAsTheInstallItWas(t *testing.T) {
	m, c, namespace := onAPIServer(t)
	release := attackRelease(namespace, attackChart("recovered", `apiVersion: v1
kind: ConfigMap
metadata: {name: action}
data: {install: {{ .Release.IsInstall | quote }}}
{{- if .Values.broken }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: broken}
data: {"not a key!": "x"}
{{- end }}
`))
	release.Values = map[string]any{"broken": true}
	if _, err := m.Ensure(t.Context(), release); err == nil {
		t.Fatal("the first install with a ConfigMap the API server refuses succeeded, want it failed")
	}
	release.Values = map[string]any{}
	result, err := m.Ensure(t.Context(), release)
	if err != nil || result.Action != ActionRecovered || result.Revision != 2 {
		t.Fatalf("recovering the failed install: %+v, %v; want revision 2 recovered", result, err)
	}
	action := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "action"}, action); err != nil || action.Data["install"] != "true" {
		t.Fatalf("the recovered install's ConfigMap: %v, %v; want it rendered as an install", action.Data, err)
	}

	restarted := NewChartManager(apiServer.Get(t).Config, c, c)
	result, err = restarted.Ensure(t.Context(), release)
	if err != nil || result.Action != ActionNone {
		t.Errorf("the drift check after a restart: %+v, %v; want nothing to repair", result, err)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "action"}, action); err != nil || action.Data["install"] != "true" {
		t.Errorf("the recovered install's ConfigMap after the drift check: %v, %v; want it as the install rendered it", action.Data, err)
	}
}
