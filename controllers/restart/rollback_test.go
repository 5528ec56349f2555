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

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// rollingDeployment is a Deployment meshkeeper restarted at restartedAt whose rollout has not completed.
func rollingDeployment(namespace, name string, restartedAt time.Time) *workload {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](4)}}
	d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	return asWorkload(d)
}

func TestRollbackResolvesTheRolloutsOntoTheCanary(t *testing.T) {
	rolledBackAt := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	now := rolledBackAt.Add(2 * time.Second)
	p := &pass{now: now, canaryNamespaces: []string{"shop"},
		rollback: &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", Time: metav1.NewTime(rolledBackAt)}}
	r := &Reconciler{rolling: map[string]bool{}}

	failed := rollingDeployment("shop", "checkout", rolledBackAt.Add(-10*time.Second))
	r.rolling[failed.key()] = true // it stalled: the rollback's cause
	again := rollingDeployment("shop", "cart", rolledBackAt)
	elsewhere := rollingDeployment("pay", "ledger", rolledBackAt.Add(-10*time.Second))
	r.rolling[elsewhere.key()] = true
	for _, w := range []*workload{failed, again, elsewhere} {
		r.classifyRollout(p, w)
	}

	if r.rolling[failed.key()] {
		t.Errorf("the stalled workload restarted onto the canary must no longer be followed; followed %v", r.rolling)
	}
	keys := func(list []*workload) []string {
		var out []string
		for _, w := range list {
			out = append(out, w.key())
		}
		return out
	}
	if got := keys(p.rolling); len(got) != 2 || got[0] != again.key() || got[1] != elsewhere.key() {
		t.Errorf("rolling = %v, want the restart after the rollback and the one outside the canary", got)
	}
	if got := keys(p.stalled); len(got) != 1 || got[0] != elsewhere.key() {
		t.Errorf("stalled = %v, want only the workload outside the canary namespaces", got)
	}

	// Restarted again at once, though its rollout onto the canary never completed and its deadline is
	// recent; the same candidate outside a rollback waits.
	p.rolling, p.stalled = nil, nil
	p.candidates = []*candidate{{workload: failed, ready: true, superseded: p.restartedOntoCanary(failed), newest: rolledBackAt.Add(-time.Hour)}}
	if got := p.waiting(); len(got) != 1 {
		t.Errorf("waiting = %d candidate(s), want the superseded workload", len(got))
	}
	p.candidates[0].superseded = false
	if got := p.waiting(); len(got) != 0 {
		t.Errorf("waiting = %d candidate(s), want none: its pods predate its last restart", len(got))
	}
}
