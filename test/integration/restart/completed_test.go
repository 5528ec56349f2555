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

// TestACompletedRestartIsNotStalledByALaterRollout: once a restart has rolled out, the workload's
// later rollouts are not meshkeeper's. An autoscaler's scale-up whose new replica waits for a node,
// shortly after the restart, once counted as that restart rolling out (holding the namespace's
// budget) and, past the restart's deadline, as stalled: which stops every restart in the cluster, or
// rolls a canary back.
func TestACompletedRestartIsNotStalledByALaterRollout(t *testing.T) {
	f := newFixture(t, "completed", nil) // one restart at a time in the namespace
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	checkout := createRolledOut(ctx, g, c, ns, "checkout", "")
	deadline := time.Duration(*checkout.Spec.ProgressDeadlineSeconds) * time.Second

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	cachedGeneration := func(d *appsv1.Deployment) int64 {
		out := &appsv1.Deployment{}
		g.Expect(workloads.Get(ctx, client.ObjectKeyFromObject(d), out)).To(Succeed())
		return out.Status.ObservedGeneration
	}

	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout)).To(Succeed())
	g.Expect(checkout.Spec.Template.Annotations).To(HaveKey(meshv1alpha1.RestartedAtAnnotation))
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(1))

	t.Log("the restart rolls out")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "checkout-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPod(ctx, g, c, checkout, "checkout-new", true)
	markRolledOut(ctx, g, c, checkout)
	g.Eventually(func() int64 { return cachedGeneration(checkout) }, 10*time.Second, 20*time.Millisecond).Should(Equal(checkout.Generation))
	pass(base.Add(5 * time.Second))
	g.Expect(r.Report.Value().Restarting).To(BeZero())
	g.Expect(strings.Join(drain(recorder), "\n")).To(ContainSubstring(" " + meshv1alpha1.ReasonRestarted + " "))

	t.Log("an autoscaler adds a replica, which waits for a node")
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout); err != nil {
			return err
		}
		checkout.Spec.Replicas = ptr.To[int32](2)
		return c.Update(ctx, checkout)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(checkout), checkout); err != nil {
			return err
		}
		checkout.Status = appsv1.DeploymentStatus{ObservedGeneration: checkout.Generation, Replicas: 2, UpdatedReplicas: 2,
			ReadyReplicas: 1, AvailableReplicas: 1, UnavailableReplicas: 1}
		return c.Status().Update(ctx, checkout)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Eventually(func() int64 { return cachedGeneration(checkout) }, 10*time.Second, 20*time.Millisecond).Should(Equal(checkout.Generation))

	pass(base.Add(deadline / 2))
	g.Expect(r.Report.Value().Restarting).To(BeZero(), "the scale-up counted as meshkeeper's restart rolling out")
	pass(base.Add(deadline + 5*time.Second))
	status := r.Report.Value()
	g.Expect(status.Stalled).To(BeEmpty(), "the scale-up counted as meshkeeper's restart stalled")
	g.Expect(status.Restarting).To(BeZero())
	g.Expect(strings.Join(drain(recorder), "\n")).NotTo(ContainSubstring(meshv1alpha1.ReasonRestartStalled))
}
