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

// Package scale measures meshkeeper at cluster scale on envtest: the real manager binary, as a process
// of its own so its memory is its own, against a real API server holding 1,000 namespaces, 5,000
// Ingresses and Services and 10,000 pods. Run with `make bench`; results are in docs/performance.md.
package scale

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/metadata/metadatainformer"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// The cluster the benchmark builds. Every skipEvery-th Ingress sends to two Services, which
// meshkeeper must report and leave alone; the second, api, is the only Ingress's to send there, so the
// Ingresses of the other Services need not be held back with it (SharedUpstream).
const (
	ingressesPerNS       = 5
	skipEvery            = 50
	upstreamVhost        = "nginx.ingress.kubernetes.io/upstream-vhost"
	proxyImage           = "docker.io/istio/proxyv2:1.31.1"
	convergeTimeout      = 10 * time.Minute
	steadyStateWindow    = 15 * time.Second
	injectedStatusFormat = `{"initContainers":["istio-init"],"containers":["istio-proxy"],"revision":"default"}`
)

// namespaces is 1,000 unless SCALE_NAMESPACES says otherwise (a small run shows the manager's baseline),
// each with 10 pods unless SCALE_PODS_PER_NAMESPACE says otherwise (30 gives 30,000 pods).
var (
	namespaces     = envInt("SCALE_NAMESPACES", 1000)
	podsPerNS      = envInt("SCALE_PODS_PER_NAMESPACE", 10)
	totalIngresses = namespaces * ingressesPerNS
	configurable   = totalIngresses - (totalIngresses+skipEvery-1)/skipEvery
)

func envInt(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return fallback
}

// BenchmarkScale measures, for one ServiceMesh applied to the populated cluster: the time until every
// namespace is enrolled and every configurable Ingress annotated, the time until the status counts
// them all, the API writes meshkeeper made by resource, the writes of the steady state that follows,
// and the manager's peak resident memory and heap. It runs twice, each on a cluster of its own: with
// meshkeeper's default client limits, whose target is 1.1 × (writes ÷ QPS), and with the limits lifted
// (--kube-api-qps=-1), whose target is 1.5 × the API server's own floor, the time a plain unthrottled
// client takes for the same applies on the same API server right after. `-bench 'Scale/limits=default'`
// runs one.
func BenchmarkScale(b *testing.B) {
	// The benchmark's own clients log nothing worth reading.
	logf.SetLogger(logr.Discard())
	defaultQPS := float64(controllers.ClientLimits(&rest.Config{}).QPS)
	for _, limits := range []clientLimits{
		{name: "default", describe: "default limits", qps: defaultQPS},
		{name: "lifted", describe: "client limits lifted", args: []string{"--kube-api-qps=-1"}},
	} {
		b.Run("limits="+limits.name, func(b *testing.B) { benchmarkScale(b, limits) })
	}
}

// clientLimits are the manager's client-side rate limits in one run of the benchmark.
type clientLimits struct {
	name, describe string
	// args are the manager's flags.
	args []string
	// qps is the rate the manager allows itself; 0 when lifted.
	qps float64
}

// floorWorkers is how many workers the plain client that measures the API server's floor uses.
const floorWorkers = 16

func benchmarkScale(b *testing.B, limits clientLimits) {
	if b.N > 1 {
		b.Fatalf("one run is the measurement (it creates its objects once): run with -benchtime 1x, not %d", b.N)
	}
	// envtest's default Service range (a /24) holds 254 ClusterIPs; the cluster has 5,000 Services.
	env := testenv.Start(b, testenv.WithServiceCIDR("10.96.0.0/12"))
	cfg := rest.CopyConfig(env.Config)
	cfg.QPS = -1 // no client-side limit: the benchmark's own requests wait for nothing
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()

	start := time.Now()
	populate(ctx, b, c)
	b.Logf("populated the cluster in %s", time.Since(start).Round(time.Second))

	apiserver := kubernetes.NewForConfigOrDie(cfg).RESTClient()
	listsBefore := apiRequests(ctx, b, apiserver, "LIST")
	m := startManager(ctx, b, env, limits.args...)
	before := apiWrites(ctx, b, apiserver)
	readVerbs := []string{"GET", "LIST"}
	readsBefore := apiRequests(ctx, b, apiserver, readVerbs...)
	// With streaming lists (WatchList), an informer starts with a WATCH that sends the existing objects
	// first and makes no LIST; a LIST of pods would hold every pod in one response.
	lists := apiRequests(ctx, b, apiserver, "LIST").minus(listsBefore)
	b.Logf("LIST requests while the manager started its caches: %d (%s)", lists.total(), lists)
	if n := lists.of("pods"); n > 0 {
		b.Errorf("the manager listed pods %d times instead of streaming them", n)
	}
	watch := watchConvergence(b, cfg)
	b.Logf("manager's memory with its caches started, before the ServiceMesh: %s, heap in use %.0f MiB",
		m.procStatus(b, "VmRSS", "VmHWM", "RssAnon", "RssFile"), m.memory(b).heap/(1<<20))

	procs := findCluster(b, cfg)
	b.ResetTimer()
	applied := time.Now()
	cpuApplied := procs.cpu(m.cmd.Process.Pid)
	applyMesh(ctx, b, c)
	profileDir := os.Getenv("SCALE_PROFILE_DIR")
	var cpuProfile sync.WaitGroup
	if profileDir != "" {
		cpuProfile.Go(func() { m.saveCPUProfile(b, filepath.Join(profileDir, "meshkeeper-limits-"+limits.name+".cpu.pprof")) })
		cpuProfile.Go(func() {
			saveAPIServerProfile(ctx, b, apiserver, cpuProfileWindow, filepath.Join(profileDir, "kube-apiserver-limits-"+limits.name+".cpu.pprof"))
		})
	}
	var converged, counted time.Duration
	var cpuConverged string
	peak := memory{}
	deadline := applied.Add(convergeTimeout)
	for converged == 0 || counted == 0 {
		if time.Now().After(deadline) {
			b.Fatalf("not converged after %s: %s\nmeshkeeper's log:\n%s", convergeTimeout, progress(ctx, b, c), m.tail())
		}
		time.Sleep(time.Second)
		now := m.memory(b)
		if profileDir != "" && now.heap > peak.heap {
			// The heap at its largest so far: what holds it, in the last profile saved.
			m.saveHeapProfile(b, filepath.Join(profileDir, "meshkeeper-limits-"+limits.name+".peak.heap.pprof"))
		}
		peak = peak.max(now)
		if at, ok := watch.convergedAt(); ok && converged == 0 {
			converged = at.Sub(applied)
			cpuConverged = procs.cpu(m.cmd.Process.Pid).since(cpuApplied, time.Since(applied))
		}
		if counted == 0 && statusCounted(ctx, b, c) {
			counted = time.Since(applied)
		}
	}
	b.StopTimer()
	converging := apiWrites(ctx, b, apiserver)
	reads := apiRequests(ctx, b, apiserver, readVerbs...).minus(readsBefore)
	// The Events of the convergence may still be on their way (the recorder sends each from a goroutine
	// of its own, after the write it reports): the steady state begins once they are recorded.
	recorded, eventsDone := eventsRecorded(ctx, b, apiserver, converging.of("events"))
	b.Logf("the convergence's last Event recorded %s after the apply (%d while converging, %d after)",
		eventsDone.Sub(applied).Round(100*time.Millisecond), converging.of("events"), recorded-converging.of("events"))
	converging = apiWrites(ctx, b, apiserver)
	time.Sleep(steadyStateWindow)
	peak = peak.max(m.memory(b))
	steady := apiWrites(ctx, b, apiserver)
	rss := m.peakRSS(b)
	b.Logf("manager's memory at the end: %s", m.procStatus(b, "VmRSS", "RssAnon", "RssFile"))
	if profileDir != "" {
		m.saveHeapProfile(b, filepath.Join(profileDir, "meshkeeper-limits-"+limits.name+".heap.pprof"))
	}
	cpuProfile.Wait()
	// The floor is measured with the manager gone, so that nothing but the plain client's applies
	// takes the API server's time.
	m.stop()
	var floorProfile sync.WaitGroup
	if profileDir != "" {
		floorProfile.Go(func() {
			saveAPIServerProfile(ctx, b, apiserver, floorProfileWindow, filepath.Join(profileDir, "kube-apiserver-floor-limits-"+limits.name+".cpu.pprof"))
		})
	}
	cpuFloor := procs.cpu(0)
	floor := measureFloor(ctx, b, cfg, env.Scheme)
	b.Logf("CPU from the apply until convergence was seen: %s; during the floor's applies: %s",
		cpuConverged, procs.cpu(0).since(cpuFloor, floor))
	floorProfile.Wait()

	writes := converging.minus(before)
	idle := steady.minus(converging)
	ingressWrites, namespaceWrites := writes.of("ingresses"), writes.of("namespaces")
	enrolledAfter, annotatedAfter, firstEnrolled, firstAnnotated := watch.since(applied)
	b.Logf("enrolled and annotated %s after the apply (namespaces from %s to %s, Ingresses from %s to %s); status counted everything after %s",
		converged.Round(100*time.Millisecond), firstEnrolled, enrolledAfter, firstAnnotated, annotatedAfter, counted.Round(100*time.Millisecond))
	b.Logf("manager: peak RSS %.0f MiB (VmHWM), peak heap in use %.0f MiB", float64(rss)/(1<<20), peak.heap/(1<<20))
	b.Logf("writes while converging, by resource and verb: %s", writes)
	b.Logf("writes in the %s of steady state after: %s", steadyStateWindow, idle)
	b.Logf("reads (GET, LIST) from the manager's caches started until the status counted everything, the benchmark's own included: %s", reads)
	b.Logf("the API server's floor: %s namespace label and %s Ingress annotation applies from a plain client with %d workers in %.1f s (%.0f/s)",
		thousands(namespaces), thousands(configurable), floorWorkers, floor.Seconds(), float64(namespaces+configurable)/floor.Seconds())
	var target time.Duration
	var basis string
	if limits.qps > 0 {
		n := ingressWrites + namespaceWrites
		target = time.Duration(1.1 * float64(n) / limits.qps * float64(time.Second))
		basis = fmt.Sprintf("1.1 x %s writes / %g/s", thousands(n), limits.qps)
	} else {
		target = time.Duration(1.5 * float64(floor))
		basis = fmt.Sprintf("1.5 x the API server's floor, %.1f s for %s applies from %d workers", floor.Seconds(), thousands(namespaces+configurable), floorWorkers)
	}
	b.Logf("convergence (%s): %.1f s; target <= %.1f s (%s): %.2fx the target",
		limits.describe, converged.Seconds(), target.Seconds(), basis, converged.Seconds()/target.Seconds())
	b.ReportMetric(converged.Seconds(), "s-to-annotated")
	b.ReportMetric(converged.Seconds()/target.Seconds(), "x-target")
	b.ReportMetric(floor.Seconds(), "s-floor")
	b.ReportMetric(counted.Seconds(), "s-to-status")
	b.ReportMetric(float64(ingressWrites)/float64(configurable), "writes/ingress")
	b.ReportMetric(float64(namespaceWrites)/float64(namespaces), "writes/namespace")
	b.ReportMetric(float64(rss)/(1<<20), "MiB-peak-RSS")
	b.ReportMetric(peak.heap/(1<<20), "MiB-peak-heap")
	b.ReportMetric(float64(idle.total()), "steady-writes")

	// The control-plane namespace is created; every other namespace write is an enrollment.
	if ingressWrites > configurable || namespaceWrites > namespaces+1 {
		b.Errorf("more than one write per object: %d Ingress writes for %d Ingresses, %d Namespace writes for %d namespaces",
			ingressWrites, configurable, namespaceWrites, namespaces)
	}
	for _, resource := range []string{"ingresses", "namespaces", "deployments", "servicemeshes", "servicemeshes/status"} {
		if n := idle.of(resource); n > 0 {
			b.Errorf("steady state wrote %d times to %s", n, resource)
		}
	}
}

// eventsRecorded waits until no Event has been recorded for eventsQuiet, and returns how many were
// then, and when the last one was.
func eventsRecorded(ctx context.Context, b *testing.B, apiserver rest.Interface, seen int) (int, time.Time) {
	b.Helper()
	last := time.Now()
	for deadline := last.Add(time.Minute); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		now := apiWrites(ctx, b, apiserver).of("events")
		switch {
		case now != seen:
			seen, last = now, time.Now()
		case time.Since(last) >= eventsQuiet:
			return seen, last
		}
	}
	b.Fatalf("Events were still being recorded a minute after convergence: %d so far", seen)
	return seen, last
}

// eventsQuiet is how long no Event must be recorded for the convergence's Events to be done.
const eventsQuiet = 3 * time.Second

// thousands formats n with a comma between thousands.
func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// convergence watches, as metadata, the namespaces and Ingresses, and records when every namespace
// carries the injection label and every configurable Ingress meshkeeper's upstream-vhost: a watch sees
// the moment, and costs the API server less than listing 5,000 Ingresses every second.
type convergence struct {
	mu                  sync.Mutex
	enrolled, annotated map[string]bool
	// at is when both were complete; enrolledAt and annotatedAt when each was, firstEnrolled and
	// firstAnnotated when each began.
	at, enrolledAt, annotatedAt, firstEnrolled, firstAnnotated time.Time
}

func (w *convergence) convergedAt() (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.at, !w.at.IsZero()
}

// since returns how long after start every namespace was enrolled and every Ingress annotated, and
// the first of each.
func (w *convergence) since(start time.Time) (enrolled, annotated, firstEnrolled, firstAnnotated time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	after := func(t time.Time) time.Duration { return t.Sub(start).Round(100 * time.Millisecond) }
	return after(w.enrolledAt), after(w.annotatedAt), after(w.firstEnrolled), after(w.firstAnnotated)
}

// watchConvergence starts the watches and returns once they have their initial objects.
func watchConvergence(b *testing.B, cfg *rest.Config) *convergence {
	b.Helper()
	w := &convergence{enrolled: map[string]bool{}, annotated: map[string]bool{}}
	factory := metadatainformer.NewSharedInformerFactory(metadata.NewForConfigOrDie(cfg), 0)
	track := func(resource schema.GroupVersionResource, set map[string]bool, done func(*metav1.PartialObjectMetadata) bool) {
		observe := func(obj any) {
			m, ok := obj.(*metav1.PartialObjectMetadata)
			if !ok {
				return
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			if done(m) {
				set[m.Namespace+"/"+m.Name] = true
			} else {
				delete(set, m.Namespace+"/"+m.Name)
			}
			now := time.Now()
			if w.firstEnrolled.IsZero() && len(w.enrolled) > 0 {
				w.firstEnrolled = now
			}
			if w.firstAnnotated.IsZero() && len(w.annotated) > 0 {
				w.firstAnnotated = now
			}
			if w.enrolledAt.IsZero() && len(w.enrolled) == namespaces {
				w.enrolledAt = now
			}
			if w.annotatedAt.IsZero() && len(w.annotated) == configurable {
				w.annotatedAt = now
			}
			if w.at.IsZero() && len(w.enrolled) == namespaces && len(w.annotated) == configurable {
				w.at = now
			}
		}
		if _, err := factory.ForResource(resource).Informer().AddEventHandler(toolscache.ResourceEventHandlerFuncs{
			AddFunc:    observe,
			UpdateFunc: func(_, obj any) { observe(obj) },
		}); err != nil {
			b.Fatal(err)
		}
	}
	track(corev1.SchemeGroupVersion.WithResource("namespaces"), w.enrolled, func(m *metav1.PartialObjectMetadata) bool {
		return m.Labels["istio-injection"] == "enabled"
	})
	track(networkingv1.SchemeGroupVersion.WithResource("ingresses"), w.annotated, func(m *metav1.PartialObjectMetadata) bool {
		return m.Annotations[upstreamVhost] != ""
	})
	stop := make(chan struct{})
	b.Cleanup(func() { close(stop) })
	factory.Start(stop)
	for resource, synced := range factory.WaitForCacheSync(stop) {
		if !synced {
			b.Fatalf("the benchmark's watch of %s did not sync", resource.Resource)
		}
	}
	return w
}

// measureFloor returns the time a plain client without client-side limits takes, with floorWorkers
// workers, for as many server-side applies as meshkeeper makes to converge and of the same kind: a
// label of its own on every enrolled namespace and two annotations of its own on every configurable
// Ingress, each applied as meshkeeper applies its metadata, under a field manager of its own.
func measureFloor(ctx context.Context, b *testing.B, cfg *rest.Config, scheme *runtime.Scheme) time.Duration {
	b.Helper()
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		b.Fatal(err)
	}
	var objects []*unstructured.Unstructured
	namespaceList := &metav1.PartialObjectMetadataList{}
	namespaceList.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := c.List(ctx, namespaceList, client.MatchingLabels{"mesh": "on"}); err != nil {
		b.Fatal(err)
	}
	for _, ns := range namespaceList.Items {
		u := floorObject(corev1.SchemeGroupVersion.WithKind("Namespace"), &ns)
		u.SetLabels(map[string]string{"floor.scale.meshkeeper.io/injection": "enabled"})
		objects = append(objects, u)
	}
	ingressList := &metav1.PartialObjectMetadataList{}
	ingressList.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("IngressList"))
	if err := c.List(ctx, ingressList); err != nil {
		b.Fatal(err)
	}
	for _, ing := range ingressList.Items {
		if ing.Annotations[upstreamVhost] == "" {
			continue
		}
		u := floorObject(networkingv1.SchemeGroupVersion.WithKind("Ingress"), &ing)
		u.SetAnnotations(map[string]string{
			"floor.scale.meshkeeper.io/service-upstream": "true",
			"floor.scale.meshkeeper.io/upstream-vhost":   ing.Annotations[upstreamVhost],
		})
		objects = append(objects, u)
	}
	if len(namespaceList.Items) != namespaces || len(objects) != namespaces+configurable {
		b.Fatalf("the floor needs %d namespaces and %d Ingresses, found %d objects", namespaces, configurable, len(objects))
	}
	work := make(chan *unstructured.Unstructured)
	errs := make(chan error, floorWorkers)
	var wg sync.WaitGroup
	start := time.Now()
	for range floorWorkers {
		wg.Go(func() {
			for u := range work {
				if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("scale-floor")); err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for _, u := range objects {
		work <- u
	}
	close(work)
	wg.Wait()
	floor := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
	return floor
}

// floorObject is the apply configuration of obj's metadata as meshkeeper's applies start it: kind,
// name and UID.
func floorObject(gvk schema.GroupVersionKind, obj *metav1.PartialObjectMetadata) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.Name)
	u.SetNamespace(obj.Namespace)
	u.SetUID(obj.UID)
	return u
}

// populate creates the namespaces, Services, Ingresses, pods and the ingress-nginx controller.
func populate(ctx context.Context, b *testing.B, c client.Client) {
	b.Helper()
	create := parallel(ctx, b, c, 16)
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx"}})
	create(&networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: "nginx", Annotations: map[string]string{networkingv1.AnnotationIsDefaultIngressClass: "true"}},
		Spec:       networkingv1.IngressClassSpec{Controller: "k8s.io/ingress-nginx"},
	})
	// The controller's service account may read IngressClasses, as the ingress-nginx chart's
	// ClusterRole lets it: without that, ingress-nginx ignores spec.ingressClassName.
	create(&rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{networkingv1.GroupName}, Resources: []string{"ingressclasses"}, Verbs: []string{"get", "list", "watch"}}}})
	create(&rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "ingress-nginx"},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "ingress-nginx"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: "ingress-nginx", Name: "default"}}})
	labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
	create(&appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "ingress-nginx-controller"},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: podSpec(false)},
		},
	})
	for i := range namespaces {
		create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsName(i), Labels: map[string]string{"mesh": "on", "team": nsName(i)}}})
	}
	create(nil) // wait for the namespaces
	for i := range namespaces {
		ns := nsName(i)
		for j := range ingressesPerNS {
			create(&corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("svc-%d", j)},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}, Selector: map[string]string{"app": fmt.Sprintf("svc-%d", j)}},
			})
			paths := []networkingv1.HTTPIngressPath{path("/", fmt.Sprintf("svc-%d", j)), path("/static", fmt.Sprintf("svc-%d", j))}
			if (i*ingressesPerNS+j)%skipEvery == 0 {
				paths = append(paths, path("/api", "api"))
			}
			create(&networkingv1.Ingress{
				ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("web-%d", j), Annotations: map[string]string{"owner": ns}},
				Spec: networkingv1.IngressSpec{
					IngressClassName: ptr.To("nginx"),
					TLS:              []networkingv1.IngressTLS{{Hosts: []string{fmt.Sprintf("web-%d.%s.example.com", j, ns)}, SecretName: "tls"}},
					Rules: []networkingv1.IngressRule{{Host: fmt.Sprintf("web-%d.%s.example.com", j, ns),
						IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{Paths: paths}}}},
				},
			})
		}
		for k := range podsPerNS {
			create(kubeletPod(ns, k, k%2 == 0))
		}
	}
	create(nil)
}

func nsName(i int) string { return fmt.Sprintf("scale-%04d", i) }

func path(p, service string) networkingv1.HTTPIngressPath {
	prefix := networkingv1.PathTypePrefix
	return networkingv1.HTTPIngressPath{Path: p, PathType: &prefix, Backend: networkingv1.IngressBackend{
		Service: &networkingv1.IngressServiceBackend{Name: service, Port: networkingv1.ServiceBackendPort{Number: 80}}}}
}

// podSpec is a realistic pod: an application container with probes, resources and 20 environment
// variables, and with injected the init container and sidecar istiod would add.
func podSpec(injected bool) corev1.PodSpec {
	env := make([]corev1.EnvVar, 0, 20)
	for i := range 16 {
		env = append(env, corev1.EnvVar{Name: fmt.Sprintf("FEATURE_FLAG_%02d", i), Value: fmt.Sprintf("shop.feature.%02d=enabled", i)})
	}
	env = append(env,
		corev1.EnvVar{Name: "LOG_LEVEL", Value: "info"},
		corev1.EnvVar{Name: "DB_HOST", Value: "db.shop.svc.cluster.local"},
		corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}},
		corev1.EnvVar{Name: "DB_PASSWORD", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}})
	resources := corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("250m"), corev1.ResourceMemory: resource.MustParse("256Mi")},
		Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("512Mi")},
	}
	spec := corev1.PodSpec{Containers: []corev1.Container{{
		Name: "app", Image: "registry.example.com/shop/web:4.2.1",
		Ports:     []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}},
		Env:       env,
		Resources: resources,
		ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intOrString("http")}}},
		LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
			HTTPGet: &corev1.HTTPGetAction{Path: "/livez", Port: intOrString("http")}}, PeriodSeconds: 20},
	}}}
	if injected {
		spec.InitContainers = []corev1.Container{{Name: "istio-init", Image: proxyImage,
			Args: []string{"istio-iptables", "-p", "15001", "-z", "15006", "-u", "1337", "-m", "REDIRECT", "-i", "*", "-x", "", "-b", "*", "-d", "15090,15021,15020"}}}
		spec.Containers = append(spec.Containers, corev1.Container{Name: "istio-proxy", Image: proxyImage,
			Args: []string{"proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc.cluster.local", "--proxyLogLevel=warning"},
			Env: []corev1.EnvVar{{Name: "PILOT_CERT_PROVIDER", Value: "istiod"}, {Name: "CA_ADDR", Value: "istiod.istio-system.svc:15012"},
				{Name: "ISTIO_META_DNS_CAPTURE", Value: "true"}, {Name: "ISTIO_DELTA_XDS", Value: "true"}},
			Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
				corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
			Ports: []corev1.ContainerPort{{Name: "http-envoy-prom", ContainerPort: 15090, Protocol: corev1.ProtocolTCP}}})
	}
	return spec
}

// kubeletPod is pod k of a Deployment's ReplicaSet in ns as the kubelet leaves it once it runs: owned
// by the ReplicaSet, with the ServiceAccount token volume the API server adds, scheduled, and with the
// status the kubelet writes (conditions, IPs, a status per container).
func kubeletPod(ns string, k int, injected bool) *corev1.Pod {
	spec := podSpec(injected)
	spec.NodeName = fmt.Sprintf("node-%d", k%3)
	spec.ServiceAccountName = "default"
	spec.Volumes = []corev1.Volume{{Name: "kube-api-access-x7k2p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		DefaultMode: ptr.To[int32](0o644),
		Sources: []corev1.VolumeProjection{
			{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](3607), Path: "token"}},
			{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "kube-root-ca.crt"},
				Items: []corev1.KeyToPath{{Key: "ca.crt", Path: "ca.crt"}}}},
			{DownwardAPI: &corev1.DownwardAPIProjection{Items: []corev1.DownwardAPIVolumeFile{{Path: "namespace",
				FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.namespace"}}}}},
		},
	}}}}
	for i := range spec.Containers {
		spec.Containers[i].VolumeMounts = []corev1.VolumeMount{{Name: "kube-api-access-x7k2p", ReadOnly: true,
			MountPath: "/var/run/secrets/kubernetes.io/serviceaccount"}}
	}
	spec.Tolerations = []corev1.Toleration{
		{Key: "node.kubernetes.io/not-ready", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
		{Key: "node.kubernetes.io/unreachable", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoExecute, TolerationSeconds: ptr.To[int64](300)},
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: fmt.Sprintf("app-7d9c6b5f4-%05d", k),
			Labels: map[string]string{"app": "svc-0", "pod-template-hash": "7d9c6b5f4"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "app-7d9c6b5f4",
				UID: "5f0c2a9e-3b7d-4c1e-9a6f-2d8e4b1c7a30", Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: spec,
	}
	if injected {
		pod.Annotations = map[string]string{"sidecar.istio.io/status": injectedStatusFormat}
	}
	started := metav1.NewTime(time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC))
	ready := metav1.NewTime(started.Add(9 * time.Second))
	podIP := fmt.Sprintf("10.244.%d.%d", k/250, k%250+2)
	pod.Status = corev1.PodStatus{
		Phase: corev1.PodRunning,
		Conditions: []corev1.PodCondition{
			{Type: "PodReadyToStartContainers", Status: corev1.ConditionTrue, LastTransitionTime: started},
			{Type: corev1.PodInitialized, Status: corev1.ConditionTrue, LastTransitionTime: started},
			{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
			{Type: corev1.ContainersReady, Status: corev1.ConditionTrue, LastTransitionTime: ready},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue, LastTransitionTime: started},
		},
		HostIP: "172.18.0.3", HostIPs: []corev1.HostIP{{IP: "172.18.0.3"}},
		PodIP: podIP, PodIPs: []corev1.PodIP{{IP: podIP}},
		StartTime: &started,
		QOSClass:  corev1.PodQOSBurstable,
	}
	for _, c := range spec.InitContainers {
		pod.Status.InitContainerStatuses = append(pod.Status.InitContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "docker.io/istio/proxyv2@sha256:" + strings.Repeat("4f", 32),
			ContainerID: "containerd://" + strings.Repeat("a1", 32), Ready: true,
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed",
				StartedAt: started, FinishedAt: started, ContainerID: "containerd://" + strings.Repeat("a1", 32)}},
		})
	}
	for _, c := range spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: c.Image + "@sha256:" + strings.Repeat("9c", 32),
			ContainerID: "containerd://" + strings.Repeat("b2", 32), Ready: true, Started: ptr.To(true),
			State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: started}},
			VolumeMounts: []corev1.VolumeMountStatus{{Name: "kube-api-access-x7k2p", ReadOnly: true,
				MountPath: "/var/run/secrets/kubernetes.io/serviceaccount", RecursiveReadOnly: ptr.To(corev1.RecursiveReadOnlyDisabled)}},
		})
	}
	return pod
}

// parallel returns a create function that sends objects to workers; create(nil) waits until every
// object sent so far is created.
func parallel(ctx context.Context, b *testing.B, c client.Client, workers int) func(client.Object) {
	b.Helper()
	work := make(chan client.Object, 1024)
	var pending sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range workers {
		go func() {
			for obj := range work {
				if err := createAs(ctx, c, obj); err != nil {
					once.Do(func() { firstErr = err })
				}
				pending.Done()
			}
		}()
	}
	b.Cleanup(func() { close(work) })
	return func(obj client.Object) {
		if obj == nil {
			pending.Wait()
			if firstErr != nil {
				b.Fatal(firstErr)
			}
			return
		}
		pending.Add(1)
		work <- obj
	}
}

// createAs creates obj; a Pod it creates as the ReplicaSet controller would and then gives it its
// status as the kubelet would, so that it carries both managers' managed fields.
func createAs(ctx context.Context, c client.Client, obj client.Object) error {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return c.Create(ctx, obj)
	}
	status := pod.Status.DeepCopy()
	if err := c.Create(ctx, pod, client.FieldOwner("kube-controller-manager")); err != nil {
		return err
	}
	pod.Status = *status
	return c.Status().Update(ctx, pod, client.FieldOwner("kubelet"))
}

// applyMesh creates the ServiceMesh that enrolls every namespace labelled mesh=on and puts
// ingress-nginx into the mesh.
func applyMesh(ctx context.Context, b *testing.B, c client.Client) {
	b.Helper()
	u := &unstructured.Unstructured{}
	manifest := `apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata:
  name: default
spec:
  injection:
    namespaceSelector:
      matchLabels:
        mesh: "on"
  ingressNginx:
    enabled: true
`
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		b.Fatal(err)
	}
	if err := c.Create(ctx, u); err != nil {
		b.Fatal(err)
	}
}

// annotated counts the Ingresses carrying meshkeeper's upstream-vhost.
func annotated(ctx context.Context, b *testing.B, c client.Client) int {
	b.Helper()
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(networkingv1.SchemeGroupVersion.WithKind("IngressList"))
	if err := c.List(ctx, list); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, item := range list.Items {
		if item.Annotations[upstreamVhost] != "" {
			n++
		}
	}
	return n
}

// enrolled counts the namespaces carrying the injection label.
func enrolled(ctx context.Context, b *testing.B, c client.Client) int {
	b.Helper()
	list := &corev1.NamespaceList{}
	if err := c.List(ctx, list, client.MatchingLabels{"istio-injection": "enabled"}); err != nil {
		b.Fatal(err)
	}
	return len(list.Items)
}

// statusCounted tells whether the ServiceMesh's status counts the whole data plane and its policies are applied.
func statusCounted(ctx context.Context, b *testing.B, c client.Client) bool {
	b.Helper()
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
		b.Fatal(err)
	}
	s := mesh.Status
	return meta.IsStatusConditionTrue(s.Conditions, meshv1alpha1.ConditionPoliciesApplied) && int(s.Namespaces.Enrolled) == namespaces && int(s.Ingresses.Configured) == configurable &&
		int(s.Ingresses.Skipped) == totalIngresses-configurable &&
		// Half the pods have no sidecar; the other half were injected before meshkeeper's mesh config existed.
		equality.Semantic.DeepEqual(s.Proxies, meshv1alpha1.ProxiesStatus{Total: int32(namespaces * podsPerNS),
			WithoutSidecar: int32(namespaces * podsPerNS / 2), Outdated: int32(namespaces * podsPerNS / 2)})
}

func progress(ctx context.Context, b *testing.B, c client.Client) string {
	mesh := &meshv1alpha1.ServiceMesh{}
	_ = c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)
	return fmt.Sprintf("%d of %d Ingresses annotated, %d of %d namespaces enrolled, status %+v",
		annotated(ctx, b, c), configurable, enrolled(ctx, b, c), namespaces, mesh.Status)
}

// writes counts API writes by "resource verb".
type writes map[string]int

// of sums the writes of every verb to a resource.
func (w writes) of(resource string) int {
	n := 0
	for key, v := range w {
		if strings.HasPrefix(key, resource+" ") {
			n += v
		}
	}
	return n
}

func (w writes) minus(before writes) writes {
	out := writes{}
	for resource, n := range w {
		if d := n - before[resource]; d > 0 {
			out[resource] = d
		}
	}
	return out
}

func (w writes) total() int {
	n := 0
	for _, v := range w {
		n += v
	}
	return n
}

func (w writes) String() string {
	keys := make([]string, 0, len(w))
	for k := range w {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, w[k]))
	}
	return strings.Join(parts, " ")
}

var requestLine = regexp.MustCompile(`^apiserver_request_total\{(.*)\} (\d+)$`)

// apiWrites reads the API server's own count of write requests, by resource (and subresource).
func apiWrites(ctx context.Context, b *testing.B, apiserver rest.Interface) writes {
	b.Helper()
	return apiRequests(ctx, b, apiserver, "POST", "PUT", "PATCH", "APPLY", "DELETE", "DELETECOLLECTION")
}

// apiRequests reads the API server's own count of requests of verbs, by resource (and subresource).
func apiRequests(ctx context.Context, b *testing.B, apiserver rest.Interface, verbs ...string) writes {
	b.Helper()
	body, err := apiserver.Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		b.Fatal(err)
	}
	out := writes{}
	scanner := bufio.NewScanner(strings.NewReader(string(body)))
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		match := requestLine.FindStringSubmatch(scanner.Text())
		if match == nil {
			continue
		}
		labels := map[string]string{}
		for _, pair := range strings.Split(match[1], ",") {
			if k, v, ok := strings.Cut(pair, "="); ok {
				labels[k] = strings.Trim(v, `"`)
			}
		}
		if !slices.Contains(verbs, labels["verb"]) {
			continue
		}
		if labels["dry_run"] != "" {
			continue
		}
		resource := labels["resource"]
		if labels["subresource"] != "" {
			resource += "/" + labels["subresource"]
		}
		n, _ := strconv.Atoi(match[2])
		out[resource+" "+labels["verb"]] += n
	}
	return out
}

// manager is the meshkeeper binary running against envtest.
type manager struct {
	cmd                  *exec.Cmd
	log                  string
	metricsURL, pprofURL string
	stopOnce             sync.Once
}

// freeAddr returns a free loopback address.
func freeAddr(b *testing.B) string {
	b.Helper()
	addr, err := testenv.FreeAddr()
	if err != nil {
		b.Fatal(err)
	}
	return addr
}

// cpuProfileWindow is how long saveCPUProfile profiles: the first part of the convergence.
const cpuProfileWindow = 30 * time.Second

// saveCPUProfile profiles the manager's CPU for cpuProfileWindow and writes the profile to file.
func (m *manager) saveCPUProfile(b *testing.B, file string) {
	resp, err := http.Get(fmt.Sprintf("%sprofile?seconds=%d", strings.TrimSuffix(m.pprofURL, "heap"), int(cpuProfileWindow.Seconds())))
	if err != nil {
		b.Error(err)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		b.Error(err)
	}
}

// floorProfileWindow is how long the API server is profiled while the floor's applies run.
const floorProfileWindow = 6 * time.Second

// saveAPIServerProfile profiles the API server's CPU for window (its /debug/pprof, on by default) and
// writes the profile to file.
func saveAPIServerProfile(ctx context.Context, b *testing.B, apiserver rest.Interface, window time.Duration, file string) {
	data, err := apiserver.Get().AbsPath("/debug/pprof/profile").Param("seconds", strconv.Itoa(int(window.Seconds()))).
		Timeout(window + time.Minute).DoRaw(ctx)
	if err == nil {
		err = os.WriteFile(file, data, 0o644)
	}
	if err != nil {
		b.Error(err)
	}
}

// saveHeapProfile writes the manager's heap profile (in use and allocated since start) to file.
func (m *manager) saveHeapProfile(b *testing.B, file string) {
	b.Helper()
	resp, err := http.Get(m.pprofURL)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		b.Fatal(err)
	}
}

// controllers are the controllers the manager starts; each logs "Starting workers" once its caches
// are synced.
var controllerNames = []string{"servicemesh", "namespace", "ingress", "ingressnginx"}

// startManager builds meshkeeper's binary (or takes SCALE_MANAGER_BINARY's), runs it against env with
// the flags args besides its own, and returns once every controller has synced its caches and started
// its workers.
func startManager(ctx context.Context, b *testing.B, env *testenv.Env, args ...string) *manager {
	b.Helper()
	dir := b.TempDir()
	binary := os.Getenv("SCALE_MANAGER_BINARY")
	if binary == "" {
		// Built as the image builds it, so its code takes the memory the shipped binary's does.
		var err error
		if binary, err = testenv.BuildImageBinary(dir); err != nil {
			b.Fatal(err)
		}
	}
	kubeconfig, err := env.WriteKubeconfig(dir)
	if err != nil {
		b.Fatal(err)
	}
	metricsAddr := freeAddr(b)
	m := &manager{log: filepath.Join(dir, "meshkeeper.log"), metricsURL: "http://" + metricsAddr + "/metrics"}
	logFile, err := os.Create(m.log)
	if err != nil {
		b.Fatal(err)
	}
	m.pprofURL = "http://" + freeAddr(b) + "/debug/pprof/heap"
	m.cmd = exec.CommandContext(ctx, binary, append([]string{"--metrics-bind-address=" + metricsAddr, "--metrics-secure=false",
		"--health-probe-bind-address=0", "--pprof-bind-address=" + strings.TrimSuffix(strings.TrimPrefix(m.pprofURL, "http://"), "/debug/pprof/heap")},
		args...)...)
	m.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	m.cmd.Stdout, m.cmd.Stderr = logFile, logFile
	if err := m.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		m.stop()
		logFile.Close()
	})
	deadline := time.Now().Add(5 * time.Minute)
	for !m.started() {
		if time.Now().After(deadline) || m.cmd.ProcessState != nil {
			b.Fatalf("meshkeeper did not start its controllers:\n%s", m.tail())
		}
		time.Sleep(200 * time.Millisecond)
	}
	return m
}

// stop ends the manager's process.
func (m *manager) stop() {
	m.stopOnce.Do(func() {
		_ = m.cmd.Process.Kill()
		_ = m.cmd.Wait()
	})
}

// started tells whether every controller has started its workers.
func (m *manager) started() bool {
	log, err := os.ReadFile(m.log)
	if err != nil {
		return false
	}
	for _, name := range controllerNames {
		if !regexp.MustCompile(`"Starting workers".*"controller":"` + name + `"`).Match(log) {
			return false
		}
	}
	return true
}

func (m *manager) tail() string {
	log, _ := os.ReadFile(m.log)
	lines := strings.Split(strings.TrimSpace(string(log)), "\n")
	return strings.Join(lines[max(0, len(lines)-40):], "\n")
}

// memory is the manager's memory as its own metrics report it.
type memory struct{ rss, heap float64 }

func (a memory) max(b memory) memory {
	return memory{rss: max(a.rss, b.rss), heap: max(a.heap, b.heap)}
}

var gaugeLine = regexp.MustCompile(`^(process_resident_memory_bytes|go_memstats_heap_inuse_bytes) (\S+)$`)

func (m *manager) memory(b *testing.B) memory {
	b.Helper()
	resp, err := http.Get(m.metricsURL)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	out := memory{}
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		if match := gaugeLine.FindStringSubmatch(scanner.Text()); match != nil {
			v, _ := strconv.ParseFloat(match[2], 64)
			if match[1] == "process_resident_memory_bytes" {
				out.rss = v
			} else {
				out.heap = v
			}
		}
	}
	return out
}

// procStatus returns the named lines of the manager's /proc status.
func (m *manager) procStatus(b *testing.B, names ...string) string {
	b.Helper()
	status, err := testenv.ProcStatus(m.cmd.Process.Pid, names...)
	if err != nil {
		b.Fatal(err)
	}
	out := make([]string, 0, len(names))
	for _, name := range names {
		out = append(out, fmt.Sprintf("%s %d kB", name, status[name]))
	}
	return strings.Join(out, ", ")
}

// peakRSS is the manager process's peak resident set size (VmHWM), as the kernel counts it.
func (m *manager) peakRSS(b *testing.B) int64 {
	b.Helper()
	status, err := testenv.ProcStatus(m.cmd.Process.Pid, "VmHWM")
	if err != nil {
		b.Fatal(err)
	}
	return status["VmHWM"] << 10
}

func intOrString(name string) intstr.IntOrString { return intstr.FromString(name) }
