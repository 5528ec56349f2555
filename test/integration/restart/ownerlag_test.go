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
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
)

// replicaSetsBehind is the restarts' real workload cache, except that it does not show the ReplicaSets
// it hides yet: a workload cache whose ReplicaSet informer has not yet seen a ReplicaSet whose pods the
// pod cache already shows, as the two watches deliver in no fixed order, which no API server produces on
// demand.
type replicaSetsBehind struct {
	cache.Cache
	mu     sync.Mutex
	hidden map[client.ObjectKey]bool
}

func (b *replicaSetsBehind) hide(keys ...client.ObjectKey) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.hidden = map[client.ObjectKey]bool{}
	for _, key := range keys {
		b.hidden[key] = true
	}
}

func (b *replicaSetsBehind) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if m, ok := obj.(*metav1.PartialObjectMetadata); ok && m.Kind == "ReplicaSet" {
		b.mu.Lock()
		hidden := b.hidden[key]
		b.mu.Unlock()
		if hidden {
			return apierrors.NewNotFound(appsv1.Resource("replicasets"), key.Name)
		}
	}
	return b.Cache.Get(ctx, key, obj, opts...)
}

// TestAPodAheadOfItsOwnerInTheCacheIsNotReportedNotRestartable: the pod cache may show the pod of a new
// ReplicaSet before the workload cache shows the ReplicaSet. A pass in between once reported the pod as
// one of no Deployment, StatefulSet or DaemonSet, with a NotRestartable Warning naming its ReplicaSet,
// though its Deployment is restarted a moment later. A pod whose owner the workload cache does not show
// is left alone for a while after its creation, and the pass looks again then; one whose owner does not
// show up (an orphaned pod, an owner reference to nothing) is reported once that while has passed.
func TestAPodAheadOfItsOwnerInTheCacheIsNotReportedNotRestartable(t *testing.T) {
	f := newFixture(t, "ownerlag", nil)
	g, ctx, c, ns := f.g, f.ctx, f.c, f.ns
	behind := &replicaSetsBehind{Cache: f.workloads}
	var now time.Time
	recorder := events.NewFakeRecorder(100)
	r := &restart.Reconciler{Client: c, Workloads: behind, Recorder: recorder, Report: restart.NewReport(),
		Now: func() time.Time { return now }}
	pass := func(at time.Time) ctrl.Result {
		t.Helper()
		now = at
		result, err := r.Reconcile(ctx, ctrl.Request{})
		g.Expect(err).NotTo(HaveOccurred())
		return result
	}
	created := func(name string) time.Time {
		t.Helper()
		pod := &corev1.Pod{}
		g.Expect(c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, pod)).To(Succeed())
		return pod.CreationTimestamp.Time
	}

	app := createRolledOut(ctx, g, c, ns, "app", "")
	waitCached(ctx, g, f.workloads, app)
	behind.hide(client.ObjectKey{Namespace: ns, Name: "app-1"})
	born := created("app-old")

	t.Log("a pass before the workload cache shows the pod's ReplicaSet")
	result := pass(born.Add(5 * time.Second))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(BeEmpty(),
		"a pod whose ReplicaSet the cache does not show yet is reported as not restartable")
	g.Expect(r.Report.Value().NotRestartable).To(BeZero())
	g.Expect(result.RequeueAfter).To(And(BeNumerically(">", 0), BeNumerically("<=", 2*time.Minute)),
		"the pass does not look again once the pod would be reported")

	t.Log("the workload cache shows it")
	behind.hide()
	at := born.Add(10 * time.Second).Truncate(time.Second)
	pass(at)
	g.Expect(restartedAt(ctx, g, c, app)).To(Equal(at.Format(time.RFC3339)))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(BeEmpty())
	g.Expect(r.Report.Value().NotRestartable).To(BeZero())

	t.Log("a pod names a ReplicaSet that does not show up")
	g.Expect(c.Create(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "orphan-x",
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "orphan-1",
			UID: types.UID("5e0c1d2a-0000-4000-8000-00000000000a"), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}})).To(Succeed())
	born = created("orphan-x")
	pass(born.Add(5 * time.Second))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(BeEmpty())
	g.Expect(r.Report.Value().NotRestartable).To(BeZero())
	pass(born.Add(2*time.Minute + time.Second))
	g.Expect(withReason(drain(recorder), meshv1alpha1.ReasonNotRestartable)).To(ConsistOf(
		ContainSubstring(ns + "/orphan-x (ReplicaSet orphan-1)")))
	g.Expect(r.Report.Value().NotRestartable).To(BeEquivalentTo(1))
}
