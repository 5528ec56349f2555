//go:build cluster

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

// Package bench measures meshkeeper on the simulated cluster. Run with `make bench`; the results and
// the machine they were taken on are recorded in docs/performance.md.
package bench

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// env is a simulated cluster with meshkeeper running.
type env struct {
	cluster *cluster.Cluster
	client  client.Client
	logPath string
}

var (
	shared     *env
	stopShared = func() {}
)

// TestMain stops the shared cluster after the benchmarks: the testing package runs each benchmark
// function more than once (first with b.N = 1), and one cluster serves them all.
func TestMain(m *testing.M) {
	code := m.Run()
	stopShared()
	os.Exit(code)
}

// start returns the shared cluster with meshkeeper running and no ServiceMesh.
func start(b *testing.B) *env {
	b.Helper()
	if shared != nil {
		return shared
	}
	ctx, cancel := context.WithCancel(context.Background())
	dir, err := os.MkdirTemp("", "meshkeeper-bench-")
	if err != nil {
		b.Fatal(err)
	}
	c, err := cluster.Start(ctx, cluster.Options{Dir: filepath.Join(dir, "cluster")})
	if err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "meshkeeper.log"))
	if err != nil {
		b.Fatal(err)
	}
	stopShared = func() {
		cancel()
		_ = c.Stop()
		logFile.Close()
		os.RemoveAll(dir)
	}
	if err := testenv.InstallCRD(c.Kubeconfig()); err != nil {
		b.Fatal(err)
	}
	if err := testenv.StartManager(ctx, c.RESTConfig(), logFile); err != nil {
		b.Fatal(err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	cl, err := client.New(c.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	shared = &env{cluster: c, client: cl, logPath: logFile.Name()}
	return shared
}

func (e *env) applySample(b *testing.B) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		b.Fatal(err)
	}
	if err := e.client.Create(context.Background(), u); err != nil {
		b.Fatal(err)
	}
}

func (e *env) waitReady(b *testing.B) {
	b.Helper()
	e.waitFor(b, 5*time.Minute, func() bool {
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := e.client.Get(context.Background(), client.ObjectKey{Name: "default"}, mesh); err != nil {
			return false
		}
		return mesh.Status.ObservedGeneration == mesh.Generation &&
			meta.IsStatusConditionTrue(mesh.Status.Conditions, meshv1alpha1.ConditionReady)
	})
}

// deleteAndWait deletes the ServiceMesh and waits until the control plane and its namespace are gone.
func (e *env) deleteAndWait(b *testing.B) {
	b.Helper()
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if err := e.client.Delete(context.Background(), mesh); err != nil {
		b.Fatal(err)
	}
	e.waitFor(b, 5*time.Minute, func() bool {
		err := e.client.Get(context.Background(), client.ObjectKey{Name: "istio-system"}, &corev1.Namespace{})
		return apierrors.IsNotFound(err) &&
			apierrors.IsNotFound(e.client.Get(context.Background(), client.ObjectKeyFromObject(mesh), mesh))
	})
}

func (e *env) waitFor(b *testing.B, timeout time.Duration, done func() bool) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			mesh, _ := testenv.Kubectl(e.cluster.Kubeconfig(), "", "get", "servicemesh", "default", "-o", "yaml")
			log, _ := os.ReadFile(e.logPath)
			b.Fatalf("not done after %s\n%s\nmeshkeeper's log:\n%s", timeout, mesh, tail(string(log), 30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BenchmarkApplyToReady measures the time from creating the sample ServiceMesh until it is Ready: both
// charts installed and istiod's two replicas rolled out and Available on the fake nodes.
func BenchmarkApplyToReady(b *testing.B) {
	e := start(b)
	b.ResetTimer()
	for range b.N {
		e.applySample(b)
		e.waitReady(b)
		b.StopTimer()
		e.deleteAndWait(b)
		b.StartTimer()
	}
}

// BenchmarkNoopReconcile measures one reconcile of a Ready mesh whose spec did not change: chart
// resolution (cached), the release state, the drift check of every object, and the status. It fails
// when any of those reconciles writes to a managed object.
func BenchmarkNoopReconcile(b *testing.B) {
	e := start(b)
	e.applySample(b)
	e.waitReady(b)
	b.Cleanup(func() { e.deleteAndWait(b) })
	ctx := context.Background()

	// A reconciler reading through a cache configured as the manager's, so the numbers are the manager's.
	scheme, err := testenv.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	config := controllers.ClientLimits(e.cluster.RESTConfig())
	opts := controllers.CacheOptions(nil)
	opts.Scheme = scheme
	informers, err := cache.New(config, opts)
	if err != nil {
		b.Fatal(err)
	}
	cacheCtx, stopCache := context.WithCancel(ctx)
	b.Cleanup(stopCache)
	go func() { _ = informers.Start(cacheCtx) }()
	if !informers.WaitForCacheSync(cacheCtx) {
		b.Fatal("the cache did not sync")
	}
	cached, err := client.New(config, client.Options{Scheme: scheme, Cache: &client.CacheOptions{Reader: informers}})
	if err != nil {
		b.Fatal(err)
	}
	direct, err := client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	chartManager, err := controllers.NewChartManager(config, cached, direct)
	if err != nil {
		b.Fatal(err)
	}
	r := &servicemesh.Reconciler{
		Client:    cached,
		APIReader: direct,
		Pods:      meshctx.CachedPods(informers),
		Recorder:  discardRecorder{},
		Charts:    chartManager,
		Resolver:  &charts.CachingResolver{},
	}
	request := reconcile.Request{NamespacedName: client.ObjectKey{Name: "default"}}
	for range 2 { // warms the caches: informers, charts, discovery, verified objects
		if _, err := r.Reconcile(ctx, request); err != nil {
			b.Fatal(err)
		}
	}
	before := resourceVersions(b, e.client)
	beforeYAML, _ := testenv.Kubectl(e.cluster.Kubeconfig(), "", "get", "servicemesh", "default", "-o", "yaml", "--show-managed-fields")
	b.ResetTimer()
	for range b.N {
		if _, err := r.Reconcile(ctx, request); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if after := resourceVersions(b, e.client); !equalMaps(before, after) {
		afterYAML, _ := testenv.Kubectl(e.cluster.Kubeconfig(), "", "get", "servicemesh", "default", "-o", "yaml", "--show-managed-fields")
		b.Fatalf("no-op reconciles wrote to managed objects:\nbefore %v\nafter  %v\n%s\n---\n%s", before, after, beforeYAML, afterYAML)
	}
}

// resourceVersions of the ServiceMesh, the istiod Deployment and the mesh config.
func resourceVersions(b *testing.B, c client.Client) map[string]string {
	b.Helper()
	out := map[string]string{}
	for name, obj := range map[string]client.Object{
		"servicemesh": &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"}},
		"deployment":  &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod"}},
		"configmap":   &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istio"}},
	} {
		if err := c.Get(context.Background(), client.ObjectKeyFromObject(obj), obj); err != nil {
			b.Fatal(err)
		}
		out[name] = obj.GetResourceVersion()
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
