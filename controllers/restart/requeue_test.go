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
	"testing"
	"time"

	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A stall, whose deadline has passed, does not keep the pass from looking again when another
// rollout's deadline runs out.
func TestAStallDoesNotHideTheNextDeadline(t *testing.T) {
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	stalled := rollingDeployment("shop", "stalled", now.Add(-time.Hour))
	rolling := rollingDeployment("shop", "rolling", now.Add(-time.Second)) // 4 s deadline: 3 s left
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	p := &pass{now: now, rolling: []*workload{stalled, rolling}, stalled: []*workload{stalled}}
	result, err := r.restart(context.Background(), &meshv1alpha1.ServiceMesh{}, p)
	if err != nil {
		t.Fatal(err)
	}
	if want := 4 * time.Second; result.RequeueAfter != want {
		t.Errorf("requeue after %s, want %s, when the rolling workload runs out of its deadline", result.RequeueAfter, want)
	}
}
