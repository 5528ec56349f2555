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

package restart

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// storeCache is a workload cache that reads a client's store.
type storeCache struct {
	cache.Cache
	store client.Reader
}

func (c storeCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.store.Get(ctx, key, obj, opts...)
}

func (c storeCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.store.List(ctx, list, opts...)
}

// listedPods are the pods a pass lists, as the pod cache holds them.
type listedPods []*corev1.Pod

func (l *listedPods) ListPods(context.Context, string) ([]*policy.ProxyPod, error) {
	pods := make([]*policy.ProxyPod, len(*l))
	for i, pod := range *l {
		pods[i] = policy.NewProxyPod(pod)
	}
	return pods, nil
}

// passes is a Reconciler in Automatic mode over an enrolled namespace ci, with the workloads of a
// fake store, the pods of pods, its clock at *now, and the Events it sends.
type passes struct {
	r        *Reconciler
	store    client.Client
	pods     listedPods
	now      time.Time
	recorder *events.FakeRecorder
}

func newPasses(t *testing.T, now time.Time) *passes {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	mesh.Spec.Namespace = "istio-system"
	mesh.Spec.Injection.Namespaces = []string{"ci"}
	mesh.Spec.DataPlane.Restarts.Mode = meshv1alpha1.RestartAutomatic
	ci := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ci", Labels: map[string]string{policy.LabelIstioInjection: "enabled"}}}
	store := fake.NewClientBuilder().WithScheme(scheme).WithObjects(mesh, ci).Build()
	s := &passes{store: store, now: now, recorder: events.NewFakeRecorder(100)}
	s.r = &Reconciler{Client: store, Workloads: storeCache{store: store}, Pods: &s.pods, Recorder: s.recorder,
		Report: NewReport(), Now: func() time.Time { return s.now }}
	return s
}

// pass runs one pass at at.
func (s *passes) pass(t *testing.T, at time.Time) {
	t.Helper()
	s.now = at
	if _, err := s.r.Reconcile(context.Background(), ctrl.Request{}); err != nil {
		t.Fatalf("pass at %s: %v", at, err)
	}
}

// events takes the Events sent since the last call.
func (s *passes) events() []string {
	var sent []string
	for {
		select {
		case e := <-s.recorder.Events:
			sent = append(sent, e)
		default:
			return sent
		}
	}
}

// withReason are the Events of a reason.
func withReason(sent []string, reason string) []string {
	var out []string
	for _, e := range sent {
		if strings.Contains(e, " "+reason+" ") {
			out = append(out, e)
		}
	}
	return out
}

// stalledDeployment is Deployment ci/app of a UID restarted by meshkeeper at restartedAt, whose rollout the
// Deployment controller says made no progress for its deadline.
func stalledDeployment(uid types.UID, restartedAt time.Time) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "app", UID: uid, Generation: 2},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](60)}}
	d.Spec.Template.Annotations = map[string]string{meshv1alpha1.RestartedAtAnnotation: restartedAt.UTC().Format(time.RFC3339)}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse,
			Reason: "ProgressDeadlineExceeded"}}}
	return d
}

// A workload deleted (or its namespace, as CI namespaces are) takes meshkeeper's memory of it along: a
// workload of the same name created later is a workload of its own, whose stall is reported.
func TestAStallOfAWorkloadGoneIsForgotten(t *testing.T) {
	ctx := context.Background()
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	stalled := metrics.RestartsTotal.WithLabelValues("stalled")
	s := newPasses(t, restarted)

	first := stalledDeployment("uid-1", restarted)
	if err := s.store.Create(ctx, first); err != nil {
		t.Fatal(err)
	}
	key := asWorkload(first).key()
	s.r.rolling = map[string]bool{key: true} // this process restarted it
	before := testutil.ToFloat64(stalled)
	s.pass(t, restarted.Add(90*time.Second))
	if got := withReason(s.events(), meshv1alpha1.ReasonRestartStalled); len(got) != 2 {
		t.Fatalf("RestartStalled Events %q, want two (the workload's and the ServiceMesh's)", got)
	}
	if got := testutil.ToFloat64(stalled) - before; got != 1 {
		t.Fatalf("stalled restarts counted %v, want 1", got)
	}

	// The namespace goes, with the workload, and with a workload whose restart the cache never showed.
	if err := s.store.Delete(ctx, first); err != nil {
		t.Fatal(err)
	}
	gone := cachedDeployment("uid-9", time.Time{})
	gone.restartedAt = restarted.Add(2 * time.Minute)
	s.r.remember(gone)
	s.pass(t, restarted.Add(3*time.Minute))
	if s.r.rolling[key] {
		t.Errorf("%s is still followed as rolling out after it is gone: %v", key, s.r.rolling)
	}
	if len(s.r.written) != 0 {
		t.Errorf("restarts of workloads gone are still remembered: %v", s.r.written)
	}
	// Were the same stall reported once more, it would be news: nothing of it is remembered.
	s.r.follow(&meshv1alpha1.ServiceMesh{}, &pass{stalled: []*workload{asWorkload(first)}})
	if got := withReason(s.events(), meshv1alpha1.ReasonRestartStalled); len(got) == 0 {
		t.Errorf("the stall of %s is still remembered after it is gone", key)
	}
	s.pass(t, restarted.Add(4*time.Minute)) // the workload is still gone: forget that report again

	// A workload of the same name, created again and restarted, stalls.
	second := stalledDeployment("uid-2", restarted.Add(10*time.Minute))
	if err := s.store.Create(ctx, second); err != nil {
		t.Fatal(err)
	}
	before = testutil.ToFloat64(stalled)
	s.pass(t, restarted.Add(11*time.Minute+30*time.Second))
	if got := withReason(s.events(), meshv1alpha1.ReasonRestartStalled); len(got) != 2 {
		t.Errorf("RestartStalled Events for the new %s: %q, want two", key, got)
	}
	if got := testutil.ToFloat64(stalled) - before; got != 1 {
		t.Errorf("stalled restarts counted for the new %s: %v, want 1", key, got)
	}
}

// A pass before the workload cache shows meshkeeper's first restart of a workload (the wave's next
// pass, woken by a pod event) keeps what that restart was for: forgotten, the workload would be
// restarted once more after its rollout, though another restart brings the same sidecar.
func TestAPassBeforeTheCacheShowsAFirstRestartKeepsItsTarget(t *testing.T) {
	ctx := context.Background()
	restarted := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	s := newPasses(t, restarted)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ci", Name: "app", UID: "uid-1", Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if err := s.store.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	// What a restart of the workload just recorded; the cache still shows it without the annotation.
	applied := asWorkload(d.DeepCopy())
	applied.restartedAt = restarted
	s.r.rolling = map[string]bool{applied.key(): true}
	s.r.remember(applied)
	s.r.rememberTarget(&candidate{workload: applied})
	s.pass(t, restarted.Add(time.Second))
	if _, ok := s.r.targets[applied.key()]; !ok {
		t.Errorf("the pass before the cache shows the restart forgot what it was for: targets %v", s.r.targets)
	}
}
