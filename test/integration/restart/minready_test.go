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

// TestAStatefulSetRestartRollsOutOnceItsLastReplicaIsAvailable: the StatefulSet controller makes the
// current revision the update revision as soon as every replica is updated and ready, while a replica
// ready for less than the StatefulSet's minReadySeconds is not available yet, and the controller
// itself waits for it as for any unavailable replica. Until it is available the restart is still
// rolling out: it holds its namespace's budget (maxConcurrentPerNamespace) for the manager that made
// it and for one that takes over, and the next workload waits.
func TestAStatefulSetRestartRollsOutOnceItsLastReplicaIsAvailable(t *testing.T) {
	f := newFixture(t, "minready", nil) // one restart at a time in the namespace
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	labels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](2), ServiceName: "db", MinReadySeconds: 30,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/db:1.0"}}}}}}
	g.Expect(c.Create(ctx, db)).To(Succeed())
	// status writes what the StatefulSet controller would of the current generation: two replicas, both
	// updated and ready, available of them available, all of revision.
	status := func(available int32, revision string) {
		t.Helper()
		g.Eventually(func() error {
			if err := c.Get(ctx, client.ObjectKeyFromObject(db), db); err != nil {
				return err
			}
			db.Status = appsv1.StatefulSetStatus{ObservedGeneration: db.Generation, Replicas: 2, UpdatedReplicas: 2,
				CurrentReplicas: 2, ReadyReplicas: 2, AvailableReplicas: available, CurrentRevision: revision, UpdateRevision: revision}
			return c.Status().Update(ctx, db)
		}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	}
	status(2, "db-1")
	createPodOf(ctx, g, c, db, "db-0", false)
	createPodOf(ctx, g, c, db, "db-1", false)
	waitCached(ctx, g, f.workloads, db)

	first, recorder, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	g.Expect(restartedAt(ctx, g, c, db)).To(Equal(base.Format(time.RFC3339)))

	t.Log("both replicas are replaced and ready; the last one is not available for another 30 seconds")
	for _, name := range []string{"db-0", "db-1"} {
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}, client.GracePeriodSeconds(0))).To(Succeed())
		createPodOf(ctx, g, c, db, name, true)
	}
	status(1, "db-2")
	late := createRolledOut(ctx, g, c, ns, "late", "")
	waitCached(ctx, g, f.workloads, db, late)

	firstPass(base.Add(time.Minute))
	g.Expect(restartedAt(ctx, g, c, late)).To(BeEmpty(), "db's restart, whose last replica is not available yet, released its budget")
	g.Expect(first.Report.Value().Restarting).To(BeEquivalentTo(1))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarted)).To(BeEmpty())

	t.Log("a second manager takes over")
	workloads := startWorkloadCache(ctx, g, f.env)
	waitCached(ctx, g, workloads, db, late)
	second, recorder, secondPass := clockedReconciler(ctx, t, g, c, workloads)
	secondPass(base.Add(time.Minute))
	g.Expect(restartedAt(ctx, g, c, late)).To(BeEmpty(), "db's restart, whose last replica is not available yet, released its budget")
	g.Expect(second.Report.Value().Restarting).To(BeEquivalentTo(1))

	t.Log("the last replica is available: the restart rolled out")
	status(2, "db-2")
	waitCached(ctx, g, workloads, db)
	secondPass(base.Add(2 * time.Minute))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarted)).To(HaveLen(1))
	g.Expect(restartedAt(ctx, g, c, late)).To(Equal(base.Add(2 * time.Minute).Format(time.RFC3339)))
}
