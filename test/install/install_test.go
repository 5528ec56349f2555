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

// Package install measures one install of the control plane as a user sees it: the time from creating
// a ServiceMesh until istiod's objects exist and until the mesh is Ready, on a fresh cluster and with
// the Istio CRDs already present; the manager's CPU time and memory; how fast a values change reaches
// istiod; and the writes at rest. The API server is envtest's (kube-apiserver and etcd); the test writes
// the istiod Deployment's status as the Deployment controller and a kubelet would, the moment the
// Deployment's spec changes, so the figures are meshkeeper's own.
package install

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const (
	namespace = "istio-system"
	poll      = 5 * time.Millisecond
	timeout   = 3 * time.Minute
	// settle is how long the manager is left alone before its memory is read and its writes at rest are
	// counted.
	settle = 15 * time.Second
)

// targets are the figures for a reference operator on the same harness, and meshkeeper's
// targets relative to them.
var targets = struct {
	warmObjects, warmReady, coldReadyOverWarm, availableToReady, valuesToEnv time.Duration
	cpu                                                                      time.Duration
	rssMiB, peakMiB                                                          float64
}{
	warmObjects:       time.Duration(0.8 * float64(360*time.Millisecond)), // ≤ 0.8× the reference's 0.36 s
	warmReady:         480 * time.Millisecond,                             // ≤ 1.0× the reference's 0.48 s
	coldReadyOverWarm: 2 * time.Second,                                    // cold Ready within 2 s of warm
	availableToReady:  140 * time.Millisecond,                             // the reference's 0.11–0.14 s
	valuesToEnv:       430 * time.Millisecond,                             // no slower than the reference's 0.43 s
	cpu:               1380 * time.Millisecond,                            // at most the reference's 1.38 s
	rssMiB:            0.8 * 97,                                           // ≤ 0.8× the reference's 97 MiB
	peakMiB:           98,                                                 // no higher than the reference's peak
}

type bench struct {
	c       client.Client
	cfg     *rest.Config
	manager *exec.Cmd
	log     string
	traced  string
}

// BenchmarkInstall runs one cold install, then INSTALL_WARM_RUNS (default 3) warm ones, and prints
// every figure against its target. Run it with -benchtime 1x.
func BenchmarkInstall(b *testing.B) {
	if b.N > 1 {
		b.Fatalf("one run is the measurement: run with -benchtime 1x, not %d", b.N)
	}
	// The benchmark's own informers log nothing worth reading (the manager's log is its own).
	logf.SetLogger(logr.Discard())
	env := testenv.Start(b)
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS, cfg.Burst = -1, 0
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	// The test and its simulated kubelet read from informers, as a kubelet and a user's kubectl watch
	// would: polling the API server every 5 ms, they made about a thousand requests a second to the API
	// server that meshkeeper's own requests waited behind on this machine's two CPUs.
	informers, err := cache.New(cfg, cache.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = informers.Start(ctx) }()
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme, Cache: &client.CacheOptions{Reader: informers}})
	if err != nil {
		b.Fatal(err)
	}
	// The control-plane namespace is the cluster's, as on most clusters: envtest has no namespace
	// controller to finish deleting one meshkeeper created.
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		b.Fatal(err)
	}
	bn := &bench{c: c, cfg: cfg}
	bn.start(ctx, b, env)
	go kubelet(ctx, c)
	// The informers the figures are read from start before the first install.
	for _, list := range []client.ObjectList{&meshv1alpha1.ServiceMeshList{}, &appsv1.DeploymentList{}, &appsv1.DaemonSetList{}} {
		if err := c.List(ctx, list); err != nil {
			b.Fatal(err)
		}
	}

	// A fresh cluster: the Istio CRDs do not exist.
	refusedBefore := bn.watchesRefused(ctx, b)
	cold := bn.install(ctx, b)
	refused := bn.watchesRefused(ctx, b) - refusedBefore
	bn.waitSettled(b)
	cpu, err := testenv.CPUTime(bn.manager.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	mem, err := testenv.ProcStatus(bn.manager.Process.Pid, "VmRSS", "VmHWM", "RssAnon", "RssFile")
	if err != nil {
		b.Fatal(err)
	}
	beforeChange := bn.writes(ctx, b, meshkeepersWrite)
	valuesToEnv := bn.changeValues(ctx, b)
	valuesWrites := bn.writes(ctx, b, meshkeepersWrite) - beforeChange
	writesAtRest := bn.writesAtRest(ctx, b)

	var warm []result
	for range envInt("INSTALL_WARM_RUNS", 3) {
		bn.delete(ctx, b)
		warm = append(warm, bn.install(ctx, b))
	}

	w := median(warm)
	b.Logf("cold: %s; warm runs: %v", cold, warm)
	report(b, "warm: created → istiod objects exist", w.objects, targets.warmObjects)
	report(b, "warm: created → Ready", w.ready, targets.warmReady)
	report(b, "cold: created → istiod objects exist", cold.objects, 0)
	report(b, "cold: created → Ready, over warm", cold.ready-w.ready, targets.coldReadyOverWarm)
	report(b, "istiod available → Ready (warm)", w.availableToReady, targets.availableToReady)
	report(b, "values change → istiod env updated", valuesToEnv, targets.valuesToEnv)
	b.Logf("%-55s %8d", "values change → meshkeeper's writes until settled", valuesWrites)
	b.Logf("%-55s %8d", "cold: watches refused while a watch cache loaded", refused)
	report(b, "CPU from start to settled after the cold install", cpu, targets.cpu)
	reportMiB(b, "resident memory after install, settled (VmRSS)", float64(mem["VmRSS"])/1024, targets.rssMiB)
	reportMiB(b, "peak resident memory after install (VmHWM)", float64(mem["VmHWM"])/1024, targets.peakMiB)
	b.Logf("resident after install: anonymous %d MiB, file-backed (code) %d MiB", mem["RssAnon"]/1024, mem["RssFile"]/1024)
	b.Logf("writes in %s at rest: %d", settle, writesAtRest)
	b.ReportMetric(float64(valuesWrites), "writes-values-change")
	b.ReportMetric(w.objects.Seconds(), "s-warm-objects")
	b.ReportMetric(w.ready.Seconds(), "s-warm-ready")
	b.ReportMetric(cold.objects.Seconds(), "s-cold-objects")
	b.ReportMetric(cold.ready.Seconds(), "s-cold-ready")
	b.ReportMetric(cpu.Seconds(), "s-cpu")
	b.ReportMetric(float64(mem["VmRSS"])/1024, "MiB-RSS")
	b.ReportMetric(float64(mem["VmHWM"])/1024, "MiB-peak")
	if writesAtRest > 0 {
		b.Errorf("meshkeeper wrote %d times at rest", writesAtRest)
	}
}

// result is one install: from the ServiceMesh's creation until istiod's Deployment exists, until it is
// Ready, and the part between the Deployment's being marked available and Ready.
type result struct{ objects, ready, availableToReady time.Duration }

func (r result) String() string {
	return fmt.Sprintf("objects %s, Ready %s (available → Ready %s)", r.objects.Round(time.Millisecond),
		r.ready.Round(time.Millisecond), r.availableToReady.Round(time.Millisecond))
}

func median(rs []result) result {
	pick := func(f func(result) time.Duration) time.Duration {
		ds := make([]time.Duration, 0, len(rs))
		for _, r := range rs {
			ds = append(ds, f(r))
		}
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	return result{objects: pick(func(r result) time.Duration { return r.objects }),
		ready:            pick(func(r result) time.Duration { return r.ready }),
		availableToReady: pick(func(r result) time.Duration { return r.availableToReady })}
}

func report(b *testing.B, figure string, got, target time.Duration) {
	b.Helper()
	if target == 0 {
		b.Logf("%-55s %8.2f s", figure, got.Seconds())
		return
	}
	b.Logf("%-55s %8.2f s; target ≤ %.2f s: %.2f× the target", figure, got.Seconds(), target.Seconds(), got.Seconds()/target.Seconds())
}

func reportMiB(b *testing.B, figure string, got, target float64) {
	b.Helper()
	b.Logf("%-55s %6.0f MiB; target ≤ %.0f MiB: %.2f× the target", figure, got, target, got/target)
}

func envInt(name string, fallback int) int {
	var n int
	if _, err := fmt.Sscan(os.Getenv(name), &n); err != nil || n <= 0 {
		return fallback
	}
	return n
}

// start runs the manager as the image builds it, with its pprof endpoint when INSTALL_PPROF names an
// address, and returns once its controllers run.
func (bn *bench) start(ctx context.Context, b *testing.B, env *testenv.Env) {
	dir := b.TempDir()
	binary := os.Getenv("INSTALL_MANAGER_BINARY")
	if binary == "" {
		var err error
		if binary, err = testenv.BuildImageBinary(dir); err != nil {
			b.Fatal(err)
		}
	}
	kubeconfig, err := env.WriteKubeconfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	bn.log = filepath.Join(dir, "meshkeeper.log")
	logFile, err := os.Create(bn.log)
	if err != nil {
		b.Fatal(err)
	}
	args := []string{"--metrics-bind-address=0", "--health-probe-bind-address=0"}
	if addr := os.Getenv("INSTALL_PPROF"); addr != "" {
		args = append(args, "--pprof-bind-address="+addr)
	}
	args = append(args, strings.Fields(os.Getenv("INSTALL_MANAGER_ARGS"))...)
	bn.manager = exec.CommandContext(ctx, binary, args...)
	bn.manager.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	bn.manager.Stdout, bn.manager.Stderr = logFile, logFile
	if err := bn.manager.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = bn.manager.Process.Kill()
		_ = bn.manager.Wait()
		logFile.Close()
		if keep := os.Getenv("INSTALL_KEEP_LOG"); keep != "" {
			if log, err := os.ReadFile(bn.log); err == nil {
				_ = os.WriteFile(keep, log, 0o644)
			}
		}
		if b.Failed() {
			b.Logf("meshkeeper's log:\n%s", bn.tail())
		}
	})
	started := regexp.MustCompile(`"Starting workers".*"controller":"servicemesh"`)
	bn.waitFor(b, func() bool {
		log, _ := os.ReadFile(bn.log)
		return started.Match(log)
	}, "the manager did not start")
}

func (bn *bench) tail() string {
	log, _ := os.ReadFile(bn.log)
	return testenv.TailLines(string(log), 40)
}

func (bn *bench) waitFor(b *testing.B, done func() bool, what string) {
	b.Helper()
	deadline := time.Now().Add(timeout)
	for !done() {
		if time.Now().After(deadline) {
			mesh := &meshv1alpha1.ServiceMesh{}
			_ = bn.c.Get(context.Background(), client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)
			status, _ := yaml.Marshal(mesh.Status)
			b.Fatalf("%s after %s\nstatus:\n%s\nmeshkeeper's log:\n%s", what, timeout, status, bn.tail())
		}
		time.Sleep(poll)
	}
}

// install creates the sample ServiceMesh and times it.
func (bn *bench) install(ctx context.Context, b *testing.B) result {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "config", "samples", "mesh_v1alpha1_servicemesh.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal(data, &u.Object); err != nil {
		b.Fatal(err)
	}
	// The figures start when the API server answers the create: the ServiceMesh exists from then on.
	// Its first create on a fresh cluster took the API server itself 2 s to answer in some runs,
	// before meshkeeper could see anything.
	if err := bn.c.Create(ctx, u); err != nil {
		b.Fatal(err)
	}
	created := time.Now()
	var r result
	var available time.Time
	bn.waitFor(b, func() bool {
		d := &appsv1.Deployment{}
		err := bn.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istiod"}, d)
		if err == nil && r.objects == 0 {
			r.objects = time.Since(created)
		}
		if err == nil && available.IsZero() && d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas > 0 {
			available = time.Now()
		}
		if trace {
			bn.trace(ctx, b, created)
		}
		return bn.ready(ctx)
	}, "the ServiceMesh is not Ready")
	r.ready = time.Since(created)
	r.availableToReady = time.Since(available)
	return r
}

// trace logs, with INSTALL_TRACE set, each change of the ServiceMesh's conditions, of the istiod
// Deployment's availability and of the Istio CRDs (created, Established), with the time since the
// ServiceMesh was created.
var trace = os.Getenv("INSTALL_TRACE") != ""

func (bn *bench) trace(ctx context.Context, b *testing.B, created time.Time) {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := bn.c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
		return
	}
	var line []string
	for _, c := range mesh.Status.Conditions {
		line = append(line, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Reason))
	}
	d := &appsv1.Deployment{}
	if err := bn.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istiod"}, d); err == nil {
		line = append(line, fmt.Sprintf("istiod available=%d", d.Status.AvailableReplicas))
	}
	crds := &apiextensionsv1.CustomResourceDefinitionList{}
	if err := bn.c.List(ctx, crds); err == nil {
		istio, established := 0, 0
		for _, crd := range crds.Items {
			if !strings.HasSuffix(crd.Name, ".istio.io") {
				continue
			}
			istio++
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					established++
				}
			}
		}
		line = append(line, fmt.Sprintf("Istio CRDs=%d established=%d", istio, established))
	}
	if now := strings.Join(line, " "); now != bn.traced {
		bn.traced = now
		b.Logf("%6.3fs %s", time.Since(created).Seconds(), now)
	}
}

func (bn *bench) ready(ctx context.Context) bool {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := bn.c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
		return false
	}
	return mesh.Status.ObservedGeneration == mesh.Generation &&
		meta.IsStatusConditionTrue(mesh.Status.Conditions, meshv1alpha1.ConditionReady)
}

// waitSettled waits until the manager has spent no CPU for a second, and returns when it did.
func (bn *bench) waitSettled(b *testing.B) time.Time {
	b.Helper()
	last, err := testenv.CPUTime(bn.manager.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	for range 60 {
		time.Sleep(time.Second)
		now, err := testenv.CPUTime(bn.manager.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		if now-last <= 20*time.Millisecond {
			return time.Now()
		}
		last = now
	}
	b.Fatal("the manager kept spending CPU for a minute after the install")
	return time.Time{}
}

// changeValues changes istiod's push debounce and times it until istiod's Deployment carries it.
func (bn *bench) changeValues(ctx context.Context, b *testing.B) time.Duration {
	b.Helper()
	patch := []byte(`{"spec":{"controlPlane":{"pushTuning":{"debounceAfter":"150ms"}}}}`)
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	changed := time.Now()
	if err := bn.c.Patch(ctx, mesh, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		b.Fatal(err)
	}
	var took time.Duration
	bn.waitFor(b, func() bool {
		d := &appsv1.Deployment{}
		if err := bn.c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "istiod"}, d); err != nil {
			return false
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			if e.Name == "PILOT_DEBOUNCE_AFTER" && e.Value == "150ms" {
				took = time.Since(changed)
				return true
			}
		}
		return false
	}, "the values change did not reach istiod")
	bn.waitFor(b, func() bool { return bn.ready(ctx) }, "the ServiceMesh is not Ready after the values change")
	bn.waitSettled(b)
	return took
}

// writesAtRest counts the API server's writes (of anyone: the test writes nothing meanwhile, and envtest
// runs no other controller) over the settle window.
func (bn *bench) writesAtRest(ctx context.Context, b *testing.B) int {
	b.Helper()
	before := bn.writes(ctx, b, anyWrite)
	time.Sleep(settle)
	return bn.writes(ctx, b, anyWrite) - before
}

// anyWrite passes a write of anyone but the API server's authentication and leader election.
func anyWrite(labels string) bool {
	return !strings.Contains(labels, `resource="leases"`) && !strings.Contains(labels, `resource="tokenreviews"`) &&
		!strings.Contains(labels, `resource="subjectaccessreviews"`)
}

// meshkeepersWrite passes the writes of anyone but the test: not the simulated kubelet's status of
// Deployments and DaemonSets, nor the test's merge patch of the ServiceMesh (meshkeeper applies, it
// never merge-patches).
func meshkeepersWrite(labels string) bool {
	kubelet := (strings.Contains(labels, `resource="deployments"`) || strings.Contains(labels, `resource="daemonsets"`)) &&
		strings.Contains(labels, `subresource="status"`)
	test := strings.Contains(labels, `resource="servicemeshes"`) && strings.Contains(labels, `verb="PATCH"`)
	return anyWrite(labels) && !kubelet && !test
}

var (
	requestLine = regexp.MustCompile(`^apiserver_request_total\{([^}]*)\} (\d+)`)
	writeVerb   = regexp.MustCompile(`verb="(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE)"`)
)

// watchesRefused counts the watches the API server answered with 429, as it answers every watch of a
// resource whose watch cache is still loading (with Retry-After: 1, so the watcher waits a second): a
// new CRD's cache loads on the first request for its kind. Only meshkeeper watches the Istio kinds.
func (bn *bench) watchesRefused(ctx context.Context, b *testing.B) int {
	return bn.requests(ctx, b, func(labels string) bool {
		return strings.Contains(labels, `code="429"`) && strings.Contains(labels, `verb="WATCH"`) &&
			strings.Contains(labels, `istio.io"`)
	})
}

// writes sums the API server's write requests whose labels pass.
func (bn *bench) writes(ctx context.Context, b *testing.B, pass func(labels string) bool) int {
	return bn.requests(ctx, b, func(labels string) bool { return writeVerb.MatchString(labels) && pass(labels) })
}

// requests sums the API server's requests (apiserver_request_total) whose labels pass.
func (bn *bench) requests(ctx context.Context, b *testing.B, pass func(labels string) bool) int {
	b.Helper()
	raw, err := bn.rest(b).Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(raw), "\n") {
		m := requestLine.FindStringSubmatch(line)
		if m == nil || !pass(m[1]) {
			continue
		}
		v, err := strconv.Atoi(m[2])
		if err != nil {
			b.Fatalf("apiserver_request_total %s: %v", m[2], err)
		}
		n += v
	}
	return n
}

func (bn *bench) rest(b *testing.B) rest.Interface {
	b.Helper()
	cs, err := kubernetes.NewForConfig(bn.cfg)
	if err != nil {
		b.Fatal(err)
	}
	return cs.CoreV1().RESTClient()
}

// delete deletes the ServiceMesh and waits until meshkeeper let it go.
func (bn *bench) delete(ctx context.Context, b *testing.B) {
	b.Helper()
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	if err := bn.c.Delete(ctx, mesh); err != nil {
		b.Fatal(err)
	}
	bn.waitFor(b, func() bool {
		return apierrors.IsNotFound(bn.c.Get(ctx, client.ObjectKeyFromObject(mesh), mesh))
	}, "the ServiceMesh was not let go")
	bn.waitSettled(b)
}

// kubelet writes what the workload controllers and the kubelets would, the moment a Deployment or
// DaemonSet changes: every replica (on each of 3 nodes) updated and available.
func kubelet(ctx context.Context, c client.Client) {
	now := metav1.Now()
	for ctx.Err() == nil {
		time.Sleep(poll)
		deployments := &appsv1.DeploymentList{}
		if err := c.List(ctx, deployments); err == nil {
			for i := range deployments.Items {
				d := &deployments.Items[i]
				if d.Status.ObservedGeneration == d.Generation {
					continue
				}
				replicas := int32(1)
				if d.Spec.Replicas != nil {
					replicas = *d.Spec.Replicas
				}
				d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas,
					UpdatedReplicas: replicas, ReadyReplicas: replicas, AvailableReplicas: replicas,
					Conditions: []appsv1.DeploymentCondition{
						{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
							LastTransitionTime: now, LastUpdateTime: now},
						{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
							LastTransitionTime: now, LastUpdateTime: now}}}
				_ = c.Status().Update(ctx, d)
			}
		}
		daemonSets := &appsv1.DaemonSetList{}
		if err := c.List(ctx, daemonSets); err == nil {
			for i := range daemonSets.Items {
				ds := &daemonSets.Items[i]
				if ds.Status.ObservedGeneration == ds.Generation {
					continue
				}
				const nodes = 3
				ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: ds.Generation, DesiredNumberScheduled: nodes,
					CurrentNumberScheduled: nodes, UpdatedNumberScheduled: nodes, NumberReady: nodes, NumberAvailable: nodes}
				_ = c.Status().Update(ctx, ds)
			}
		}
	}
}
