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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestAWaveSaysWhyAWorkloadWaitsForItsSecondRestart: a workload meshkeeper restarted, whose restart
// rolled out, needs another restart when the mesh moves on (an upgrade shortly after the first wave).
// meshkeeper restarts it again once the deadline of its last restart has passed; until then, with
// nothing else rolling out, DataPlaneUpToDate must say that meshkeeper waits and until when, not
// (reason RestartNeeded) that someone should restart the workload by hand.
func TestAWaveSaysWhyAWorkloadWaitsForItsSecondRestart(t *testing.T) {
	f := newFixture(t, "second", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	api := createRolledOut(ctx, g, c, ns, "api", "")
	deadline := time.Duration(*api.Spec.ProgressDeadlineSeconds) * time.Second

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	first := restartedAt(ctx, g, c, api)
	g.Expect(first).NotTo(BeEmpty())

	t.Log("the restart rolls out")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPod(ctx, g, c, api, "api-new", true)
	markRolledOut(ctx, g, c, api)
	waitCached(ctx, g, workloads, api)
	pass(base.Add(5 * time.Second))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarted)).To(HaveLen(1))
	g.Expect(r.Report.Value().Restarting).To(BeZero())

	t.Log("the mesh is upgraded: the pod the restart created is outdated")
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Status.Version = "1.31.2"
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())

	pass(base.Add(deadline / 2))
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(first), "restarted again before the deadline of its last restart passed")
	status := r.Report.Value()
	g.Expect(status.Restarting).To(BeZero())
	g.Expect(status.Pending).To(Equal(1), "the workload waits for its second restart")
	g.Expect(status.Waiting).To(And(ContainSubstring("Deployment "+ns+"/api"),
		ContainSubstring(base.Add(deadline).Format(time.RFC3339))),
		"nothing says that meshkeeper restarts the workload once its deadline has passed")

	t.Log("once the deadline has passed, meshkeeper restarts it again")
	pass(base.Add(deadline + time.Second))
	g.Expect(restartedAt(ctx, g, c, api)).NotTo(Equal(first))
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(1))
	g.Expect(r.Report.Value().Waiting).To(BeEmpty())
}
