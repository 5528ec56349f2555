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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
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
	r := &Reconciler{}

	failed := rollingDeployment("shop", "checkout", rolledBackAt.Add(-10*time.Second))
	r.followRollout(failed) // it stalled: the rollback's cause
	again := rollingDeployment("shop", "cart", rolledBackAt)
	elsewhere := rollingDeployment("pay", "ledger", rolledBackAt.Add(-10*time.Second))
	r.followRollout(elsewhere)
	for _, w := range []*workload{failed, again, elsewhere} {
		r.classifyRollout(p, w)
	}

	if r.follows(failed) {
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

// TestAStallFromBeforeTheCanaryRollsNothingBack: only a workload meshkeeper restarted while the canary
// revision served its namespace rolls the canary back when it stalls. A restart from before (onto the
// active revision) that is still stalled once the canary serves the namespace stops the restarts as any
// stall does; it once rolled the canary back before any pod ran it, and the message said it had been
// restarted onto the canary.
func TestAStallFromBeforeTheCanaryRollsNothingBack(t *testing.T) {
	switched := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	shop := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Labels: map[string]string{"istio.io/rev": "1-31-1"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate, Time: &metav1.Time{Time: switched.Add(time.Hour)},
				FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:team":{}}}}`)},
			{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, Time: &metav1.Time{Time: switched},
				FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:istio.io/rev":{}}}}`)},
		}}}
	if got := canarySince(shop, "1-31-1"); !got.Equal(switched) {
		t.Fatalf("canarySince = %v, want the time of meshkeeper's apply of the label, %v", got, switched)
	}
	if got := canarySince(shop, "1-31-2"); !got.IsZero() {
		t.Errorf("canarySince of another revision = %v, want zero", got)
	}

	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
	mesh.Status.ActiveRevision = "1-31-0"
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
	}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	before := rollingDeployment("shop", "checkout", switched.Add(-time.Minute))
	p := &pass{now: switched.Add(time.Minute), stalled: []*workload{before}, canarySince: map[string]time.Time{"shop": switched}}
	if r.rollBack(mesh, p) || mesh.Status.CanaryRollback != nil {
		t.Fatalf("a restart from before the canary served the namespace rolled the canary back: %+v", mesh.Status.CanaryRollback)
	}
	onto := rollingDeployment("shop", "cart", switched.Add(time.Second))
	p.stalled = append(p.stalled, onto)
	if !r.rollBack(mesh, p) || mesh.Status.CanaryRollback == nil || mesh.Status.CanaryRollback.Workload != onto.key() {
		t.Errorf("a restart onto the canary that stalled did not roll it back as its own: %+v", mesh.Status.CanaryRollback)
	}
}

// TestARollbackLeavesAStallFromBeforeTheCanary: a workload of a canary namespace that meshkeeper
// restarted before the canary served the namespace (onto the active revision) and that stalled is not
// the rollback's to resolve: it still holds the restarts, as any stall does, while the restart onto the
// canary that caused the rollback is resolved by it. It was once dropped with it, and restarts resumed
// while it was still broken.
func TestARollbackLeavesAStallFromBeforeTheCanary(t *testing.T) {
	switched := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop", "pay"}}}
	mesh.Status.ActiveRevision = "1-31-0"
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
	}
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}
	// shop: restarted onto the active revision a minute before the canary served it, stalled since.
	before := rollingDeployment("shop", "legacy", switched.Add(-time.Minute))
	// pay: restarted onto the canary, stalled: the rollback's cause.
	onto := rollingDeployment("pay", "checkout", switched.Add(time.Minute))
	since := map[string]time.Time{"shop": switched, "pay": switched}
	decided := &pass{now: switched.Add(20 * time.Minute), stalled: []*workload{before, onto}, canarySince: since}
	if !r.rollBack(mesh, decided) || mesh.Status.CanaryRollback.Workload != onto.key() {
		t.Fatalf("the stall onto the canary did not roll it back: %+v", mesh.Status.CanaryRollback)
	}
	rollback := mesh.Status.CanaryRollback
	for _, w := range []*workload{before, onto} {
		r.followRollout(w)
	}

	// The next pass: the namespaces are sent back, and their labels no longer say since when the canary
	// served them.
	p := &pass{now: decided.now.Add(time.Second), canaryNamespaces: mesh.Spec.UpdateStrategy.Canary.Namespaces,
		rollback: rollback, rolledBackSince: r.rolledBackSince(rollback)}
	for _, w := range []*workload{before, onto} {
		r.classifyRollout(p, w)
	}
	if len(p.stalled) != 1 || p.stalled[0] != before {
		t.Errorf("stalled = %d workload(s), want only %s, restarted before the canary served its namespace", len(p.stalled), before.key())
	}
	if r.follows(onto) {
		t.Errorf("%s, restarted onto the canary, is still followed after the rollback", onto.key())
	}
	if p.restartedOntoCanary(before) || !p.restartedOntoCanary(onto) {
		t.Errorf("restartedOntoCanary: %s %t (want false), %s %t (want true)", before.key(), p.restartedOntoCanary(before),
			onto.key(), p.restartedOntoCanary(onto))
	}

	// A process that did not decide the rollback (restarted since) cannot tell: every restart before it counts.
	if got := (&Reconciler{}).rolledBackSince(rollback); got != nil {
		t.Errorf("another process knows since when the canary served the namespaces: %v", got)
	}
}
