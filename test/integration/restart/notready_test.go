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
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestNoRestartWhileControlPlaneNotReady: a restart gives a workload's new pods the sidecar of the istiod
// that serves its namespace; while that istiod is not ready (ControlPlaneReady False), the new pods would
// not get it (or not start, under a webhook that fails closed). The workload is not restarted: it waits,
// counted as pending, and is restarted in the first pass after the control plane is ready again.
func TestNoRestartWhileControlPlaneNotReady(t *testing.T) {
	f := newFixture(t, "notready", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	setControlPlaneReady(ctx, g, c, metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "istiod: 0 of 1 replicas updated, 0 available")
	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, app)

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	t0 := time.Date(2026, 3, 2, 10, 0, 0, 0, time.UTC)
	pass(t0)
	g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "restarted while the control plane is not ready")
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarting)).To(BeEmpty())
	// The status pass learns that it waits, and why: no restart under way, one pending.
	waiting := restart.Status{Pending: 1, Waiting: "revision default, whose sidecar Deployment " + ns + "/app would get, is not ready " +
		"(ControlPlaneReady is False with reason RollingOut: its message names the istiod that is not available and why)"}
	g.Expect(r.Report.Value()).To(Equal(waiting))

	// A later pass, the control plane still not ready: it still waits.
	pass(t0.Add(10 * time.Minute))
	g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "restarted while the control plane is not ready")
	g.Expect(r.Report.Value()).To(Equal(waiting))

	setControlPlaneReady(ctx, g, c, metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, "istiod: 1 of 1 replicas available")
	t1 := t0.Add(20 * time.Minute)
	pass(t1)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(t1.Format(time.RFC3339)), "not restarted once the control plane is ready")
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarting)).To(HaveLen(1))
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Restarting: 1}))
}

// TestClosedWindowIsReportedAsWhyRestartsWait: outside the restart window nothing is restarted, and the
// status pass learns when the window opens, so that DataPlaneUpToDate says meshkeeper waits for it
// rather than to restart the workloads by hand.
func TestClosedWindowIsReportedAsWhyRestartsWait(t *testing.T) {
	f := newFixture(t, "window", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Spec.DataPlane.Restarts.Window = &meshv1alpha1.RestartWindow{Days: []meshv1alpha1.Weekday{"Sat"}, Start: "01:00", End: "03:00"}
	g.Expect(c.Update(ctx, mesh)).To(Succeed())
	installed(ctx, g, c)
	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, app)

	r, _, pass := clockedReconciler(ctx, t, g, c, workloads)
	friday := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	pass(friday)
	g.Expect(restartedAt(ctx, g, c, app)).To(BeEmpty(), "restarted outside the window")
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Pending: 1,
		Waiting: "the restart window (spec.dataPlane.restarts.window) is closed until 2026-12-05T01:00:00Z"}))

	saturday := time.Date(2026, 12, 5, 1, 30, 0, 0, time.UTC)
	pass(saturday)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(saturday.Format(time.RFC3339)), "not restarted in the window")
	g.Expect(r.Report.Value()).To(Equal(restart.Status{Restarting: 1}))
}

// setControlPlaneReady writes the ServiceMesh's ControlPlaneReady condition as the status pass would.
func setControlPlaneReady(ctx context.Context, g Gomega, c client.Client, status metav1.ConditionStatus, reason, message string) {
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	meta.SetStatusCondition(&mesh.Status.Conditions, metav1.Condition{Type: meshv1alpha1.ConditionControlPlaneReady, Status: status,
		ObservedGeneration: mesh.Generation, Reason: reason, Message: message})
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
}
