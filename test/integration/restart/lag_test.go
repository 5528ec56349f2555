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
	"context"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// laggingCache is the restarts' real workload cache, except that for the Deployments it holds it
// serves the copy it was given instead of the cache's: a cache that has not yet seen a write, which
// a real informer shows for as long as the watch event takes, and which no API server produces on
// demand.
type laggingCache struct {
	cache.Cache
	mu    sync.Mutex
	stale map[client.ObjectKey]*appsv1.Deployment
}

func (l *laggingCache) hold(deployments ...*appsv1.Deployment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stale = map[client.ObjectKey]*appsv1.Deployment{}
	for _, d := range deployments {
		l.stale[client.ObjectKeyFromObject(d)] = d.DeepCopy()
	}
}

func (l *laggingCache) release() { l.hold() }

func (l *laggingCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if d, ok := obj.(*appsv1.Deployment); ok {
		l.mu.Lock()
		stale := l.stale[key]
		l.mu.Unlock()
		if stale != nil {
			stale.DeepCopyInto(d)
			return nil
		}
	}
	return l.Cache.Get(ctx, key, obj, opts...)
}

func (l *laggingCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if err := l.Cache.List(ctx, list, opts...); err != nil {
		return err
	}
	if deployments, ok := list.(*appsv1.DeploymentList); ok {
		l.mu.Lock()
		defer l.mu.Unlock()
		for i := range deployments.Items {
			if stale := l.stale[client.ObjectKeyFromObject(&deployments.Items[i])]; stale != nil {
				deployments.Items[i] = *stale.DeepCopy()
			}
		}
	}
	return nil
}

// TestRestartsOnceWhileTheCacheLags: a pass that runs before the workload cache shows meshkeeper's
// own restart must count the workload as restarting, not restart it again (a second rollout), and
// must not take the stale copy for a completed rollout. Two workloads: one never restarted (the
// stale copy has no annotation) and one restarted by an earlier upgrade (the stale copy has the old
// one, and is rolled out).
func TestRestartsOnceWhileTheCacheLags(t *testing.T) {
	f := newFixture(t, "lag", ptr.To[int32](2))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns
	lag := &laggingCache{Cache: workloads}

	base := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	earlier := base.Add(-time.Hour).Format(time.RFC3339)
	fresh := createRolledOut(ctx, g, c, ns, "fresh", "")
	again := createRolledOut(ctx, g, c, ns, "again", earlier)

	r, recorder, pass := clockedReconciler(ctx, t, g, c, lag)
	// The cache shows both rolled out and the annotations as the test wrote them.
	cached := func(d *appsv1.Deployment) *appsv1.Deployment {
		out := &appsv1.Deployment{}
		g.Expect(workloads.Get(ctx, client.ObjectKeyFromObject(d), out)).To(Succeed())
		return out
	}
	g.Eventually(func() bool {
		return cached(fresh).Status.ObservedGeneration == fresh.Generation && cached(again).Status.ObservedGeneration == again.Generation
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	before := []*appsv1.Deployment{cached(fresh), cached(again)}

	t.Log("restarting both at once: maxConcurrentPerNamespace 2")
	pass(base)
	stamp := base.Format(time.RFC3339)
	expectRestarts := func(want map[string]int64, why string) {
		t.Helper()
		for _, d := range []*appsv1.Deployment{fresh, again} {
			now := &appsv1.Deployment{}
			g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), now)).To(Succeed())
			g.Expect(now.Spec.Template.Annotations).To(HaveKeyWithValue(meshv1alpha1.RestartedAtAnnotation, stamp), "%s: %s", d.Name, why)
			g.Expect(now.Generation).To(Equal(want[d.Name]), "%s: %s", d.Name, why)
		}
	}
	generations := map[string]int64{fresh.Name: fresh.Generation + 1, again.Name: again.Generation + 1}
	expectRestarts(generations, "restarted once")
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(2))
	drained := drain(recorder)
	g.Expect(drained).To(ContainElement(ContainSubstring(meshv1alpha1.ReasonRestarting)))

	t.Log("a pass while the cache still shows both as before the restart")
	lag.hold(before...)
	pass(base.Add(2 * time.Second))
	expectRestarts(generations, "a pass on a stale cache must not restart again")
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(2), "a restart the cache does not show yet is rolling")
	g.Expect(drain(recorder)).NotTo(ContainElement(ContainSubstring(meshv1alpha1.ReasonRestarted)),
		"the stale copy of the earlier restart is not this restart's completed rollout")

	t.Log("the cache catches up: the rollouts are followed from it")
	lag.release()
	g.Eventually(func() bool {
		return cached(fresh).Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation] == stamp &&
			cached(again).Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation] == stamp
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	pass(base.Add(4 * time.Second))
	expectRestarts(generations, "still rolling out")
	g.Expect(r.Report.Value().Restarting).To(BeEquivalentTo(2))

	t.Log("both roll out: nothing is restarted again, each is reported restarted once")
	for _, d := range []*appsv1.Deployment{fresh, again} {
		g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: d.Name + "-old"}},
			client.GracePeriodSeconds(0))).To(Succeed())
		createPod(ctx, g, c, d, d.Name+"-new", true)
		markRolledOut(ctx, g, c, d)
	}
	g.Eventually(func() bool {
		return cached(fresh).Status.ObservedGeneration == generations[fresh.Name] &&
			cached(again).Status.ObservedGeneration == generations[again.Name]
	}, 10*time.Second, 20*time.Millisecond).Should(BeTrue())
	pass(base.Add(6 * time.Second))
	expectRestarts(generations, "rolled out")
	g.Expect(r.Report.Value().Restarting).To(BeZero())
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonRestarted)).To(HaveLen(2))
}
