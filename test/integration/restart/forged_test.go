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
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestAForgedRestartHoldsBackNothing: the restart annotation is a claim anyone who may edit a workload
// can make, under any field manager. A workload outside the mesh that carries it, stuck past its
// deadline, must not count as a stalled restart (which stops every restart in the cluster, or rolls a
// canary back); one that carries a time yet to come must not count as rolling out for ever (which
// holds its namespace's, and the cluster's, restart budget).
func TestAForgedRestartHoldsBackNothing(t *testing.T) {
	f := newFixture(t, "forged", nil) // one restart at a time in the namespace
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	tenant := f.name + "-tenant"
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}})).To(Succeed())

	now := time.Now().UTC().Truncate(time.Second)
	stuck := func(d *appsv1.Deployment) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
				return err
			}
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 0, ReadyReplicas: 1, AvailableReplicas: 1}
			return c.Status().Update(ctx, d)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	}
	// Outside the mesh, claimed as restarted 90 s ago (its deadline is 60 s) and not rolled out.
	outside := createRolledOut(ctx, g, c, tenant, "outside", now.Add(-90*time.Second).Format(time.RFC3339))
	stuck(outside)
	// In the mesh, claimed as restarted an hour from now and not rolled out.
	future := createRolledOut(ctx, g, c, ns, "future", now.Add(time.Hour).Format(time.RFC3339))
	stuck(future)
	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, outside, future, app)

	r := &restart.Reconciler{Client: c, Workloads: workloads, Recorder: events.NewFakeRecorder(100), Report: restart.NewReport(),
		Now: func() time.Time { return now }}
	_, err := r.Reconcile(ctx, ctrl.Request{})
	g.Expect(err).NotTo(HaveOccurred())
	report := r.Report.Value()
	g.Expect(report.Stalled).To(BeEmpty(), "a claim outside the mesh counted as a stalled restart")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
	g.Expect(app.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedAtAnnotation, now.Format(time.RFC3339)),
		"a forged restart held back the namespace's restart")
	g.Expect(report.Restarting).To(BeEquivalentTo(1), "only the workload meshkeeper restarted rolls out for it")
}
