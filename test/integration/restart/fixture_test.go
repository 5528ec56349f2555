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
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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

// apiServer is the API server every test of the package runs on, one after the other, each with a
// ServiceMesh of its own (createRunningMesh) over namespaces of its own: a server per test cost each
// test seconds of CPU to start. What a test leaves in its namespaces (no namespace controller deletes
// them) is invisible to the tests after it: the restarts judge only the namespaces their ServiceMesh
// enrolls, which no test selects by label, and follow a workload elsewhere only when their own
// reconciler restarted it or their ServiceMesh's status records its stall.
var apiServer *testenv.Env

func TestMain(m *testing.M) {
	os.Exit(testenv.RunSuite(m, func(s *testenv.Suite) { apiServer = testenv.Start(s) }))
}

// namesTaken counts the uses of each name given to unique.
var namesTaken = struct {
	sync.Mutex
	uses map[string]int
}{uses: map[string]int{}}

// unique returns name the first time it is given, and name-<n> the n-th time: a test run again (go
// test -count) needs namespaces of its own too, since those of its first run outlive it on the shared
// API server. Each test gives a name of its own.
func unique(name string) string {
	namesTaken.Lock()
	defer namesTaken.Unlock()
	namesTaken.uses[name]++
	if n := namesTaken.uses[name]; n > 1 {
		return fmt.Sprintf("%s-%d", name, n)
	}
	return name
}

// fixture is what most tests of the package start from: the package's API server, the restarts'
// workload cache on it, and a running mesh with automatic restarts (createRunningMesh) over one
// enrolled namespace, ns.
type fixture struct {
	g         *WithT
	env       *testenv.Env
	ctx       context.Context
	c         client.Client
	workloads cache.Cache
	// name is the fixture's name (see unique), which its namespaces start with.
	name string
	ns   string
}

// newFixture starts a fixture whose enrolled namespace is <name>-shop and whose control plane runs in
// <name>-system, name made unique; maxConcurrentPerNamespace is left at its default when nil.
func newFixture(t *testing.T, name string, maxConcurrentPerNamespace *int32) *fixture {
	g := NewWithT(t)
	env := apiServer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	name = unique(name)
	f := &fixture{g: g, env: env, ctx: ctx, c: env.Client, name: name, ns: name + "-shop"}
	f.workloads = startWorkloadCache(ctx, g, env)
	createRunningMesh(ctx, t, g, f.c, name+"-system", f.ns, maxConcurrentPerNamespace)
	return f
}

// restartedAt reads a workload and returns meshkeeper's restarted-at annotation of its pod template.
func restartedAt(ctx context.Context, g Gomega, c client.Client, obj client.Object) string {
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	case *appsv1.StatefulSet:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	case *appsv1.DaemonSet:
		return o.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	}
	return ""
}

// withReason are the Events of a reason among sent.
func withReason(sent []string, reason string) []string {
	var out []string
	for _, e := range sent {
		if strings.Contains(e, " "+reason+" ") {
			out = append(out, e)
		}
	}
	return out
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
// and is ready, as its status says; maxConcurrentPerNamespace is left at its default when nil. The
// ServiceMesh is a cluster singleton: it is deleted when t cleans up, for the next test to create its
// own.
func createRunningMesh(ctx context.Context, t *testing.T, g Gomega, c client.Client, controlPlaneNamespace, namespace string,
	maxConcurrentPerNamespace *int32) {
	g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace,
		Labels: map[string]string{"istio-injection": "enabled"}}})).To(Succeed())
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: controlPlaneNamespace, Version: "1.31.1",
			Injection: meshv1alpha1.InjectionSpec{Namespaces: []string{namespace}}}}
	mesh.Spec.DataPlane.Restarts.Mode = meshv1alpha1.RestartAutomatic
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = maxConcurrentPerNamespace
	g.Expect(c.Create(ctx, mesh)).To(Succeed())
	t.Cleanup(func() {
		// On a context of its own: the test's may be cancelled first. Nothing here puts a finalizer on
		// the ServiceMesh (no manager runs), so it goes at once.
		ctx := context.Background()
		key := client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}
		g.Expect(client.IgnoreNotFound(c.Delete(ctx, &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: key.Name}}))).To(Succeed())
		g.Eventually(func() bool {
			return apierrors.IsNotFound(c.Get(ctx, key, &meshv1alpha1.ServiceMesh{}))
		}, 10*time.Second, 20*time.Millisecond).Should(BeTrue(), "the test's ServiceMesh is not gone")
	})
	mesh.Status.Version = "1.31.1"
	mesh.Status.ObservedGeneration = mesh.Generation
	mesh.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionTrue,
		ObservedGeneration: mesh.Generation, Reason: meshv1alpha1.ReasonAvailable, Message: "istiod is available",
		LastTransitionTime: metav1.Now()}}
	g.Expect(c.Status().Update(ctx, mesh)).To(Succeed())
}

// installed writes the status as the servicemesh controller writes it once it has installed the control
// plane for the spec's generation, after a test changed the spec: status.observedGeneration and
// ControlPlaneReady's observedGeneration move to that generation, the condition otherwise as it was.
func installed(ctx context.Context, g Gomega, c client.Client) {
	g.Eventually(func() error {
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
			return err
		}
		mesh.Status.ObservedGeneration = mesh.Generation
		for i := range mesh.Status.Conditions {
			if mesh.Status.Conditions[i].Type == meshv1alpha1.ConditionControlPlaneReady {
				mesh.Status.Conditions[i].ObservedGeneration = mesh.Generation
			}
		}
		return c.Status().Update(ctx, mesh)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
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

// createPodOf creates a pod of a StatefulSet or DaemonSet, of its pod template as it is now (its labels,
// annotations and containers), with a sidecar of the running control plane when injected.
func createPodOf(ctx context.Context, g Gomega, c client.Client, owner client.Object, name string, injected bool) {
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(owner), owner)).To(Succeed())
	var kind string
	var template *corev1.PodTemplateSpec
	switch o := owner.(type) {
	case *appsv1.StatefulSet:
		kind, template = "StatefulSet", &o.Spec.Template
	case *appsv1.DaemonSet:
		kind, template = "DaemonSet", &o.Spec.Template
	}
	g.Expect(template).NotTo(BeNil(), "a pod of a %T", owner)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: owner.GetNamespace(), Name: name, Labels: maps.Clone(template.Labels),
		Annotations:     map[string]string{},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: kind, Name: owner.GetName(), UID: owner.GetUID(), Controller: ptr.To(true)}}},
		Spec: corev1.PodSpec{Containers: slices.Clone(template.Spec.Containers)}}
	maps.Copy(p.Annotations, template.Annotations)
	if injected {
		p.Annotations["sidecar.istio.io/status"] = `{"containers":["istio-proxy"],"revision":"default"}`
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "istio-proxy", Image: "docker.io/istio/proxyv2:1.31.1"})
	}
	g.Expect(c.Create(ctx, p)).To(Succeed())
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

// waitCached waits until the workload cache shows each object as the test last wrote or read it
// (its resource version), and a Deployment's ReplicaSet.
func waitCached(ctx context.Context, g Gomega, workloads cache.Cache, objs ...client.Object) {
	for _, obj := range objs {
		g.Eventually(func() string {
			cached := obj.DeepCopyObject().(client.Object)
			cached.SetResourceVersion("")
			_ = workloads.Get(ctx, client.ObjectKeyFromObject(obj), cached)
			return cached.GetResourceVersion()
		}, 10*time.Second, 20*time.Millisecond).Should(Equal(obj.GetResourceVersion()), "%s in the workload cache", obj.GetName())
		if _, ok := obj.(*appsv1.Deployment); ok {
			g.Eventually(func() error {
				rs := &metav1.PartialObjectMetadata{}
				rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
				return workloads.Get(ctx, client.ObjectKey{Namespace: obj.GetNamespace(), Name: obj.GetName() + "-1"}, rs)
			}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
		}
	}
}
