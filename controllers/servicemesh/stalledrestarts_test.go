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
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestRecordedStallsHoldUntilTheRestartsReport: the status pass of a freshly started manager, whose
// restarts have not made their first pass, keeps the stalled restarts the status records, and
// DataPlaneUpToDate RestartStalled with them; once the restarts report, their report is written.
func TestRecordedStallsHoldUntilTheRestartsReport(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC))
	stall := meshv1alpha1.StalledRestart{Workload: "Deployment shop/api", RestartedAt: at}
	message := "Deployment shop/api restarted at 2026-05-01T10:00:00Z made no progress for 10m0s; meshkeeper starts no further restart"
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Generation = 3
	mesh.Status.Proxies.StalledRestarts = []meshv1alpha1.StalledRestart{stall}

	for name, tc := range map[string]struct {
		condition   *metav1.Condition
		wantMessage string
	}{
		"the condition records the stall": {
			condition: &metav1.Condition{Type: meshv1alpha1.ConditionDataPlaneUpToDate, Status: metav1.ConditionFalse,
				Reason: meshv1alpha1.ReasonRestartStalled, Message: message},
			wantMessage: message,
		},
		"the condition does not": {wantMessage: "Deployment shop/api restarted at 2026-05-01T10:00:00Z made no progress"},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := mesh.DeepCopy()
			if tc.condition != nil {
				mesh.Status.Conditions = []metav1.Condition{*tc.condition}
			}
			report := restart.NewReport()
			obs := &observation{generation: mesh.Generation, spec: &mesh.Spec, proxies: &proxiesObservation{
				needRestart: map[string]int{"shop": 2}, restarts: restartsReported(mesh, report)}}
			status := computeStatus(&mesh.Status, obs)
			if got := status.Proxies.StalledRestarts; len(got) != 1 || got[0] != stall {
				t.Fatalf("before the restarts reported, stalledRestarts = %v, want the recorded %v", got, stall)
			}
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionDataPlaneUpToDate)
			if c == nil || c.Reason != meshv1alpha1.ReasonRestartStalled || !strings.HasPrefix(c.Message, tc.wantMessage) {
				t.Fatalf("before the restarts reported, DataPlaneUpToDate = %+v, want RestartStalled: %s", c, tc.wantMessage)
			}

			report.Set(restart.Status{Pending: 1})
			obs.proxies.restarts = restartsReported(mesh, report)
			status = computeStatus(&mesh.Status, obs)
			if got := status.Proxies.StalledRestarts; len(got) != 0 {
				t.Fatalf("once the restarts reported none, stalledRestarts = %v, want none", got)
			}
			if c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionDataPlaneUpToDate); c == nil ||
				c.Reason != meshv1alpha1.ReasonRestartNeeded {
				t.Fatalf("once the restarts reported no stall, DataPlaneUpToDate = %+v, want RestartNeeded", c)
			}
		})
	}
}
