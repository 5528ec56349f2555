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
	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// TestAStallOfAWorkloadGoneIsForgotten: a workload deleted (or its namespace, as CI namespaces are)
// takes meshkeeper's memory of it along. A workload of the same name created later is a workload of
// its own: the stall of its restart is reported, even one of the same restarted-at time (a manifest
// that carries the annotation back), and a rollout of its own long after that time is not counted as
// meshkeeper's restart rolling out, nor as stalled.
func TestAStallOfAWorkloadGoneIsForgotten(t *testing.T) {
	f := newFixture(t, "gone", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	stalledRestarts := metrics.RestartsTotal.WithLabelValues("stalled")
	key := "Deployment " + ns + "/app"

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
	// gone deletes the Deployment with its ReplicaSet and pods (the garbage collector's part, which no
	// controller does here), and waits until the workload cache no longer lists it.
	gone := func(d *appsv1.Deployment) {
		t.Helper()
		g.Expect(c.Delete(ctx, d)).To(Succeed())
		g.Expect(c.Delete(ctx, &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.Name + "-1"}})).To(Succeed())
		g.Expect(c.DeleteAllOf(ctx, &corev1.Pod{}, client.InNamespace(ns), client.GracePeriodSeconds(0))).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(workloads.Get(ctx, client.ObjectKeyFromObject(d), &appsv1.Deployment{}))
		}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	}
	// stalls checks the RestartStalled Events of a pass (the workload's and the ServiceMesh's) and how
	// many stalled restarts it counted.
	stalls := func(recorder []string, before float64, want int, why string) {
		t.Helper()
		g.Expect(withReason(recorder, meshv1alpha1.ReasonRestartStalled)).To(HaveLen(2*want), why)
		g.Expect(testutil.ToFloat64(stalledRestarts)-before).To(BeEquivalentTo(want), why)
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
	before := testutil.ToFloat64(stalledRestarts)
	pass(base.Add(5 * time.Second))
	stalls(drain(recorder), before, 1, "the stall of meshkeeper's restart")
	g.Expect(r.Report.Value().Stalled).To(ContainSubstring(key))

	t.Log("the workload goes")
	gone(app)
	pass(base.Add(10 * time.Second))
	report := r.Report.Value()
	g.Expect(report.Stalled).To(BeEmpty())
	g.Expect(report.Restarting).To(BeZero())

	t.Log("a workload of the same name comes back carrying that restart, and stalls")
	app = createRolledOut(ctx, g, c, ns, "app", stamp)
	stuck(app)
	before = testutil.ToFloat64(stalledRestarts)
	pass(base.Add(15 * time.Second))
	stalls(drain(recorder), before, 1, "the stall of a workload gone is still remembered")

	t.Log("it goes, and comes back again, long after that restart")
	gone(app)
	pass(base.Add(20 * time.Second))
	app = createRolledOut(ctx, g, c, ns, "app", stamp)
	stuck(app)
	before = testutil.ToFloat64(stalledRestarts)
	pass(base.Add(5 * time.Minute))
	report = r.Report.Value()
	g.Expect(report.Stalled).To(BeEmpty(), "a rollout of a workload created since counted as meshkeeper's restart of the one gone, stalled")
	g.Expect(report.Restarting).To(BeZero(), "a rollout of a workload created since counted as meshkeeper's restart of the one gone")
	stalls(drain(recorder), before, 0, "a rollout of a workload created since reported as a stalled restart")

	t.Log("a workload of the same name, created again and restarted, stalls")
	gone(app)
	app = createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, workloads, app)
	again := base.Add(10 * time.Minute)
	pass(again)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(again.Format(time.RFC3339)))
	drain(recorder)
	stuck(app)
	before = testutil.ToFloat64(stalledRestarts)
	pass(again.Add(5 * time.Second))
	stalls(drain(recorder), before, 1, "the stall of the new "+key)
}

// TestAPassBeforeTheCacheShowsAFirstRestartKeepsItsTarget: a pass before the workload cache shows
// meshkeeper's first restart of a workload (the wave's next pass, woken by a pod event) keeps what that
// restart was for. Forgotten, the workload whose pod template pins the proxy image was restarted once
// more after its rollout, though another restart brings the same sidecar.
func TestAPassBeforeTheCacheShowsAFirstRestartKeepsItsTarget(t *testing.T) {
	f := newFixture(t, "first", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	lag := &laggingCache{Cache: workloads}
	api := createRolledOut(ctx, g, c, ns, "api", "")
	waitCached(ctx, g, workloads, api)
	deadline := time.Duration(*api.Spec.ProgressDeadlineSeconds) * time.Second
	stale := &appsv1.Deployment{}
	g.Expect(workloads.Get(ctx, client.ObjectKeyFromObject(api), stale)).To(Succeed())
	const pinned = "docker.io/istio/proxyv2:1.30.0"

	r, recorder, pass := clockedReconciler(ctx, t, g, c, lag)
	base := time.Now().UTC().Truncate(time.Second)
	stamp := base.Format(time.RFC3339)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp))

	t.Log("a pass while the cache still shows the workload as before its first restart")
	lag.hold(stale)
	pass(base.Add(time.Second))
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp), "a pass on a stale cache restarted again")
	lag.release()

	t.Log("the restart rolls out, and the new pod runs the pinned proxy image")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPodWithProxy(ctx, g, c, api, "api-pinned", pinned)
	markRolledOut(ctx, g, c, api)
	waitCached(ctx, g, workloads, api)
	pass(base.Add(2 * time.Second))
	g.Expect(r.Report.Value().Restarting).To(BeZero())
	for _, at := range []time.Duration{deadline + time.Second, 10 * time.Minute, time.Hour} {
		pass(base.Add(at))
		g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp),
			"restarted again %s after a restart whose own pod still needs one, for the same sidecar", at)
	}
	report := r.Report.Value()
	g.Expect(report.NotRestartable).To(BeEquivalentTo(1), "its pinned pod counts as not restartable")
	g.Expect(report.Pending).To(BeZero())
	all := drain(recorder)
	g.Expect(withReason(all, meshv1alpha1.ReasonRestarting)).To(HaveLen(1))
	g.Expect(withReason(all, meshv1alpha1.ReasonNotRestartable)).To(ConsistOf(
		ContainSubstring("Deployment " + ns + "/api (its new pods run " + pinned + ", not the tag 1.31.1)")))
}
