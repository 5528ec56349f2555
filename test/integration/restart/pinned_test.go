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
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestARestartThatCannotHelpIsNotRepeated: a workload whose pod template pins the proxy image
// (sidecar.istio.io/proxyImage) gets the same sidecar from every restart. Once meshkeeper's restart of
// it had rolled out with new pods that still needed one, it was restarted again each time its deadline
// passed, for ever: a rollout of the workload every ten minutes. It counts as not restartable instead,
// and is restarted again only after the mesh changes; a restarted manager reads what the last restart
// was for from the workload (its restarted-for annotation) and holds it too.
func TestARestartThatCannotHelpIsNotRepeated(t *testing.T) {
	f := newFixture(t, "pinned", nil)
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	api := createRolledOut(ctx, g, c, ns, "api", "")
	// A short deadline: pods get their creation time from the API server's clock, so the passes that
	// restart follow that clock, and must wait for the deadline.
	const deadline = 2 * time.Second
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(api), api); err != nil {
			return err
		}
		api.Spec.ProgressDeadlineSeconds = ptr.To(int32(deadline / time.Second))
		return c.Update(ctx, api)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	markRolledOut(ctx, g, c, api)
	waitCached(ctx, g, workloads, api)
	const pinned = "docker.io/istio/proxyv2:1.30.0"

	restartedAt := func() string {
		t.Helper()
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(api), api)).To(Succeed())
		return api.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	}
	// rollOut does what the Deployment controller and the injector would after a restart: the old pod
	// goes, and the new one runs the image its pod template pins.
	rollOut := func(old, replacement string) {
		t.Helper()
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: old}},
			client.GracePeriodSeconds(0))).To(Succeed())
		createPodWithProxy(ctx, g, c, api, replacement, pinned)
		markRolledOut(ctx, g, c, api)
		waitCached(ctx, g, workloads, api)
	}
	// afterDeadline waits until the deadline of a restart at since has passed on the API server's clock,
	// and returns the time then.
	afterDeadline := func(since time.Time) time.Time {
		time.Sleep(time.Until(since.Add(deadline + time.Second)))
		return time.Now().UTC().Truncate(time.Second)
	}
	eventsOf := func(recorder *events.FakeRecorder) string { return strings.Join(drain(recorder), "\n") }

	r, recorder, pass := clockedReconciler(ctx, t, g, c, workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	stamp := base.Format(time.RFC3339)
	g.Expect(restartedAt()).To(Equal(stamp), "a Deployment whose pod has no sidecar is restarted")

	t.Log("the restart rolls out, and the new pod runs the pinned proxy image; its deadline passes, and passes again")
	rollOut("api-old", "api-pinned-1")
	pass(base.Add(time.Second))
	g.Expect(r.Report.Value().Restarting).To(BeZero())
	for _, at := range []time.Duration{deadline + time.Second, 10 * time.Minute, time.Hour} {
		pass(base.Add(at))
		g.Expect(restartedAt()).To(Equal(stamp), "restarted again %s after a restart whose own pod still needs one", at)
	}
	report := r.Report.Value()
	g.Expect(report.NotRestartable).To(BeEquivalentTo(1), "its pinned pod counts as not restartable")
	g.Expect(report.Pending).To(BeZero(), "a workload another restart would not help waits for none")
	all := eventsOf(recorder)
	g.Expect(all).To(ContainSubstring(" " + meshv1alpha1.ReasonRestarted + " "))
	g.Expect(strings.Count(all, " "+meshv1alpha1.ReasonRestarting+" ")).To(Equal(1))
	g.Expect(strings.Count(all, " "+meshv1alpha1.ReasonNotRestartable+" ")).To(Equal(1), "one Event, not one a pass")
	g.Expect(all).To(And(ContainSubstring("Warning "+meshv1alpha1.ReasonNotRestartable+" "), ContainSubstring("1 pod(s)"),
		ContainSubstring("Deployment "+ns+"/api (its new pods run "+pinned+", not the tag 1.31.1)")))

	t.Log("a restarted manager reads what the restart was for from the workload, and holds it as well")
	r, recorder, pass = clockedReconciler(ctx, t, g, c, workloads)
	again := afterDeadline(base)
	for _, at := range []time.Duration{0, time.Second, deadline + time.Second, time.Hour} {
		pass(again.Add(at))
		g.Expect(restartedAt()).To(Equal(stamp), "the restarted manager restarted it again %s after its deadline", at)
	}
	g.Expect(r.Report.Value().NotRestartable).To(BeEquivalentTo(1))
	g.Expect(eventsOf(recorder)).To(ContainSubstring(" " + meshv1alpha1.ReasonNotRestartable + " "))

	t.Log("a new version of the mesh may change what a restart brings: it is restarted once again, and once only")
	mesh := &meshv1alpha1.ServiceMesh{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
	mesh.Status.Version = "1.31.2"
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
	upgraded := afterDeadline(again)
	pass(upgraded)
	g.Expect(restartedAt()).To(Equal(upgraded.Format(time.RFC3339)), "not restarted after the mesh changed")
	g.Expect(r.Report.Value().NotRestartable).To(BeZero())
	rollOut("api-pinned-1", "api-pinned-2")
	pass(upgraded.Add(deadline + time.Second))
	g.Expect(restartedAt()).To(Equal(upgraded.Format(time.RFC3339)), "restarted twice for the same version")
	g.Expect(r.Report.Value().NotRestartable).To(BeEquivalentTo(1))
}
