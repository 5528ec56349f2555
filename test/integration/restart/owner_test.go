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
	"errors"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestOnlyAWorkloadsOwnPodsRestartIt: a pod's owner references are written by whoever creates the
// pod. Someone who may create pods in an enrolled namespace, but not restart its workloads, must not
// get a workload restarted by creating a pod without a sidecar that names it as its owner: directly as
// a Deployment (whose pods belong to its ReplicaSets), or through a ReplicaSet or StatefulSet whose UID
// is not the one the reference names. The same pass restarts a workload whose own pod needs it, so the
// test sees restarts at all.
func TestOnlyAWorkloadsOwnPodsRestartIt(t *testing.T) {
	f := newFixture(t, "owner", ptr.To[int32](5))
	g, ctx, c, workloads, ns := f.g, f.ctx, f.c, f.workloads, f.ns

	// legit's own pod has no sidecar: it is restarted. victim's own pod is current.
	legit := createRolledOut(ctx, g, c, ns, "legit", "")
	victim := createRolledOut(ctx, g, c, ns, "victim", "")
	g.Expect(c.Delete(ctx, &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "victim-old"}},
		client.GracePeriodSeconds(0))).To(Succeed())
	createPod(ctx, g, c, victim, "victim-current", true)
	labels := map[string]string{"app": "db"}
	db := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "db"},
		Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](0), ServiceName: "db",
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example.com/db:1.0"}}}}},
	}
	g.Expect(c.Create(ctx, db)).To(Succeed())

	forged := func(name string, owner metav1.OwnerReference, podLabels map[string]string) {
		t.Helper()
		owner.Controller = ptr.To(true)
		g.Expect(c.Create(ctx, &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: podLabels, OwnerReferences: []metav1.OwnerReference{owner}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example.com/app:1.0"}}},
		})).To(Succeed())
	}
	forged("claims-the-deployment", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: victim.Name, UID: victim.UID},
		map[string]string{"app": "victim"})
	forged("claims-another-replicaset", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: victim.Name + "-1",
		UID: types.UID("9b2f6a51-0000-4000-8000-000000000001")}, map[string]string{"app": "victim"})
	forged("claims-another-statefulset", metav1.OwnerReference{APIVersion: "apps/v1", Kind: "StatefulSet", Name: db.Name,
		UID: types.UID("9b2f6a51-0000-4000-8000-000000000002")}, labels)

	g.Eventually(func() error {
		d := &appsv1.Deployment{}
		return workloads.Get(ctx, client.ObjectKeyFromObject(victim), d)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Eventually(func() error {
		s := &appsv1.StatefulSet{}
		return workloads.Get(ctx, client.ObjectKeyFromObject(db), s)
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())
	g.Eventually(func() int64 {
		d := &appsv1.Deployment{}
		_ = workloads.Get(ctx, client.ObjectKeyFromObject(legit), d)
		return d.Status.ObservedGeneration
	}, 10*time.Second, 20*time.Millisecond).Should(Equal(legit.Generation))

	// The ReplicaSets come through an informer of their own, in no fixed order with the Deployments'.
	g.Eventually(func() error {
		rs := &metav1.PartialObjectMetadata{}
		rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
		for _, name := range []string{legit.Name + "-1", victim.Name + "-1"} {
			if err := workloads.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, rs); err != nil {
				return err
			}
		}
		return nil
	}, 10*time.Second, 20*time.Millisecond).Should(Succeed())

	now := time.Now().UTC().Truncate(time.Second).Add(time.Minute)
	r := &restart.Reconciler{Client: c, Workloads: workloads, Recorder: events.NewFakeRecorder(100), Report: restart.NewReport(),
		Now: func() time.Time { return now }}
	_, err := r.Reconcile(ctx, ctrl.Request{})
	g.Expect(err).NotTo(HaveOccurred())

	restartedAt := func(obj client.Object) string { return restartedAt(ctx, g, c, obj) }
	g.Expect(restartedAt(legit)).To(Equal(now.Format(time.RFC3339)), "a workload whose own pod needs a sidecar is restarted")
	g.Expect(restartedAt(victim)).To(BeEmpty(), "pods that only name the Deployment must not restart it")
	g.Expect(restartedAt(db)).To(BeEmpty(), "a pod naming the StatefulSet with another UID must not restart it")
}

// TestARefusedNamespaceFailsNoPass: once the installer narrows --control-plane-namespaces under a
// running mesh, its spec.namespace is outside what the manager's cache holds of the chart kinds. A
// restart pass judges the pods against that namespace's mesh config, which meshkeeper cannot have
// written there; the pass must go on without it, not fail on the cache's refusal every time.
func TestARefusedNamespaceFailsNoPass(t *testing.T) {
	g := NewWithT(t)
	env := apiServer
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	c := env.Client

	ns := unique("refused") + "-shop"
	createRunningMesh(ctx, t, g, c, "team-a", ns, nil)
	app := createRolledOut(ctx, g, c, ns, "app", "")

	// The manager's cache as main.go builds it with --control-plane-namespaces=istio-system.
	allowed := charts.Policy{Namespaces: []string{"istio-system"}}
	opts := controllers.CacheOptions(allowed.Namespaces)
	opts.Scheme = env.Scheme
	informers, err := cache.New(env.Config, opts)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = informers.Start(ctx) }()
	g.Expect(informers.WaitForCacheSync(ctx)).To(BeTrue())
	cached, err := client.New(env.Config, client.Options{Scheme: env.Scheme, Cache: &client.CacheOptions{Reader: informers}})
	g.Expect(err).NotTo(HaveOccurred())
	workloads := startWorkloadCache(ctx, g, env)

	r := &restart.Reconciler{Client: cached, Pods: meshctx.CachedPods(informers), Workloads: workloads,
		Recorder: events.NewFakeRecorder(100), Report: restart.NewReport(), Policy: allowed}
	g.Eventually(func() error {
		_, err := r.Reconcile(ctx, ctrl.Request{})
		if err != nil {
			return err
		}
		// The pod without a sidecar was judged: its workload is restarted.
		d := &appsv1.Deployment{}
		if err := c.Get(ctx, client.ObjectKeyFromObject(app), d); err != nil {
			return err
		}
		if d.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation] == "" {
			return errors.New("the pass has not restarted the workload of the pod yet")
		}
		return nil
	}, 10*time.Second, 50*time.Millisecond).Should(Succeed())
}
