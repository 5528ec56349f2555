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

package restart_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// undoFixture is a fixture with two workloads whose pods need a restart, api and cart, after the first
// manager restarted api (one restart at a time in the namespace), its rollout stalled, and its owner
// rolled it back with `kubectl rollout undo`: the previous pod template is back, without meshkeeper's
// annotations, and rolled out.
type undoFixture struct {
	*fixture
	api, cart *appsv1.Deployment
	first     *restart.Reconciler
	recorder  *events.FakeRecorder
	firstPass func(time.Time)
	base      time.Time
}

// newUndoFixture builds it; the status records the stall (as the status pass writes it) when recorded.
func newUndoFixture(t *testing.T, name string, recorded bool) *undoFixture {
	f := &undoFixture{fixture: newFixture(t, name, nil)}
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	f.api = createRolledOut(ctx, g, c, ns, "api", "")
	f.cart = createRolledOut(ctx, g, c, ns, "cart", "")
	waitCached(ctx, g, f.workloads, f.api, f.cart)

	f.first, f.recorder, f.firstPass = clockedReconciler(ctx, t, g, c, f.workloads)
	f.base = time.Now().UTC().Truncate(time.Second)
	f.firstPass(f.base)
	g.Expect(restartedAt(ctx, g, c, f.api)).To(Equal(f.base.Format(time.RFC3339)))
	g.Expect(restartedAt(ctx, g, c, f.cart)).To(BeEmpty(), "one restart at a time in the namespace")

	t.Log("api's restart stalls: the Deployment controller says it exceeded its progress deadline")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(f.api), f.api); err != nil {
			return err
		}
		now := metav1.Now()
		f.api.Status = appsv1.DeploymentStatus{ObservedGeneration: f.api.Generation, Replicas: 2, UpdatedReplicas: 1,
			ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", LastUpdateTime: now, LastTransitionTime: now}}}
		return c.Status().Update(ctx, f.api)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	waitCached(ctx, g, f.workloads, f.api)
	f.firstPass(f.base.Add(70 * time.Second))
	g.Expect(f.first.Report.Value().Stalled).To(ContainSubstring("Deployment " + ns + "/api"))
	g.Expect(restartedAt(ctx, g, c, f.cart)).To(BeEmpty(), "a stall stops every further restart")

	if recorded {
		t.Log("the status records the stall, as the status pass writes it")
		mesh := &meshv1alpha1.ServiceMesh{}
		g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		mesh.Status.Proxies.StalledRestarts = f.first.Report.Value().StalledRestarts
		g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	}

	t.Log("api's owner runs kubectl rollout undo: the previous template, without meshkeeper's annotations, rolls out again")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(f.api), f.api); err != nil {
			return err
		}
		f.api.Spec.Template.Annotations = nil
		return c.Update(ctx, f.api, client.FieldOwner("kubectl-rollout"))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	setDeploymentStatus(ctx, g, c, f.api, 1, 1, newReplicaSetAvailable())
	waitCached(ctx, g, f.workloads, f.api)
	drain(f.recorder)
	return f
}

// checkUndoneIsHeld checks a pass after the undo: api, whose restart onto the revision that serves it
// stalled and was rolled back by its owner, is not restarted again onto that same revision (it would
// stall again, and stop every restart again); it counts as not restartable, in a NotRestartable Warning
// that names it, and the restarts of the others resume (cart).
func checkUndoneIsHeld(f *undoFixture, r *restart.Reconciler, sent []string, at time.Time) {
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	g.Expect(restartedAt(ctx, g, c, f.api)).To(BeEmpty(), "the restart its owner rolled back is made again at once")
	g.Expect(restartedAt(ctx, g, c, f.cart)).To(Equal(at.Format(time.RFC3339)), "the restarts resume once the stall is resolved")
	status := r.Report.Value()
	g.Expect(status.Stalled).To(BeEmpty())
	g.Expect(status.NotRestartable).To(BeEquivalentTo(1))
	notRestartable := withReason(sent, meshv1alpha1.ReasonNotRestartable)
	g.Expect(notRestartable).To(HaveLen(1))
	g.Expect(notRestartable[0]).To(And(ContainSubstring("Deployment "+ns+"/api"), ContainSubstring("rolled back")))
}

// TestARestartRolledBackByItsOwnerIsNotMadeAgain: once the owner of a workload whose restart stalled
// rolls it back (`kubectl rollout undo`), the manager that saw the stall does not restart it again onto
// the same revision: that restart would stall again, and stop every restart again. The manager knows the
// stall from its own memory here, before any status records it.
func TestARestartRolledBackByItsOwnerIsNotMadeAgain(t *testing.T) {
	f := newUndoFixture(t, "undo", false)
	at := f.base.Add(90 * time.Second)
	f.firstPass(at)
	checkUndoneIsHeld(f, f.first, drain(f.recorder), at)
}

// TestARestartRolledBackByItsOwnerIsNotMadeAgainAfterAFailover: a manager that takes over finds the
// stall in the status (status.proxies.stalledRestarts) and the workload no longer carrying that restart:
// its owner rolled it back, and it is not restarted again onto the same revision.
func TestARestartRolledBackByItsOwnerIsNotMadeAgainAfterAFailover(t *testing.T) {
	f := newUndoFixture(t, "undo-failover", true)
	workloads := startWorkloadCache(f.ctx, f.g, f.env)
	waitCached(f.ctx, f.g, workloads, f.api, f.cart)
	second, recorder, secondPass := clockedReconciler(f.ctx, t, f.g, f.c, workloads)
	at := f.base.Add(90 * time.Second)
	secondPass(at)
	checkUndoneIsHeld(f, second, drain(recorder), at)
}
