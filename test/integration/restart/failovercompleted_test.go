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
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestACompletedRestartIsDoneForTheManagerThatTakesOver: a manager that takes over (a restart of
// meshkeeper, another replica after a leader election) never saw the restart its predecessor made roll
// out, but the Deployment controller says so: its Progressing condition keeps NewReplicaSetAvailable
// through a later scale-up, whose new replica may wait for a node for as long as it takes. That
// scale-up is not the restart rolling out: it holds none of the namespace's budget
// (maxConcurrentPerNamespace), so the next workload is restarted, and it is never the restart stalled.
func TestACompletedRestartIsDoneForTheManagerThatTakesOver(t *testing.T) {
	f := newFixture(t, "takeover", nil) // one restart at a time in the namespace
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	checkout := createRolledOut(ctx, g, c, ns, "checkout", "")
	waitCached(ctx, g, f.workloads, checkout)
	deadline := time.Duration(*checkout.Spec.ProgressDeadlineSeconds) * time.Second

	first, _, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	g.Expect(restartedAt(ctx, g, c, checkout)).To(Equal(base.Format(time.RFC3339)))
	g.Expect(first.Report.Value().Restarting).To(BeEquivalentTo(1))

	t.Log("the first manager stops; the restart rolls out, then an autoscaler adds a replica that waits for a node")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout)).To(Succeed())
	createPod(ctx, g, c, checkout, "checkout-new", true)
	setDeploymentStatus(ctx, g, c, checkout, 1, 1, newReplicaSetAvailable())
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout); err != nil {
			return err
		}
		checkout.Spec.Replicas = ptr.To[int32](2)
		return c.Update(ctx, checkout)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	// As the Deployment controller leaves a scaled Deployment whose rollout completed: the new replica
	// is of the current template, and the Progressing condition is left as it was.
	setDeploymentStatus(ctx, g, c, checkout, 2, 1, newReplicaSetAvailable())
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, f.workloads, checkout, late)

	t.Log("a second manager takes over within the restart's deadline")
	workloads := startWorkloadCache(ctx, g, f.env)
	waitCached(ctx, g, workloads, checkout, late)
	second, recorder, secondPass := clockedReconciler(ctx, t, g, c, workloads)
	secondPass(base.Add(deadline / 2))
	g.Expect(restartedAt(ctx, g, c, late)).NotTo(BeEmpty(), "the scale-up held the namespace's budget as the restart rolling out")
	g.Expect(second.Report.Value().Restarting).To(BeEquivalentTo(1), "only late's restart rolls out")

	secondPass(base.Add(2*deadline - time.Second))
	// late's restart, which no Deployment controller rolls out here, made no progress since: it is the
	// one stalled restart.
	stalled := second.Report.Value().StalledRestarts
	g.Expect(stalled).To(HaveLen(1))
	g.Expect(stalled[0].Workload).To(Equal("Deployment " + ns + "/late"))
	for _, event := range withReason(drain(recorder), meshv1alpha1.ReasonRestartStalled) {
		g.Expect(event).NotTo(ContainSubstring("checkout"))
	}
}

// newReplicaSetAvailable is the Progressing condition with which the Deployment controller says that
// the rollout of the current template completed.
func newReplicaSetAvailable() appsv1.DeploymentCondition {
	return appsv1.DeploymentCondition{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
		LastUpdateTime: metav1.Now(), LastTransitionTime: metav1.Now()}
}

// setDeploymentStatus writes the status the Deployment controller would for replicas pods of the
// current template (no older one left), ready of them ready and available, with condition.
func setDeploymentStatus(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment, replicas, ready int32,
	condition appsv1.DeploymentCondition) {
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: replicas,
			ReadyReplicas: ready, AvailableReplicas: ready, UnavailableReplicas: replicas - ready,
			Conditions: []appsv1.DeploymentCondition{condition}}
		return c.Status().Update(ctx, d)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
}

// TestACompletedStatefulSetRestartIsDoneForTheManagerThatTakesOver: of a StatefulSet, the StatefulSet
// controller says that a rollout completed: its current revision becomes the update revision once every
// replica is updated and ready, and stays so through a later scale-up, whose new replica is created of
// that revision and may wait for a node. A manager that takes over counts that scale-up neither as the
// restart rolling out (holding the namespace's budget) nor, once its counts hold for the deadline, as
// the restart stalled.
func TestACompletedStatefulSetRestartIsDoneForTheManagerThatTakesOver(t *testing.T) {
	f := newFixture(t, "takeover-sts", nil) // one restart at a time in the namespace
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	labels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/db:1.0"}}}}}}
	g.Expect(c.Create(ctx, db)).To(Succeed())
	// status writes what the StatefulSet controller would of the current generation: replicas pods, ready
	// of them ready, all of revision, the rollout complete.
	status := func(replicas, ready int32, revision string) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(db), db); err != nil {
				return err
			}
			db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation, Replicas: replicas, UpdatedReplicas: replicas,
				CurrentReplicas: replicas, ReadyReplicas: ready, AvailableReplicas: ready, CurrentRevision: revision, UpdateRevision: revision}
			return c.Status().Update(ctx, db)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	}
	status(1, 1, "db-1")
	createPodOf(ctx, g, c, db, "db-0", false)
	waitCached(ctx, g, f.workloads, db)
	deadline := 10 * time.Minute // a StatefulSet's

	first, _, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	g.Expect(restartedAt(ctx, g, c, db)).To(Equal(base.Format(time.RFC3339)))
	g.Expect(first.Report.Value().Restarting).To(BeEquivalentTo(1))

	t.Log("the first manager stops; the restart rolls out, then db is scaled up and its new replica waits for a node")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0"}}, client.GracePeriodSeconds(0))).To(Succeed())
	createPodOf(ctx, g, c, db, "db-0", true)
	status(1, 1, "db-2")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(db), db); err != nil {
			return err
		}
		db.Spec.Replicas = ptr.To[int32](2)
		return c.Update(ctx, db)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	createPodOf(ctx, g, c, db, "db-1", true)
	status(2, 1, "db-2")
	late := createRolledOut(ctx, g, c, ns, "late", "")

	takeOverARestartDone(t, f, db, "StatefulSet "+ns+"/db", late, base, deadline, "the scale-up")
}

// TestACompletedDaemonSetRestartIsDoneForTheManagerThatTakesOver: a DaemonSet's status keeps no verdict
// on a completed rollout, only counts, and a node that goes NotReady after the rollout lowers its ready
// and available counts for as long as the node is down, though its pod is of the current template. A
// manager that takes over, which never saw the restart roll out, counts that neither as the restart
// rolling out (holding the namespace's budget) nor, once its counts hold for the deadline, as the
// restart stalled (which would stop every restart): every node runs a pod of the current template, so
// the DaemonSet controller has nothing left to roll.
func TestACompletedDaemonSetRestartIsDoneForTheManagerThatTakesOver(t *testing.T) {
	f := newFixture(t, "takeover-ds", nil) // one restart at a time in the namespace
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	labels := map[string]string{"app": "agent"}
	agent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/agent:1.0"}}}}}}
	g.Expect(c.Create(ctx, agent)).To(Succeed())
	// status writes what the DaemonSet controller would of the current generation on two nodes: updated
	// of them running a pod of the current template, ready of them ready and available.
	status := func(updated, ready int32) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(agent), agent); err != nil {
				return err
			}
			agent.Status = appsv1.DaemonSetStatus{ObservedGeneration: agent.Generation, DesiredNumberScheduled: 2,
				CurrentNumberScheduled: 2, UpdatedNumberScheduled: updated, NumberReady: ready, NumberAvailable: ready,
				NumberUnavailable: 2 - ready}
			return c.Status().Update(ctx, agent)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	}
	status(2, 2)
	createPodOf(ctx, g, c, agent, "agent-a", false)
	createPodOf(ctx, g, c, agent, "agent-b", false)
	waitCached(ctx, g, f.workloads, agent)
	deadline := 10 * time.Minute // a DaemonSet's

	first, _, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	g.Expect(restartedAt(ctx, g, c, agent)).To(Equal(base.Format(time.RFC3339)))
	g.Expect(first.Report.Value().Restarting).To(BeEquivalentTo(1))

	t.Log("the first manager stops; the restart rolls out on both nodes, then one node goes NotReady")
	for _, name := range []string{"agent-a", "agent-b"} {
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, client.GracePeriodSeconds(0))).To(Succeed())
		createPodOf(ctx, g, c, agent, name+"-new", true)
	}
	status(2, 2)
	// The node lifecycle controller marks the pods of a NotReady node not ready: the pod there is of the
	// current template still.
	status(2, 1)
	late := createRolledOut(ctx, g, c, ns, "late", "")

	takeOverARestartDone(t, f, agent, "DaemonSet "+ns+"/agent", late, base, deadline, "the NotReady node")
}

// takeOverARestartDone starts a second manager on f's API server (a workload cache and a reconciler of
// its own) a minute after base, when the restart of owner (workload, as the status names it), made at
// base, rolled out before the first manager stopped, and what followed (cause) left its status short of
// every pod ready and available. The second manager counts that neither as the restart rolling out
// (late, waiting for the namespace's budget, is restarted) nor, past the restart's deadline, as the
// restart stalled.
func takeOverARestartDone(t *testing.T, f *fixture, owner client.Object, workload string, late *appsv1.Deployment, base time.Time,
	deadline time.Duration, cause string) {
	t.Helper()
	t.Log("a second manager takes over")
	g, ctx, c := f.g, f.ctx, f.c
	workloads := startWorkloadCache(ctx, g, f.env)
	waitCached(ctx, g, workloads, owner, late)
	second, recorder, secondPass := clockedReconciler(ctx, t, g, c, workloads)
	at := base.Add(time.Minute)
	secondPass(at)
	g.Expect(restartedAt(ctx, g, c, late)).NotTo(BeEmpty(), cause+" held the namespace's budget as the restart rolling out")

	secondPass(at.Add(deadline + 5*time.Second))
	for _, stalled := range second.Report.Value().StalledRestarts {
		g.Expect(stalled.Workload).NotTo(Equal(workload), cause+" counted as the restart stalled")
	}
	for _, event := range withReason(drain(recorder), meshv1alpha1.ReasonRestartStalled) {
		g.Expect(event).NotTo(ContainSubstring(workload))
	}
}
