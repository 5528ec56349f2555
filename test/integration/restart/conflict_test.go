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
	"encoding/json"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// TestARestartTakesItsAnnotationBackAndGoesOn: kubectl rollout undo brings a restarted workload's
// previous pod template back, meshkeeper's annotation included, under kubectl's field manager. The
// next restart of that workload takes the annotation back (and nothing else) instead of failing on
// the conflict. A workload whose restart does fail (here one deleted and created again under the same
// name, which the cache has not seen yet: the apply names the old UID) is named in a Warning Event and
// fails the pass, but does not hold back the workloads that sort after it.
func TestARestartTakesItsAnnotationBackAndGoesOn(t *testing.T) {
	f := newFixture(t, "conflict", ptr.To[int32](5))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	lag := &laggingCache{Cache: workloads}

	base := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	restarted := base.Add(-time.Hour).Format(time.RFC3339)
	before := base.Add(-2 * time.Hour).Format(time.RFC3339)

	// a-undone: restarted by meshkeeper an hour ago, then rolled back to the template of the restart
	// before, as kubectl rollout undo writes it.
	undone := createRolledOut(ctx, g, c, ns, "a-undone", restarted)
	patch := client.MergeFrom(undone.DeepCopy())
	undone.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation] = before
	g.Expect(c.Patch(ctx, undone, patch, client.FieldOwner("kubectl-rollout"))).To(Succeed())
	// The undo rolls out: a pod of the template brought back replaces the restart's.
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a-undone-old"}})).To(Succeed())
	createPod(ctx, g, c, undone, "a-undone-undo", false)
	markRolledOut(ctx, g, c, undone)
	g.Expect(owners(undone)).To(Equal([]string{"kubectl-rollout"}), "kubectl owns the annotation after the undo")

	// b-replaced: the cache still holds the Deployment of that name that was deleted since.
	replaced := createRolledOut(ctx, g, c, ns, "b-replaced", "")
	next := createRolledOut(ctx, g, c, ns, "c-next", "")
	waitCached(ctx, g, workloads, undone, replaced, next)
	stale := &appsv1.Deployment{}
	g.Expect(workloads.Get(ctx, client.ObjectKeyFromObject(replaced), stale)).To(Succeed())
	lag.hold(stale)
	g.Expect(c.Delete(ctx, replaced)).To(Succeed())
	replaced = &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: replaced.Name}, Spec: replaced.Spec}
	g.Expect(c.Create(ctx, replaced)).To(Succeed())
	g.Expect(replaced.UID).NotTo(Equal(stale.UID))

	recorder := events.NewFakeRecorder(100)
	r := &restart.Reconciler{Client: c, Workloads: lag, Recorder: recorder, Report: restart.NewReport(),
		Now: func() time.Time { return base }}
	_, err := r.Reconcile(ctx, ctrl.Request{})
	g.Expect(err).To(HaveOccurred(), "a restart that failed fails the pass, so it is retried")
	g.Expect(err.Error()).To(ContainSubstring("Deployment "+ns+"/b-replaced"), "the error names the workload")

	stamp := base.Format(time.RFC3339)
	restartedAt := func(d *appsv1.Deployment) string { return restartedAt(ctx, g, c, d) }
	g.Expect(restartedAt(undone)).To(Equal(stamp), "the restart takes its annotation back from kubectl")
	g.Expect(owners(undone)).To(Equal([]string{restart.FieldManager}))
	g.Expect(restartFields(undone)).To(Equal(`{"f:spec":{"f:template":{"f:metadata":{"f:annotations":{"f:`+
		meshv1alpha1.RestartedAtAnnotation+`":{},"f:`+meshv1alpha1.RestartedForAnnotation+`":{},"f:`+
		meshv1alpha1.RestartedOntoAnnotation+`":{}}}}}}`),
		"the restarts' field manager owns its three keys and nothing else")
	g.Expect(restartedAt(replaced)).To(BeEmpty(), "the Deployment created under the old name is not restarted")
	g.Expect(restartedAt(next)).To(Equal(stamp), "a failed restart does not hold back the workloads after it")

	report := r.Report.Value()
	g.Expect(report.Restarting).To(BeEquivalentTo(2))
	g.Expect(report.Pending).To(Equal(1), "the failed restart still waits")
	failed := withReason(drain(recorder), meshv1alpha1.ReasonRestartFailed)
	g.Expect(failed).To(HaveLen(2), "on the workload and on the ServiceMesh")
	g.Expect(failed).To(HaveEach(And(HavePrefix("Warning "), ContainSubstring("Deployment "+ns+"/b-replaced"),
		ContainSubstring(err.Error()))))
}

// owners returns the field managers that own the restarted-at annotation of a Deployment's pod template.
func owners(d *appsv1.Deployment) []string {
	var out []string
	for _, e := range d.ManagedFields {
		if e.FieldsV1 != nil && strings.Contains(e.FieldsV1.GetRawString(), `"f:`+meshv1alpha1.RestartedAtAnnotation+`"`) {
			out = append(out, e.Manager)
		}
	}
	return out
}

// restartFields returns the fields the restarts' field manager owns on a Deployment, as JSON.
func restartFields(d *appsv1.Deployment) string {
	for _, e := range d.ManagedFields {
		if e.Manager == restart.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.FieldsV1 != nil {
			var fields any
			if err := json.Unmarshal(e.FieldsV1.GetRawBytes(), &fields); err != nil {
				return err.Error()
			}
			out, _ := json.Marshal(fields)
			return string(out)
		}
	}
	return ""
}
