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
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A stall the status records (status.proxies.stalledRestarts) is of one restart, told by its
// restarted-at time: a later restart of the same workload, within its deadline, is followed as any
// other and stops nothing.
func TestARecordedStallIsOfOneRestart(t *testing.T) {
	stalledAt := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	again := stalledAt.Add(time.Hour)
	w := rollingDeployment("shop", "web", again)
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	p := &pass{now: again.Add(2 * time.Second), recordedStalls: map[string]time.Time{w.key(): stalledAt}}
	r.track(p, w, shop)
	if len(p.rolling) != 1 || len(p.stalled) != 0 {
		t.Errorf("restarted again within its deadline, with the stall of its restart before recorded: rolling %d, "+
			"stalled %d, want rolling 1, stalled 0", len(p.rolling), len(p.stalled))
	}

	// The stall of the restart itself holds, though its deadline has not passed for this process.
	p = &pass{now: again.Add(2 * time.Second), recordedStalls: map[string]time.Time{w.key(): again}}
	r.track(p, w, shop)
	if len(p.stalled) != 1 {
		t.Errorf("stalled %d, want the restart the status records as stalled", len(p.stalled))
	}
}

// recordedStall is a ServiceMesh whose status records the restart of w as stalled.
func recordedStall(w *workload) *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Status.Proxies.StalledRestarts = []meshv1alpha1.StalledRestart{{Workload: w.key(), RestartedAt: metav1.NewTime(w.restartedAt)}}
	return mesh
}

// A stall the status records stays stalled after a restart of meshkeeper, whose memory starts empty,
// until the workload rolls out: outside the enrolled namespaces too (the namespace left the mesh
// since), where a claim of anyone else's is not followed, and for a DaemonSet or StatefulSet, whose
// no-progress clock a new process starts at its first pass.
func TestARecordedStallHoldsAfterARestartOfMeshkeeper(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	now := restarted.Add(2 * time.Hour)
	for name, tc := range map[string]struct {
		w        *workload
		enrolled map[string]*corev1.Namespace
	}{
		"a Deployment of a namespace no longer enrolled": {rollingDeployment("tenant", "web", restarted), nil},
		"a DaemonSet": {daemonSet(restarted, 10), shop},
	} {
		t.Run(name, func(t *testing.T) {
			r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
			for i, at := range []time.Time{now, now.Add(time.Minute)} {
				p := &pass{now: at, recordedStalls: recordedStalls(recordedStall(tc.w))}
				r.track(p, tc.w, tc.enrolled)
				if len(p.rolling) != 1 || len(p.stalled) != 1 {
					t.Errorf("pass %d: rolling %d, stalled %d, want the recorded stall followed and stalled", i+1,
						len(p.rolling), len(p.stalled))
				}
			}
		})
	}
}

// A workload deleted and created again under its name (kubectl replace --force, a restore from a
// backup), its pod template copied with meshkeeper's annotation of the old one, is another workload
// than the one whose stall the status records: its rollout is its owner's, and neither stalls the
// restarts (nor rolls a canary back).
func TestARecordedStallIsNotOfAWorkloadCreatedAgain(t *testing.T) {
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	w := rollingDeployment("shop", "web", restarted)
	mesh := recordedStall(w)
	again := rollingDeployment("shop", "web", restarted)
	again.obj.SetUID("uid-again")
	again.obj.SetCreationTimestamp(metav1.NewTime(restarted.Add(3 * time.Hour)))
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	p := &pass{now: restarted.Add(3*time.Hour + time.Minute), recordedStalls: recordedStalls(mesh)}
	r.track(p, again, shop)
	if len(p.rolling) != 0 || len(p.stalled) != 0 {
		t.Errorf("created again: rolling %d, stalled %d, want neither: the stall the status records is of the workload before",
			len(p.rolling), len(p.stalled))
	}
}
