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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// TestARestartTakenBackBeforeItStallsIsNotMadeAgain: the owner of a workload that meshkeeper restarted
// takes the restart back while it rolls out, before its deadline (kubectl rollout undo): the template
// brought back carries no restart, or the value of an earlier restart of meshkeeper's. The restart is
// not made again onto the same target, which would override the owner: the workload counts as not
// restartable, a NotRestartable Warning says its restart was taken back and how to give it the sidecar,
// and the rollout of the template brought back is not meshkeeper's restart rolled out (no Restarted
// Event). Once the mesh changes what its pods are judged against, it is restarted again.
func TestARestartTakenBackBeforeItStallsIsNotMadeAgain(t *testing.T) {
	for _, tc := range []struct {
		name, fixture string
		// earlier is the restarted-at value of the template brought back; "" for none.
		earlier time.Duration
	}{
		{name: "undone to a template without meshkeeper's restart", fixture: "takenback"},
		{name: "undone to the template of meshkeeper's restart before", fixture: "takenback-earlier", earlier: -2 * time.Hour},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.fixture, nil)
			g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
			base := time.Now().UTC().Truncate(time.Second)
			earlier := ""
			if tc.earlier != 0 {
				earlier = base.Add(tc.earlier).Format(time.RFC3339)
			}
			api := createRolledOut(ctx, g, c, ns, "api", earlier)
			waitCached(ctx, g, f.workloads, api)

			r, recorder, pass := clockedReconciler(ctx, t, g, c, f.workloads)
			pass(base)
			g.Expect(restartedAt(ctx, g, c, api)).To(Equal(base.Format(time.RFC3339)))
			drain(recorder)

			t.Log("the owner runs kubectl rollout undo within the restart's deadline, and the template brought back rolls out")
			g.Eventually(func() error {
				if err := c.Get(ctx, client.ObjectKeyFromObject(api), api); err != nil {
					return err
				}
				api.Spec.Template.Annotations = nil
				if earlier != "" {
					api.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: earlier}
				}
				return c.Update(ctx, api, client.FieldOwner("kubectl-rollout"))
			}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
			markRolledOut(ctx, g, c, api)
			waitCached(ctx, g, f.workloads, api)

			for i, at := range []time.Time{base.Add(30 * time.Second), base.Add(20 * time.Minute)} {
				pass(at)
				sent := drain(recorder)
				g.Expect(withReason(sent, meshv1alpha1.ReasonRestarted)).To(BeEmpty(),
					"pass %d: the owner's rollout is reported as meshkeeper's restart rolled out", i+1)
				g.Expect(restartedAt(ctx, g, c, api)).To(Equal(earlier), "pass %d: the restart its owner took back is made again", i+1)
				status := r.Report.Value()
				g.Expect(status.NotRestartable).To(BeEquivalentTo(1), "pass %d", i+1)
				g.Expect(status.Restarting).To(BeZero(), "pass %d: the owner's rollout counts as meshkeeper's restart", i+1)
				g.Expect(status.Pending).To(BeZero(), "pass %d", i+1)
				if i == 0 {
					notRestartable := withReason(sent, meshv1alpha1.ReasonNotRestartable)
					g.Expect(notRestartable).To(HaveLen(1))
					g.Expect(notRestartable[0]).To(And(
						ContainSubstring("Deployment "+ns+"/api (restarted at "+base.Format(time.RFC3339)+
							" onto revision default and taken back by its owner before it rolled out)"),
						ContainSubstring("restart it yourself (kubectl rollout restart)")))
				}
			}

			t.Log("the mesh changes the sidecar its pods are judged against")
			mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
			g.Expect(c.Patch(ctx, mesh, client.RawPatch(types.MergePatchType,
				[]byte(`{"spec":{"values":{"global":{"tag":"1.31.1-fips"}}}}`)))).To(Succeed())
			installed(ctx, g, c)
			again := base.Add(30 * time.Minute)
			pass(again)
			g.Expect(restartedAt(ctx, g, c, api)).To(Equal(again.Format(time.RFC3339)), "not restarted once the mesh changed")
		})
	}
}
