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
	"strings"
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

// TestALongRolloutThatProgressesIsNotStalled: progressDeadlineSeconds is, as Kubernetes means it, how
// long a rollout may go without progress, not how long it may take. A StatefulSet meshkeeper restarted
// whose pods are updated one by one, each within the deadline, over more than the deadline in all,
// once counted as stalled: which stops every restart in the cluster, or rolls a canary back. It is
// stalled once its rollout made no progress for its deadline.
func TestALongRolloutThatProgressesIsNotStalled(t *testing.T) {
	f := newFixture(t, "progress", ptr.To[int32](2))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	labels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/db:1.0"}}}}}}
	g.Expect(c.Create(ctx, db)).To(Succeed())
	// status writes what the StatefulSet controller would of its current generation.
	status := func(updated, ready int32, revision string) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(db), db); err != nil {
				return err
			}
			db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation, Replicas: 3, UpdatedReplicas: updated,
				ReadyReplicas: ready, AvailableReplicas: ready, CurrentReplicas: 3 - updated, CurrentRevision: "db-1",
				UpdateRevision: revision}
			return c.Status().Update(ctx, db)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
		waitCached(ctx, g, workloads, db)
	}
	status(3, 3, "db-1")
	g.Expect(c.Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: db.Name, UID: db.UID,
				Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/db:1.0"}}},
	})).To(Succeed())
	deadline := 10 * time.Minute // a StatefulSet's

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(db), db)).To(Succeed())
	g.Expect(db.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedAtAnnotation, base.Format(time.RFC3339)))
	drain(recorder)

	t.Log("its pods are updated one by one, each within the deadline")
	status(1, 2, "db-2")
	pass(base.Add(4 * time.Minute))
	status(2, 2, "db-2")
	pass(base.Add(8 * time.Minute))
	g.Expect(r.Report.Value().Stalled).To(BeEmpty())
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, workloads, late)
	status(2, 3, "db-2")
	at := base.Add(12 * time.Minute)
	pass(at)
	s := r.Report.Value()
	g.Expect(s.Stalled).To(BeEmpty(), "a rollout that progresses, past its deadline since the restart, counted as stalled")
	g.Expect(s.Restarting).To(BeEquivalentTo(2))
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(late), late)).To(Succeed())
	g.Expect(late.Spec.Template.Annotations).To(HaveKey(meshv1alpha1.RestartedAtAnnotation),
		"another workload is restarted while the StatefulSet's rollout progresses")
	g.Expect(strings.Join(drain(recorder), "\n")).NotTo(ContainSubstring(meshv1alpha1.ReasonRestartStalled))
	markRolledOut(ctx, g, c, late)
	waitCached(ctx, g, workloads, late)

	t.Log("then its rollout makes no progress")
	pass(at.Add(deadline - 5*time.Second))
	g.Expect(r.Report.Value().Stalled).To(BeEmpty(), "stalled before it made no progress for its deadline")
	pass(at.Add(deadline + 5*time.Second))
	s = r.Report.Value()
	g.Expect(s.StalledRestarts).To(ConsistOf(meshv1alpha1.StalledRestart{Workload: "StatefulSet " + ns + "/db",
		RestartedAt: metav1.NewTime(base)}))
	g.Expect(s.Stalled).To(ContainSubstring("StatefulSet " + ns + "/db restarted at " + base.Format(time.RFC3339) +
		" made no progress for 10m0s"))
	g.Expect(strings.Join(drain(recorder), "\n")).To(ContainSubstring("StatefulSet " + ns + "/db made no progress for 10m0s"))
}

// TestADeploymentIsStalledWhenItsControllerSaysSo: a Deployment's controller judges its rollout's
// progress (its Progressing condition); a rollout it says is progressing, and whose counts moved within
// its deadline, is not stalled however long ago meshkeeper restarted it, and one it says exceeded its
// progress deadline is.
func TestADeploymentIsStalledWhenItsControllerSaysSo(t *testing.T) {
	f := newFixture(t, "progressing", ptr.To[int32](2))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	api := createRolledOut(ctx, g, c, ns, "api", "")
	waitCached(ctx, g, workloads, api)
	deadline := time.Duration(*api.Spec.ProgressDeadlineSeconds) * time.Second

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
	g.Expect(api.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedAtAnnotation, base.Format(time.RFC3339)))
	drain(recorder)
	// progressing writes what the Deployment controller would while the rollout waits for its new pod,
	// created (updated) or not yet.
	progressing := func(status corev1.ConditionStatus, reason string, updated int32) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(api), api); err != nil {
				return err
			}
			now := metav1.Now()
			api.Status = appsv1.DeploymentStatus{ObservedGeneration: api.Generation, Replicas: 1 + updated, UpdatedReplicas: updated,
				ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: updated,
				Conditions: []appsv1.DeploymentCondition{
					{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
						LastUpdateTime: now, LastTransitionTime: now},
					{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, LastUpdateTime: now, LastTransitionTime: now},
				}}
			return c.Status().Update(ctx, api)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
		waitCached(ctx, g, workloads, api)
	}

	t.Log("the Deployment controller says the rollout progresses: its new pod created after a first pass")
	progressing(corev1.ConditionTrue, "NewReplicaSetCreated", 0)
	pass(base.Add(deadline / 2))
	progressing(corev1.ConditionTrue, "ReplicaSetUpdated", 1)
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, workloads, late)
	pass(base.Add(deadline + 30*time.Second))
	s := r.Report.Value()
	g.Expect(s.Stalled).To(BeEmpty(), "a rollout its Deployment controller says progresses counted as stalled")
	g.Expect(s.Restarting).To(BeEquivalentTo(2))
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(late), late)).To(Succeed())
	g.Expect(late.Spec.Template.Annotations).To(HaveKey(meshv1alpha1.RestartedAtAnnotation),
		"another workload is restarted while the Deployment's rollout progresses")
	g.Expect(strings.Join(drain(recorder), "\n")).NotTo(ContainSubstring(meshv1alpha1.ReasonRestartStalled))
	markRolledOut(ctx, g, c, late)
	waitCached(ctx, g, workloads, late)

	t.Log("the Deployment controller says the rollout exceeded its progress deadline")
	progressing(corev1.ConditionFalse, "ProgressDeadlineExceeded", 1)
	pass(base.Add(deadline + 40*time.Second))
	s = r.Report.Value()
	g.Expect(s.StalledRestarts).To(ConsistOf(meshv1alpha1.StalledRestart{Workload: "Deployment " + ns + "/api",
		RestartedAt: metav1.NewTime(base)}))
	g.Expect(s.Stalled).To(ContainSubstring("Deployment " + ns + "/api restarted at " + base.Format(time.RFC3339) +
		" made no progress for 1m0s"))
	g.Expect(strings.Join(drain(recorder), "\n")).To(ContainSubstring(meshv1alpha1.ReasonRestartStalled))
}
