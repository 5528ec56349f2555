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

package servicemesh

import (
	"errors"
	"strings"
	"testing"

	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestARepairThatRestoredSomeIsToldBesideItsFailure: drift repair goes on past an object it refuses, and
// restores the others (a validating webhook switched to fail open among them). What it restored is told
// in a DriftRepaired Event even though the release's check failed: the next check finds those objects in
// sync, and a repair that mattered would otherwise leave no trace but the refusal.
func TestARepairThatRestoredSomeIsToldBesideItsFailure(t *testing.T) {
	chart, err := charts.Builtin(charts.Base)
	if err != nil {
		t.Fatal(err)
	}
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: recorder}
	mesh := &meshv1alpha1.ServiceMesh{}
	release := helm.Release{Name: "istio-base", Namespace: "istio-system", Chart: chart}
	result := helm.Result{Action: helm.ActionRepaired, Repaired: []string{"ValidatingWebhookConfiguration istiod-default-validator"}}
	r.recordHelmResult(mesh, release, "1.31.1", result, errors.New("ServiceAccount istio-system/istio-reader-service-account exists without meshkeeper's label"))
	var sent []string
	for len(recorder.Events) > 0 {
		sent = append(sent, <-recorder.Events)
	}
	joined := strings.Join(sent, "\n")
	if !strings.Contains(joined, "DriftRepaired") || !strings.Contains(joined, "restored ValidatingWebhookConfiguration istiod-default-validator") {
		t.Errorf("no DriftRepaired Event for what was restored; sent:\n%s", joined)
	}
	if !strings.Contains(joined, meshv1alpha1.ReasonInstallFailed) {
		t.Errorf("no InstallFailed Event for the object refused; sent:\n%s", joined)
	}
}
