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
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestARestartWaveGoesOnOnceAfterAFailover: a manager that takes over a restart wave (a restart of
// meshkeeper, another replica after a leader election), with a workload cache and a memory of its own,
// finds the restart its predecessor started in the workload's annotation: it restarts that workload
// no second time, counts its rollout against maxConcurrentPerNamespace, and restarts the next workload
// once that rollout completes, not before.
func TestARestartWaveGoesOnOnceAfterAFailover(t *testing.T) {
	f := newFixture(t, "wave", ptr.To[int32](1))
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	api := createRolledOut(ctx, g, c, ns, "api", "")
	cart := createRolledOut(ctx, g, c, ns, "cart", "")
	waitCached(ctx, g, f.workloads, api, cart)

	first, firstRecorder, firstPass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	firstPass(base)
	stamp := base.Format(time.RFC3339)
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp))
	g.Expect(restartedAt(ctx, g, c, cart)).To(BeEmpty(), "one restart at a time in the namespace")
	g.Expect(first.Report.Value().Restarting).To(BeEquivalentTo(1))
	g.Expect(withReason(drain(firstRecorder), meshv1alpha1.ReasonRestarting)).To(HaveLen(1))
	generation := api.Generation

	t.Log("the first manager stops while api rolls out; a second one starts with a workload cache of its own")
	// The first reconciler makes no further pass: what it keeps in memory is gone with it.
	workloads := startWorkloadCache(ctx, g, f.env)
	second, secondRecorder, secondPass := clockedReconciler(ctx, t, g, c, workloads)
	secondPass(base.Add(20 * time.Second))
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp), "the rollout the first manager started is restarted again")
	g.Expect(api.Generation).To(Equal(generation))
	g.Expect(restartedAt(ctx, g, c, cart)).To(BeEmpty(), "the rollout the first manager started is not counted")
	status := second.Report.Value()
	g.Expect(status.Restarting).To(BeEquivalentTo(1))
	g.Expect(status.Pending).To(Equal(1))
	g.Expect(status.Stalled).To(BeEmpty())
	g.Expect(drain(secondRecorder)).To(BeEmpty())

	t.Log("api rolls out")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPod(ctx, g, c, api, "api-new", true)
	markRolledOut(ctx, g, c, api)
	waitCached(ctx, g, workloads, api)
	next := base.Add(40 * time.Second)
	secondPass(next)
	g.Expect(restartedAt(ctx, g, c, api)).To(Equal(stamp), "a workload whose restart rolled out is restarted again")
	g.Expect(restartedAt(ctx, g, c, cart)).To(Equal(next.Format(time.RFC3339)))
	sent := strings.Join(drain(secondRecorder), "\n")
	g.Expect(sent).To(ContainSubstring(" " + meshv1alpha1.ReasonRestarted + " "))
	g.Expect(withReason(strings.Split(sent, "\n"), meshv1alpha1.ReasonRestarting)).To(ConsistOf(ContainSubstring("Deployment " + ns + "/cart")))
	g.Expect(second.Report.Value().Restarting).To(BeEquivalentTo(1))
}
