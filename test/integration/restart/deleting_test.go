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

// protect is a finalizer of another tool's, which keeps a deleted workload, and its pods, until that
// tool lets it go: the garbage collector deletes the pods only once their owner is gone.
const protect = "example.com/protect"

// TestAWorkloadBeingDeletedIsNotRestarted: the Deployment, StatefulSet and DaemonSet controllers leave
// a workload being deleted alone, so a change of its pod template does not roll it out. A restart of it
// would never roll out: a Deployment would count as restarting until it is gone, holding its
// namespace's budget, and a StatefulSet or DaemonSet would count as stalled after its deadline and stop
// every further restart. Its pods count as not restartable, and the NotRestartable Event says why; a
// workload restarted before its deletion started neither holds the budget nor stalls the restarts.
func TestAWorkloadBeingDeletedIsNotRestarted(t *testing.T) {
	f := newFixture(t, "deleting", nil) // one restart at a time in the namespace
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	// api is a Deployment its owner deleted, kept by the finalizer with its pod, which has no sidecar.
	api := createRolledOut(ctx, g, c, ns, "api", "")
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
	api.Finalizers = []string{protect}
	g.Expect(c.Update(ctx, api)).To(Succeed())
	g.Expect(c.Delete(ctx, api)).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
	g.Expect(api.DeletionTimestamp).NotTo(BeNil())
	// The deletion moved its generation on; the Deployment controller only writes the status of a
	// Deployment being deleted, which stays rolled out.
	markRolledOut(ctx, g, c, api)
	// db is a StatefulSet whose pod has no sidecar, with the finalizer too, not deleted yet.
	labels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db", Finalizers: []string{protect}},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](1), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example.com/db:1.0"}}}}}}
	g.Expect(c.Create(ctx, db)).To(Succeed())
	db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation, Replicas: 1, UpdatedReplicas: 1, CurrentReplicas: 1,
		ReadyReplicas: 1, AvailableReplicas: 1, CurrentRevision: "db-1", UpdateRevision: "db-1"}
	g.Expect(c.Status().Update(ctx, db)).To(Succeed())
	g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db-0", Labels: labels,
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "StatefulSet", Name: db.Name, UID: db.UID,
			Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example.com/db:1.0"}}}})).To(Succeed())
	t.Cleanup(func() {
		// The API server outlives the test: the finalizers are let go, so that the workloads go.
		for _, obj := range []client.Object{db, api} {
			if c.Get(ctx, client.ObjectKeyFromObject(obj), obj) == nil {
				obj.SetFinalizers(nil)
				_ = c.Update(ctx, obj)
			}
		}
	})
	waitCached(ctx, g, workloads, api, db)

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	restartedAt := func(obj client.Object) string { return restartedAt(ctx, g, c, obj) }
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(restartedAt(api)).To(BeEmpty(), "a Deployment being deleted must not be restarted")
	g.Expect(restartedAt(db)).To(Equal(base.Format(time.RFC3339)), "the StatefulSet, which is not being deleted, is restarted")
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(ConsistOf(
		ContainSubstring("Deployment " + ns + "/api (being deleted)")))

	t.Log("its owner deletes the StatefulSet before the StatefulSet controller acted on the restart")
	g.Expect(c.Delete(ctx, db)).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(db), db)).To(Succeed())
	g.Expect(db.DeletionTimestamp).NotTo(BeNil())
	// A Deployment of the namespace that is not being deleted, which waits for the namespace's budget.
	web := createRolledOut(ctx, g, c, ns, "web", "")
	waitCached(ctx, g, workloads, db, web)

	// Past the StatefulSet's deadline, whose status counts did not change since the restart.
	later := base.Add(11 * time.Minute)
	pass(later)
	report := r.Report.Value()
	g.Expect(report.Stalled).To(BeEmpty(), "a workload being deleted is not a stalled restart")
	g.Expect(restartedAt(api)).To(BeEmpty(), "a Deployment being deleted must not be restarted")
	g.Expect(restartedAt(web)).To(Equal(later.Format(time.RFC3339)),
		"the workloads being deleted hold none of the namespace's budget: the next one is restarted")
	g.Expect(report.NotRestartable).To(BeEquivalentTo(2), "the pods of the two workloads being deleted")
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(ConsistOf(And(
		ContainSubstring("Deployment "+ns+"/api (being deleted)"),
		ContainSubstring("StatefulSet "+ns+"/db (being deleted)"),
	)))
}
