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

package bench

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/cluster"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// The restart wave's cluster and limits (docs/performance.md).
const (
	waveNamespaces   = 100
	wavePerNamespace = 10
	waveWorkloads    = waveNamespaces * wavePerNamespace
	// A fake node takes 110 pods: the workloads, the rollouts' surge pods and the control plane fit on 12.
	waveNodes            = 12
	waveMaxConcurrent    = 50
	waveMaxPerNamespace  = 1
	waveLabel            = "bench.meshkeeper.io/restart-wave"
	waveInitialVersion   = "1.31.0"
	waveInitialRevision  = "1-31-0"
	waveConvergeTimeout  = 30 * time.Minute
	waveWorkloadsTimeout = 10 * time.Minute
)

// deploymentWrite matches a write of a Deployment (its path; the method says whether it writes).
var deploymentWrite = regexp.MustCompile(`^/apis/apps/v1/namespaces/[^/]+/deployments/[^/]+$`)

// writeCounter counts the requests of a client's transports that write Deployments, and all their
// writes.
type writeCounter struct {
	deployments, total atomic.Int64
}

func (w *writeCounter) wrap(next http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.total.Add(1)
			if deploymentWrite.MatchString(req.URL.Path) {
				w.deployments.Add(1)
			}
		}
		return next.RoundTrip(req)
	})
}

// BenchmarkRestartWave measures a data-plane upgrade of 1,000 Deployments (one replica each) in 100
// namespaces, all injected by revision 1-31-0 of a RevisionBased mesh with Automatic restarts
// (maxConcurrent 50, maxConcurrentPerNamespace 1). Each iteration moves spec.version to the next patch
// release: the new revision installs, the default tag moves to it, every pod is then Outdated (its
// revision is not the one its namespace is served by), and meshkeeper restarts every workload. An
// iteration ends when every pod was created anew and injected by the new revision and the status
// says no proxy is outdated or restarting. It reports meshkeeper's writes of Deployments per workload
// per restart (target 1), the restarts per workload (its generation) and the most workloads rolling
// at once, and fails when a limit was exceeded.
func BenchmarkRestartWave(b *testing.B) {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "meshkeeper-bench-restarts-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(dir)
	startCtx, cancelStart := context.WithTimeout(ctx, 3*time.Minute)
	c, err := cluster.Start(startCtx, cluster.Options{Dir: filepath.Join(dir, "cluster"), Nodes: waveNodes, Scale: true, Injection: &cluster.Injection{}})
	cancelStart()
	if err != nil {
		b.Fatal(err)
	}
	defer func() {
		if err := c.Stop(); err != nil {
			b.Error(err)
		}
	}()
	if err := testenv.InstallCRD(c.Kubeconfig()); err != nil {
		b.Fatal(err)
	}
	logFile, err := os.Create(filepath.Join(dir, "meshkeeper.log"))
	if err != nil {
		b.Fatal(err)
	}
	defer logFile.Close()
	counter := &writeCounter{}
	managerConfig := c.RESTConfig()
	managerConfig.Wrap(counter.wrap)
	managerCtx, stopManager := context.WithCancel(ctx)
	defer stopManager()
	if err := testenv.StartManager(managerCtx, managerConfig, logFile); err != nil {
		b.Fatal(err)
	}

	config := c.RESTConfig()
	config.QPS, config.Burst = 500, 1000
	clientset, err := kubernetes.NewForConfig(config)
	if err != nil {
		b.Fatal(err)
	}
	scheme, err := testenv.Scheme()
	if err != nil {
		b.Fatal(err)
	}
	cl, err := client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	e := &env{cluster: c, client: cl, logPath: logFile.Name()}

	for i := range waveNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("wave-%03d", i), Labels: map[string]string{waveLabel: "true"}}}
		if _, err := clientset.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	mesh := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(`apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  version: %s
  updateStrategy: {type: RevisionBased, inactiveRevisionDeletionGracePeriod: 5s}
  injection: {namespaceSelector: {matchLabels: {%s: "true"}}}
  dataPlane:
    restarts: {mode: Automatic, maxConcurrent: %d, maxConcurrentPerNamespace: %d}
`, waveInitialVersion, waveLabel, waveMaxConcurrent, waveMaxPerNamespace)), &mesh.Object); err != nil {
		b.Fatal(err)
	}
	if err := cl.Create(ctx, mesh); err != nil {
		b.Fatal(err)
	}
	e.waitReady(b)
	createWorkloads(ctx, b, clientset)
	waitWave(b, e, c, waveInitialRevision, waveWorkloadsTimeout)

	rollouts, err := cluster.TrackRollouts(ctx, clientset, meshv1alpha1.RestartedAtAnnotation)
	if err != nil {
		b.Fatal(err)
	}
	defer rollouts.Stop()
	writesBefore, allBefore := counter.deployments.Load(), counter.total.Load()
	b.ResetTimer()
	for i := range b.N {
		version := fmt.Sprintf("1.31.%d", i+1)
		patch := []byte(fmt.Sprintf(`{"spec":{"version":%q}}`, version))
		if err := cl.Patch(ctx, &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, client.RawPatch(types.MergePatchType, patch)); err != nil {
			b.Fatal(err)
		}
		waitWave(b, e, c, fmt.Sprintf("1-31-%d", i+1), waveConvergeTimeout)
	}
	b.StopTimer()

	writes := counter.deployments.Load() - writesBefore
	most, mostInANamespace := rollouts.Most()
	// Every workload changed once per iteration, by meshkeeper alone: its generation counts the
	// restarts, and the restarted-at annotations of its ReplicaSets' templates say when each happened.
	generations := map[int64]int{}
	var restarts int64
	var twice []string
	for i := range waveNamespaces {
		ns := fmt.Sprintf("wave-%03d", i)
		list, err := clientset.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		replicaSets, err := clientset.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range list.Items {
			generations[d.Generation]++
			restarts += d.Generation - 1
			if d.Generation > int64(1+b.N) && len(twice) < 10 {
				var times []string
				for _, rs := range replicaSets.Items {
					if rs.Labels["app"] == d.Name {
						times = append(times, rs.CreationTimestamp.UTC().Format(time.TimeOnly)+"="+rs.Spec.Template.Annotations[meshv1alpha1.RestartedAtAnnotation])
					}
				}
				twice = append(twice, fmt.Sprintf("%s/%s (ReplicaSet created=restarted-at: %v)", ns, d.Name, times))
			}
		}
	}
	metrics := map[string]float64{
		"deployment-writes/workload": float64(writes) / float64(waveWorkloads*b.N),
		"restarts/workload":          float64(restarts) / float64(waveWorkloads*b.N),
		"writes/op":                  float64(counter.total.Load()-allBefore) / float64(b.N),
		"max-rolling":                float64(most),
		"max-rolling/namespace":      float64(mostInANamespace),
	}
	for unit, value := range metrics {
		b.ReportMetric(value, unit)
	}
	// A failed benchmark prints no metrics: the log keeps them.
	b.Logf("%d workloads, %d upgrade(s) in %s: %v", waveWorkloads, b.N, b.Elapsed().Round(time.Second), metrics)
	if most > waveMaxConcurrent || mostInANamespace > waveMaxPerNamespace {
		b.Errorf("%d workloads rolled out at once, %d in one namespace: beyond maxConcurrent %d, maxConcurrentPerNamespace %d",
			most, mostInANamespace, waveMaxConcurrent, waveMaxPerNamespace)
	}
	// More than one restart per upgrade is measured (restarts/workload), not a failure: the limits are
	// the benchmark's pass criterion, exactly one restart each is the e2e tests'.
	if generations[int64(1+b.N)] != waveWorkloads {
		b.Logf("Deployments by generation: %v, want all %d at %d (one restart per upgrade); restarted more often: %v",
			generations, waveWorkloads, 1+b.N, twice)
	}
}

// createWorkloads creates the Deployments, ten at a time.
func createWorkloads(ctx context.Context, b *testing.B, clientset kubernetes.Interface) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, waveNamespaces)
	sem := make(chan struct{}, 10)
	for i := range waveNamespaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			ns := fmt.Sprintf("wave-%03d", i)
			for j := range wavePerNamespace {
				if _, err := clientset.AppsV1().Deployments(ns).Create(ctx, waveDeployment(ns, fmt.Sprintf("app-%d", j)), metav1.CreateOptions{}); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
}

func waveDeployment(namespace, name string) *appsv1.Deployment {
	one, grace := int32(1), int64(1)
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					TerminationGracePeriodSeconds: &grace,
					Containers:                    []corev1.Container{{Name: "app", Image: "registry.example/" + name + ":1"}},
				},
			},
		},
	}
}

// waitWave waits until the revision injected every workload's pod and the status, of the current
// generation, counts every pod on it: none outdated, without a sidecar or restarting, and that
// revision the only one.
func waitWave(b *testing.B, e *env, c *cluster.Cluster, revision string, timeout time.Duration) {
	b.Helper()
	e.waitFor(b, timeout, func() bool {
		if c.Injector().Injected(revision) < waveWorkloads {
			return false
		}
		mesh := &meshv1alpha1.ServiceMesh{}
		if err := e.client.Get(context.Background(), client.ObjectKey{Name: "default"}, mesh); err != nil {
			return false
		}
		s := mesh.Status
		return s.ObservedGeneration == mesh.Generation && s.ActiveRevision == revision &&
			s.Proxies.Total == waveWorkloads && s.Proxies.Outdated == 0 && s.Proxies.WithoutSidecar == 0 && s.Proxies.Restarting == 0 &&
			len(s.Revisions) == 1 && s.Revisions[0].Name == revision
	})
}
