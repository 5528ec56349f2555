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
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestHeldWorkloadsAreNotRestarted: a change of the pod template does not roll out a paused
// Deployment, a StatefulSet or DaemonSet with updateStrategy OnDelete, nor every pod of a StatefulSet
// with a partition; and a workload another controller owns is that controller's to write. meshkeeper's annotation would only make such a workload count as stalled once its
// deadline passed, and stop every further restart (or roll a canary back). They are never written;
// their pods are counted in status.proxies.notRestartable and named, with why, in the NotRestartable
// Event. A workload meshkeeper restarted that its owner paused since is not a stall either: the next
// workload is restarted.
func TestHeldWorkloadsAreNotRestarted(t *testing.T) {
	// Room for every workload of the namespace at once: only what the restarts decide holds one back.
	f := newFixture(t, "held", ptr.To[int32](10))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	app := createRolledOut(ctx, g, c, ns, "app", "")
	paused := createRolledOut(ctx, g, c, ns, "paused", "")
	paused.Spec.Paused = true
	g.Expect(c.Update(ctx, paused)).To(Succeed())
	markRolledOut(ctx, g, c, paused)
	// A Deployment another controller owns and writes (a Knative Revision's), which could write its own
	// pod template back over meshkeeper's annotation.
	owned := createRolledOut(ctx, g, c, ns, "owned", "")
	owned.OwnerReferences = []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "owned-00001",
		UID: "0d4c7b5e-revision", Controller: ptr.To(true)}}
	g.Expect(c.Update(ctx, owned)).To(Succeed())
	markRolledOut(ctx, g, c, owned)

	labels := func(name string) map[string]string { return map[string]string{"app": name} }
	template := func(name string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels(name)},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}}
	}
	statefulSet := func(name string, strategy appsv1.StatefulSetUpdateStrategy) *appsv1.StatefulSet {
		t.Helper()
		s := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), ServiceName: name, UpdateStrategy: strategy,
				Selector: &metav1.LabelSelector{MatchLabels: labels(name)}, Template: template(name)}}
		g.Expect(c.Create(ctx, s)).To(Succeed())
		s.Status = appsv1.StatefulSetStatus{ObservedGeneration: s.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1,
			AvailableReplicas: 1, CurrentReplicas: 1}
		g.Expect(c.Status().Update(ctx, s)).To(Succeed())
		return s
	}
	db := statefulSet("db", appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType})
	queue := statefulSet("queue", appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1)}})
	agent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"},
		Spec: appsv1.DaemonSetSpec{UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
			Selector: &metav1.LabelSelector{MatchLabels: labels("agent")}, Template: template("agent")}}
	g.Expect(c.Create(ctx, agent)).To(Succeed())
	agent.Status = appsv1.DaemonSetStatus{ObservedGeneration: agent.Generation, DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
		UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}
	g.Expect(c.Status().Update(ctx, agent)).To(Succeed())

	// One pod without a sidecar each, as their controllers create them, and a bare pod.
	ownedPod := func(name string, owner client.Object, kind string) {
		t.Helper()
		g.Expect(c.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels(owner.GetName()),
				OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner.GetName(), UID: owner.GetUID(),
					Controller: ptr.To(true)}}},
			Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
		})).To(Succeed())
	}
	ownedPod("db-0", db, "StatefulSet")
	ownedPod("queue-0", queue, "StatefulSet")
	ownedPod("agent-x7k2p", agent, "DaemonSet")
	g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bare"},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}})).To(Succeed())
	// A pod of a ReplicaSet of an Argo Rollout, which owns its ReplicaSets itself: no workload meshkeeper
	// restarts, and the Event names its owner.
	rolloutRS := &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "canary-5f7c", Labels: labels("canary"),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "argoproj.io/v1alpha1", Kind: "Rollout", Name: "canary",
			UID: "5b1e6a2c-rollout", Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: &metav1.LabelSelector{MatchLabels: labels("canary")},
			Template: template("canary")}}
	g.Expect(c.Create(ctx, rolloutRS)).To(Succeed())
	ownedPod("canary-5f7c-q8x2z", rolloutRS, "ReplicaSet")

	waitCached(ctx, g, workloads, app, paused, owned, db, queue, agent)

	base := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	restartedAt := func(obj client.Object) string { return restartedAt(ctx, g, c, obj) }
	notRestartableEvents := func() []string { return withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable) }

	t.Log("one pass with room for all of them: only the workload a restart rolls out is restarted")
	pass(base)
	stamp := base.Format(time.RFC3339)
	g.Expect(restartedAt(app)).To(Equal(stamp), "a Deployment that rolls out is restarted")
	g.Expect(restartedAt(paused)).To(BeEmpty(), "a paused Deployment must not be restarted")
	g.Expect(restartedAt(owned)).To(BeEmpty(), "a Deployment another controller owns must not be restarted")
	g.Expect(restartedAt(db)).To(BeEmpty(), "a StatefulSet with updateStrategy OnDelete must not be restarted")
	g.Expect(restartedAt(queue)).To(BeEmpty(), "a StatefulSet with a partition must not be restarted")
	g.Expect(restartedAt(agent)).To(BeEmpty(), "a DaemonSet with updateStrategy OnDelete must not be restarted")
	report := r.Report.Value()
	g.Expect(report.NotRestartable).To(BeEquivalentTo(7), "the pods of the five held workloads, the Rollout's pod and the bare pod")
	g.Expect(report.Restarting).To(BeEquivalentTo(1))
	g.Expect(report.Pending).To(BeZero(), "a held workload does not wait for a restart that never comes")
	g.Expect(notRestartableEvents()).To(ConsistOf(And(
		ContainSubstring("Warning"),
		ContainSubstring("7 pod(s)"),
		ContainSubstring("2 belong to no Deployment, StatefulSet or DaemonSet"),
		ContainSubstring(ns+"/bare (no owner)"),
		ContainSubstring(ns+"/canary-5f7c-q8x2z (ReplicaSet canary-5f7c)"),
		ContainSubstring("5 belong to workloads"),
		ContainSubstring("Deployment "+ns+"/paused (paused)"),
		ContainSubstring("Deployment "+ns+"/owned (controlled by Revision owned-00001)"),
		ContainSubstring("StatefulSet "+ns+"/db (updateStrategy OnDelete)"),
		ContainSubstring("StatefulSet "+ns+"/queue (partition 1)"),
		ContainSubstring("DaemonSet "+ns+"/agent (updateStrategy OnDelete)"),
	)))

	t.Log("its owner pauses the restarted Deployment mid-rollout; past its deadline, the next workload is still restarted")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(app), app)).To(Succeed())
	app.Spec.Paused = true
	g.Expect(c.Update(ctx, app)).To(Succeed())
	next := createRolledOut(ctx, g, c, ns, "next", "")
	waitCached(ctx, g, workloads, app, next)
	later := base.Add(3 * time.Minute) // app's progress deadline is a minute
	pass(later)
	report = r.Report.Value()
	g.Expect(report.Stalled).To(BeEmpty(), "a paused Deployment's rollout is its owner's, not a stalled restart")
	g.Expect(restartedAt(next)).To(Equal(later.Format(time.RFC3339)), "nothing stalled: the next workload is restarted")
	g.Expect(restartedAt(app)).To(Equal(stamp), "the paused Deployment is not restarted again")
	for _, held := range []client.Object{paused, owned, db, queue, agent} {
		g.Expect(restartedAt(held)).To(BeEmpty(), "%s is still held", held.GetName())
	}
	g.Expect(report.NotRestartable).To(BeEquivalentTo(8), "the paused Deployment's outdated pod counts too")
	g.Expect(report.Restarting).To(BeEquivalentTo(1), "only the next workload rolls out")
	g.Expect(notRestartableEvents()).To(ConsistOf(ContainSubstring("Deployment " + ns + "/app (paused)")))
}
