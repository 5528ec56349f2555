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

package restart

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A workload that waits for the deadline of meshkeeper's last restart of it, with nothing rolling out,
// counts as pending, and the pass says when it is restarted again: once the deadline has passed, and,
// when the window is closed then, once it opens.
func TestAWorkloadWaitingForItsCoolOffIsPendingAndSaysUntilWhen(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC) // a Saturday
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.DataPlane.Restarts.Window = &meshv1alpha1.RestartWindow{Start: "00:00", End: "01:05"}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	c := &candidate{workload: withDeadline(cachedDeployment("uid-1", restarted), 600), ready: true,
		target: target{revision: "default", version: "1.31.2"},
		newest: restarted.Add(time.Minute), oldest: restarted.Add(time.Minute), sample: podOfRestart(restarted.Add(time.Minute), restarted)}
	p := &pass{now: restarted.Add(2 * time.Minute), candidates: []*candidate{c}}
	if _, err := r.restart(context.Background(), mesh, p); err != nil {
		t.Fatal(err)
	}
	s := p.status()
	if s.Pending != 1 {
		t.Errorf("pending %d, want the workload that waits for its second restart", s.Pending)
	}
	for _, want := range []string{"Deployment shop/web", "(at 2026-11-28T01:10:00Z)", "is open, at 2026-11-29T00:00:00Z"} {
		if !strings.Contains(s.Waiting, want) {
			t.Errorf("waiting %q, want it to say %q", s.Waiting, want)
		}
	}
}
