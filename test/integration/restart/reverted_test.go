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
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestARestartTakenBackBeforeTheNextPassHoldsNoBudget: the owner of a workload may take meshkeeper's
// restart back (kubectl rollout undo, a controller that writes the pod template back) before the next
// pass of the restarts runs, so the workload cache shows the workload at a generation after
// meshkeeper's apply without the annotation. The cache has caught up with the apply: the workload
// rolls out as its owner wrote it, and once that rolled out it holds none of the namespace's budget
// (maxConcurrentPerNamespace), so the next workload is restarted.
func TestARestartTakenBackBeforeTheNextPassHoldsNoBudget(t *testing.T) {
	f := newFixture(t, "reverted", nil) // one restart at a time in the namespace
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	web := createRolledOut(ctx, g, c, ns, "web", "")
	waitCached(ctx, g, f.workloads, web)

	r, _, pass := clockedReconciler(ctx, t, g, c, f.workloads)
	base := time.Now().UTC().Truncate(time.Second)
	pass(base)
	g.Expect(restartedAt(ctx, g, c, web)).To(Equal(base.Format(time.RFC3339)))

	t.Log("the owner takes the restart back before the next pass, and the template brought back rolls out")
	g.Expect(c.Patch(ctx, web, client.RawPatch("application/merge-patch+json",
		[]byte(`{"spec":{"template":{"metadata":{"annotations":null}}}}`)), client.FieldOwner("kubectl-rollout"))).To(Succeed())
	g.Expect(restartedAt(ctx, g, c, web)).To(BeEmpty())
	setDeploymentStatus(ctx, g, c, web, 1, 1, newReplicaSetAvailable())
	next := createRolledOut(ctx, g, c, ns, "next", "")
	waitCached(ctx, g, f.workloads, web, next)

	pass(base.Add(time.Minute))
	g.Expect(restartedAt(ctx, g, c, next)).To(Equal(base.Add(time.Minute).Format(time.RFC3339)),
		"web, rolled out without meshkeeper's restart, held the namespace's budget")
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(1), "only next's restart rolls out")
}
