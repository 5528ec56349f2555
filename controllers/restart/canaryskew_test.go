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
	"encoding/json"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// deploymentOnto is a Deployment meshkeeper restarted at restartedAt for pods of a revision, as its pod
// template records it, whose rollout has not completed.
func deploymentOnto(namespace, name string, restartedAt time.Time, revision string) *workload {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](4)}}
	d.Spec.Template.Annotations = map[string]string{
		meshv1alpha1.RestartedAtAnnotation:  restartedAt.UTC().Format(time.RFC3339),
		"mesh.meshkeeper.io/restarted-onto": revision,
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	return asWorkload(d)
}

// canaryMesh is a ServiceMesh whose canary revision 1-31-1 serves shop, rolled back on failure.
func canaryMesh() *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Generation: 3}}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
	mesh.Status.ActiveRevision = "1-31-0"
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-1", Version: "1.31.1", State: meshv1alpha1.RevisionCanary, Ready: true},
		{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true},
	}
	return mesh
}

// TestARestartOntoTheCanaryStampedBeforeItRollsItBack: the restarted-at time comes from the manager's
// clock, since when the canary serves the namespace from the API server's; a manager a second behind
// stamps a restart onto the canary before the canary's label. What the restart was for, as its pod
// template records it, decides: that stall rolls the canary back, and a restart onto the active
// revision stamped after the label does not. The stall onto the canary once stopped every restart
// instead, and the canary namespaces stayed on the broken revision.
func TestARestartOntoTheCanaryStampedBeforeItRollsItBack(t *testing.T) {
	switched := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	mesh := canaryMesh()
	r := &Reconciler{Recorder: events.NewFakeRecorder(10)}

	onto := deploymentOnto("shop", "cart", switched.Add(-time.Second), "1-31-1")
	p := &pass{now: switched.Add(time.Minute), stalled: []*workload{onto}, canarySince: map[string]time.Time{"shop": switched}}
	if !r.rollBack(mesh, p) || mesh.Status.CanaryRollback == nil || mesh.Status.CanaryRollback.Workload != onto.key() {
		t.Errorf("a restart onto the canary stamped a second before its label did not roll it back as its own: %+v",
			mesh.Status.CanaryRollback)
	}

	// Restarted onto the active revision by a manager a second ahead, just before the label changed.
	mesh = canaryMesh()
	active := deploymentOnto("shop", "legacy", switched.Add(time.Second), "1-31-0")
	p = &pass{now: switched.Add(time.Minute), stalled: []*workload{active}, canarySince: map[string]time.Time{"shop": switched}}
	if r.rollBack(mesh, p) || mesh.Status.CanaryRollback != nil {
		t.Errorf("a restart onto the active revision stamped after the canary's label rolled the canary back: %+v",
			mesh.Status.CanaryRollback)
	}

	// A restart by an older meshkeeper records nothing: the times still decide.
	mesh = canaryMesh()
	unrecorded := rollingDeployment("shop", "web", switched.Add(-time.Second))
	p = &pass{now: switched.Add(time.Minute), stalled: []*workload{unrecorded}, canarySince: map[string]time.Time{"shop": switched}}
	if r.rollBack(mesh, p) {
		t.Errorf("an unrecorded restart from before the canary's label rolled the canary back: %+v", mesh.Status.CanaryRollback)
	}
}

// TestARollbackSupersedesARestartOntoTheCanaryInItsSecond: a workload restarted onto the canary in the
// second the canary is rolled back carries the same time as the rollback. The rollback resolves its
// rollout and it is restarted again at once; a restart onto the active revision in that second is
// followed as any other. It was once taken for a restart after the rollback, neither resolved nor
// superseded, and its stall stopped every restart.
func TestARollbackSupersedesARestartOntoTheCanaryInItsSecond(t *testing.T) {
	rolledBackAt := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	p := &pass{now: rolledBackAt.Add(20 * time.Second), canaryNamespaces: []string{"shop"},
		rollback: &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", Time: metav1.NewTime(rolledBackAt)}}
	r := &Reconciler{}

	onto := deploymentOnto("shop", "checkout", rolledBackAt, "1-31-1")
	after := deploymentOnto("shop", "cart", rolledBackAt, "1-31-0")
	for _, w := range []*workload{onto, after} {
		r.followRollout(w)
		r.classifyRollout(p, w)
	}
	if r.follows(onto) {
		t.Errorf("%s, restarted onto the canary in the rollback's second, is still followed", onto.key())
	}
	if len(p.stalled) != 1 || p.stalled[0] != after {
		t.Errorf("stalled = %d workload(s), want only %s, restarted onto the active revision", len(p.stalled), after.key())
	}
	if !p.restartedOntoCanary(onto) || p.restartedOntoCanary(after) {
		t.Errorf("restartedOntoCanary: %s %t (want true), %s %t (want false)", onto.key(), p.restartedOntoCanary(onto),
			after.key(), p.restartedOntoCanary(after))
	}

	// Superseded, it is restarted again at once, though its deadline is recent.
	p.rolling, p.stalled = nil, nil
	p.candidates = []*candidate{{workload: onto, ready: true, superseded: p.restartedOntoCanary(onto), newest: rolledBackAt.Add(-time.Hour)}}
	if got := p.waiting(); len(got) != 1 {
		t.Errorf("waiting = %d candidate(s), want the superseded workload", len(got))
	}
}

// TestARestartRecordsItsRevision: the apply that restarts a workload writes the revision its pods are
// judged against, and the digest of all they are judged against, next to the restarted-at time, and
// nothing else, so that the record survives a restart of meshkeeper and never changes without a rollout
// of its own.
func TestARestartRecordsItsRevision(t *testing.T) {
	var applied []map[string]any
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, patch client.Patch, _ ...client.PatchOption) error {
			data, err := patch.Data(obj)
			if err != nil {
				return err
			}
			var body map[string]any
			if err := json.Unmarshal(data, &body); err != nil {
				return err
			}
			applied = append(applied, body)
			return nil
		},
	}).Build()
	r := &Reconciler{Client: c}
	now := time.Date(2026, 11, 28, 1, 0, 0, 300_000_000, time.UTC)
	w := rollingDeployment("shop", "cart", now.Add(-time.Hour))
	for1 := target{revision: "1-31-1", version: "1.31.1", proxyTag: "1.31.1"}
	if err := r.apply(context.Background(), &candidate{workload: w, target: for1}, now); err != nil {
		t.Fatal(err)
	}
	if len(applied) != 1 {
		t.Fatalf("%d applies, want one", len(applied))
	}
	template := applied[0]["spec"].(map[string]any)["template"].(map[string]any)
	got, _ := json.Marshal(template)
	if want := `{"metadata":{"annotations":{"mesh.meshkeeper.io/restarted-at":"2026-11-28T01:00:00Z",` +
		`"mesh.meshkeeper.io/restarted-for":"` + for1.digest() + `","mesh.meshkeeper.io/restarted-onto":"1-31-1"}}}`; string(got) != want {
		t.Errorf("applied pod template = %s, want %s", got, want)
	}
	if w.restartedFor != for1.digest() {
		t.Errorf("the workload's restart is for %q, want %q", w.restartedFor, for1.digest())
	}
	if !w.restartedOntoRecorded || w.restartedOnto != "1-31-1" {
		t.Errorf("the workload's restart records %q (%t), want 1-31-1", w.restartedOnto, w.restartedOntoRecorded)
	}
}
