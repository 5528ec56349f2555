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

// Package restart_test runs the restart controller alone against a real API server, pass by pass on
// a clock of its own, to see what it writes when its workload cache lags behind its own writes.
package restart_test

import (
	"context"
	"io"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/test/testenv"
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
	g := NewWithT(t)
	env := testenv.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := env.Client

	workloads := startWorkloadCache(ctx, g, env)
	lag := &laggingCache{Cache: workloads}

	const ns = "lag-shop"
	createRunningMesh(ctx, g, c, "lag-system", ns, ptr.To[int32](2))

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
	restarted := 0
	for _, e := range drain(recorder) {
		if strings.Contains(e, " "+meshv1alpha1.ReasonRestarted+" ") {
			restarted++
		}
	}
	g.Expect(restarted).To(Equal(2))
}

// clockedReconciler returns a reconciler of the restarts on c and workloads, the recorder of its Events,
// and pass, which sets the reconciler's clock and makes one pass, which must succeed.
func clockedReconciler(ctx context.Context, t *testing.T, g Gomega, c client.Client, workloads cache.Cache) (*restart.Reconciler,
	*events.FakeRecorder, func(time.Time)) {
	var now time.Time
	recorder := events.NewFakeRecorder(100)
	r := &restart.Reconciler{Client: c, Workloads: workloads, Recorder: recorder, Report: restart.NewReport(), Now: func() time.Time { return now }}
	pass := func(at time.Time) {
		t.Helper()
		now = at
		_, err := r.Reconcile(ctx, ctrl.Request{})
		g.Expect(err).NotTo(HaveOccurred())
	}
	return r, recorder, pass
}

// startWorkloadCache starts the restarts' own workload cache on env, built as the manager builds it
// (from a manager that is only its source and is never started), and waits for it to sync.
func startWorkloadCache(ctx context.Context, g Gomega, env *testenv.Env) cache.Cache {
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0", Logger: zap.New(zap.WriteTo(io.Discard))})
	g.Expect(err).NotTo(HaveOccurred())
	workloads, err := restart.NewWorkloadCache(mgr)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = workloads.Start(ctx) }()
	g.Expect(workloads.WaitForCacheSync(ctx)).To(BeTrue())
	return workloads
}

// createRunningMesh creates the namespace enrolled (labelled as the namespace controller labels it)
// and a ServiceMesh with automatic restarts whose control plane in controlPlaneNamespace runs 1.31.1
// and is ready, as its status says; maxConcurrentPerNamespace is left at its default when nil.
func createRunningMesh(ctx context.Context, g Gomega, c client.Client, controlPlaneNamespace, namespace string, maxConcurrentPerNamespace *int32) {
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace,
		Labels: map[string]string{"istio-injection": "enabled"}}})).To(Succeed())
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: controlPlaneNamespace, Version: "1.31.1",
			Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{namespace}}}}
	mesh.Spec.DataPlane.Restarts.Mode = meshv1alpha1.RestartAutomatic
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = maxConcurrentPerNamespace
	g.Expect(c.Create(ctx, mesh)).To(Succeed())
	mesh.Status.Version = "1.31.1"
	mesh.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionTrue,
		Reason: "Ready", Message: "istiod is available", LastTransitionTime: metav1.Now()}}
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
}

// createRolledOut creates a Deployment of one replica as the Deployment controller and a kubelet
// leave it once rolled out (its ReplicaSet, and one pod without a sidecar, which needs a restart),
// with meshkeeper's restarted-at annotation of an earlier restart when restartedAt is set.
func createRolledOut(ctx context.Context, g Gomega, c client.Client, namespace, name, restartedAt string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1), ProgressDeadlineSeconds: ptr.To[int32](60),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}}},
		},
	}
	g.Expect(c.Create(ctx, d)).To(Succeed())
	if restartedAt != "" {
		// Written as meshkeeper writes it: an apply of its restarts' field manager.
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "namespace": namespace},
			"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
				"annotations": map[string]any{meshv1alpha1.RestartedAtAnnotation: restartedAt}}}}}}
		g.Expect(c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(restart.FieldManager))).To(Succeed())
		g.Expect(c.Get(ctx, client.ObjectKeyFromObject(d), d)).To(Succeed())
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name + "-1", Labels: labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: name, UID: d.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.ReplicaSetSpec{Replicas: ptr.To[int32](1), Selector: d.Spec.Selector, Template: d.Spec.Template},
	}
	g.Expect(c.Create(ctx, rs)).To(Succeed())
	createPod(ctx, g, c, d, name+"-old", false)
	markRolledOut(ctx, g, c, d)
	return d
}

// createPod creates a pod of the Deployment's ReplicaSet, with a sidecar of the running control plane
// when injected.
func createPod(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment, name string, injected bool) {
	proxyImage := ""
	if injected {
		proxyImage = "docker.io/istio/proxyv2:1.31.1"
	}
	createPodWithProxy(ctx, g, c, d, name, proxyImage)
}

// createPodWithProxy creates a pod of the Deployment's ReplicaSet, with a sidecar of the default
// revision running proxyImage ("": no sidecar).
func createPodWithProxy(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment, name, proxyImage string) {
	rs := &appsv1.ReplicaSet{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: d.Name + "-1"}, rs)).To(Succeed())
	// A pod carries the annotations of the pod template it is created from (meshkeeper's restarted-at
	// among them): the Deployment's as it is now.
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: d.Namespace, Name: name, Annotations: maps.Clone(d.Spec.Template.Annotations),
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: rs.Name, UID: rs.UID, Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
	}
	if proxyImage != "" {
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations["sidecar.istio.io/status"] = `{"containers":["istio-proxy"],"revision":"default"}`
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: proxyImage})
	}
	g.Expect(c.Create(ctx, pod)).To(Succeed())
}

// markRolledOut writes what the Deployment controller would once its one replica of the current
// generation is updated, ready and available.
func markRolledOut(ctx context.Context, g Gomega, c client.Client, d *appsv1.Deployment) {
	g.Eventually(func() error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
		return c.Status().Update(ctx, d)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
}

// drain returns the Events recorded since the last drain.
func drain(recorder *events.FakeRecorder) []string {
	var out []string
	for {
		select {
		case e := <-recorder.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}
