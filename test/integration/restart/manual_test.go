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
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestAStallOutlastsManualRestarts: setting the restarts to Manual and back to Automatic fixes no
// workload. A restart that stalled before still stops every further restart until it rolls out, however
// long ago it was made, and once its owner took it back it is not made again onto the same target.
// While the restarts are Manual, the memory of the process holds the stall, and the status
// (status.proxies.stalledRestarts) too (TestAStallOutlastsManualRestartsAndATakeover); forgotten, the
// wave went on as if nothing had stalled, and the workload taken back was restarted again, to stall
// again.
func TestAStallOutlastsManualRestarts(t *testing.T) {
	f := newFixture(t, "manual", ptr.To[int32](2))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	key := "Deployment " + ns + "/app"

	// mode sets spec.dataPlane.restarts.mode, and the status as the servicemesh controller writes it
	// once it has installed the control plane for the new generation.
	mode := func(mode meshv1alpha1.RestartMode) {
		t.Helper()
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
		g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
			fmt.Appendf(nil, `{"spec":{"dataPlane":{"restarts":{"mode":%q}}}}`, mode)))).To(Succeed())
		installed(ctx, g, c)
	}
	// stuck writes what the Deployment controller would of a rollout that exceeded its progress deadline.
	stuck := func(d *appsv1.Deployment) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
				return err
			}
			now := metav1.Now()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 2, UpdatedReplicas: 1,
				ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1,
				Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
					Reason: "ProgressDeadlineExceeded", LastUpdateTime: now, LastTransitionTime: now}}}
			return c.Status().Update(ctx, d)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
		waitCached(ctx, g, workloads, d)
	}

	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, app)
	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	stamp := base.Format(time.RFC3339)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(stamp))
	drain(recorder)

	t.Log("meshkeeper's restart stalls")
	stuck(app)
	pass(base.Add(5 * time.Second))
	g.Expect(r.Report.Value().Stalled).To(ContainSubstring(key))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestartStalled)).To(HaveLen(2))

	t.Log("the restarts are set to Manual, another workload comes, and the restarts are set to Automatic again")
	mode(meshv1alpha1.RestartManual)
	pass(base.Add(10 * time.Second))
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Stalled: r.Report.Value().Stalled,
		StalledRestarts: []meshv1alpha1.StalledRestart{{Workload: key, RestartedAt: metav1.NewTime(base)}}}),
		"Manual reports the stall, and nothing else of its own")
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, workloads, late)
	mode(meshv1alpha1.RestartAutomatic)
	// Long after the restart: beyond twice its deadline, its annotation alone no longer tells it from a
	// rollout of its owner's.
	pass(base.Add(30 * time.Minute))
	status := r.Report.Value()
	g.Expect(status.Stalled).To(ContainSubstring(key+" restarted at "+stamp), "a stall before Manual was forgotten")
	g.Expect(status.StalledRestarts).To(ConsistOf(meshv1alpha1.StalledRestart{Workload: key, RestartedAt: metav1.NewTime(base)}))
	g.Expect(restartedAt(ctx, g, c, late)).To(BeEmpty(), "a restart started while a stall before Manual holds")
	// Told again: the restarts start again.
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestartStalled)).To(HaveLen(2))

	t.Log("its owner takes the stalled restart back, and the restarts are set to Manual and back again")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			return err
		}
		app.Spec.Template.Annotations = nil
		return c.Update(ctx, app, client.FieldOwner("kubectl-rollout"))
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	markRolledOut(ctx, g, c, app)
	waitCached(ctx, g, workloads, app)
	pass(base.Add(31 * time.Minute))
	g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "the restart its owner took back is made again")
	g.Expect(restartedAt(ctx, g, c, late)).NotTo(BeEmpty(), "the restarts stay stopped once the stalled restart is taken back")
	g.Expect(r.Report.Value().NotRestartable).To(BeEquivalentTo(1))
	mode(meshv1alpha1.RestartManual)
	pass(base.Add(32 * time.Minute))
	mode(meshv1alpha1.RestartAutomatic)
	pass(base.Add(40 * time.Minute))
	g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "the restart its owner took back is made again after Manual")
	g.Expect(r.Report.Value().NotRestartable).To(BeEquivalentTo(1))
}

// TestAStallOutlastsManualRestartsAndATakeover: while the restarts are Manual, the status keeps the
// stalled restart that has not rolled out (status.proxies.stalledRestarts), so that a manager that takes
// over meanwhile (a restart of meshkeeper, another replica), whose memory starts empty, holds the
// restarts as the one before would once they are Automatic again. The status used to be emptied while
// Manual: the manager that took over knew of no stall, and the wave went on.
func TestAStallOutlastsManualRestartsAndATakeover(t *testing.T) {
	f := newFixture(t, "manualtakeover", ptr.To[int32](2))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	key := "Deployment " + ns + "/app"
	mode := func(mode meshv1alpha1.RestartMode) {
		t.Helper()
		mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
		g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
			fmt.Appendf(nil, `{"spec":{"dataPlane":{"restarts":{"mode":%q}}}}`, mode)))).To(Succeed())
		installed(ctx, g, c)
	}
	// record writes the stalled restarts a reconciler reported into the status, as the status pass does.
	record := func(r *restart.Reconciler) {
		t.Helper()
		g.Eventually(func() error {
			mesh := &meshv1alpha1.ServiceMesh{}
			if err := c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
				return err
			}
			mesh.Status.Proxies.StalledRestarts = r.Report.Value().StalledRestarts
			return c.Status().Update(ctx, mesh)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	}

	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, app)
	first, _, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(base.Format(time.RFC3339)))

	t.Log("meshkeeper's restart stalls, and the status records it")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), app); err != nil {
			return err
		}
		now := metav1.Now()
		app.Status = appsv1.DeploymentStatus{ObservedGeneration: app.Generation, Replicas: 2, UpdatedReplicas: 1,
			ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
				Reason: "ProgressDeadlineExceeded", LastUpdateTime: now, LastTransitionTime: now}}}
		return c.Status().Update(ctx, app)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	waitCached(ctx, g, workloads, app)
	pass(base.Add(5 * time.Second))
	record(first)

	t.Log("the restarts are set to Manual; another manager takes over meanwhile")
	mode(meshv1alpha1.RestartManual)
	pass(base.Add(10 * time.Second))
	record(first)
	second, _, passSecond := clockedReconciler(ctx, t, g, c, workloads)
	passSecond(base.Add(20 * time.Second))
	record(second)

	t.Log("another workload comes, and the restarts are set to Automatic again")
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, workloads, late)
	mode(meshv1alpha1.RestartAutomatic)
	// Long after the restart: beyond twice its deadline, its annotation alone no longer tells it from a
	// rollout of its owner's.
	passSecond(base.Add(30 * time.Minute))
	g.Expect(restartedAt(ctx, g, c, late)).To(BeEmpty(), "a restart started after a takeover while Manual, while a stall before holds")
	g.Expect(second.Report.Value().StalledRestarts).To(ConsistOf(meshv1alpha1.StalledRestart{Workload: key, RestartedAt: metav1.NewTime(base)}))
	record(second)

	t.Log("the restarts are set to Manual again, and the stalled workload rolls out meanwhile: no stall holds")
	mode(meshv1alpha1.RestartManual)
	markRolledOut(ctx, g, c, app)
	waitCached(ctx, g, workloads, app)
	passSecond(base.Add(31 * time.Minute))
	g.Expect(second.Report.Value()).To(BeZero(), "a stall is reported while Manual after its workload rolled out")
}
