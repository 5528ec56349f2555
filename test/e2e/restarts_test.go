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

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/test/cluster"
)

// restartMesh is a RevisionBased mesh of version enrolling namespaces, with the canary namespaces
// given and Automatic restarts; restarts is what the restarts block says besides the mode.
func restartMesh(version string, namespaces, canary []string, restarts string) string {
	return fmt.Sprintf(`apiVersion: mesh.meshkeeper.io/v1alpha1
kind: ServiceMesh
metadata: {name: default}
spec:
  version: %s
  updateStrategy:
    type: RevisionBased
    inactiveRevisionDeletionGracePeriod: 5s
    canary: {namespaces: [%s]}
  injection: {namespaces: [%s]}
  dataPlane:
    restarts: {mode: Automatic, %s}
`, version, strings.Join(canary, ", "), strings.Join(namespaces, ", "), restarts)
}

// restartWorkload is a Deployment (or a StatefulSet) of one replica in namespace; its pods leave within
// a second. progressDeadline, when not 0, is the Deployment's progressDeadlineSeconds.
func restartWorkload(kind, namespace, name string, progressDeadline int) string {
	deadline := ""
	if progressDeadline > 0 {
		deadline = fmt.Sprintf("\n  progressDeadlineSeconds: %d", progressDeadline)
	}
	return fmt.Sprintf(`apiVersion: apps/v1
kind: %s
metadata: {name: %s, namespace: %s}
spec:
  replicas: 1%s
  selector: {matchLabels: {app: %s}}
  template:
    metadata:
      labels: {app: %s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: app, image: registry.example/%s:1}
`, kind, name, namespace, deadline, name, name, name)
}

func restarted(template corev1.PodTemplateSpec) bool {
	_, ok := template.Annotations[meshv1alpha1.RestartedAtAnnotation]
	return ok
}

// restartWrites counts meshkeeper's writes of a workload: the entries of its managedFields under the
// restarts' field manager (one, whatever the number of applies) and the spec changes since it was
// created (generation - 1), which the test never makes itself, so each is one restart.
func restartWrites(obj metav1.Object) (managers int, specChanges int64) {
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager == restart.FieldManager {
			managers++
		}
	}
	return managers, obj.GetGeneration() - 1
}

// podRevisions maps each pod of the namespaces to the revision in its sidecar.istio.io/status ("" for
// none), as "namespace/app=revision".
func podRevisions(ctx context.Context, t *testing.T, client kubernetes.Interface, namespaces ...string) []string {
	t.Helper()
	var out []string
	for _, ns := range namespaces {
		pods, err := client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, pod := range pods.Items {
			var status struct {
				Revision string `json:"revision"`
			}
			_ = json.Unmarshal([]byte(pod.Annotations["sidecar.istio.io/status"]), &status)
			out = append(out, fmt.Sprintf("%s/%s=%s", ns, pod.Labels["app"], status.Revision))
		}
	}
	slices.Sort(out)
	return out
}

// TestHandsOffCanaryUpgrade is a canary upgrade with Automatic restarts, in the two commits a GitOps
// user makes and nothing else: Istio 1.31.0 serves four namespaces whose Deployments and StatefulSet
// its injector injected; 1.31.1 with shop as canary makes meshkeeper restart shop's workloads onto the
// new revision and no other; removing the canary moves the tag, meshkeeper restarts every other
// workload, and the old revision, no longer used, is pruned. The workloads' own injector (the
// simulated istiod of each revision) decides what each pod runs; the test never touches a workload.
func TestHandsOffCanaryUpgrade(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	s := startSession(ctx, t, cluster.Options{Injection: &cluster.Injection{}})
	client, err := kubernetes.NewForConfig(s.cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	const maxConcurrent, perNamespace = 2, 1
	// After the canary, three namespaces have workloads to restart: maxConcurrent, not the namespaces,
	// bounds how many roll out at once.
	namespaces := []string{"blog", "cart", "docs", "shop"}
	workloads := map[string][]string{ // namespace: kind/name
		"shop": {"Deployment/web", "Deployment/api"},
		"cart": {"Deployment/web", "StatefulSet/db"},
		"blog": {"Deployment/web"},
		"docs": {"Deployment/web"},
	}
	pods := 6

	t.Log("commit 0: Istio 1.31.0 as a revision serving four namespaces, whose workloads its injector injects")
	for _, ns := range namespaces {
		s.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n")
	}
	limits := fmt.Sprintf("maxConcurrent: %d, maxConcurrentPerNamespace: %d", maxConcurrent, perNamespace)
	s.apply(restartMesh("1.31.0", namespaces, nil, limits))
	s.waitReady(5 * time.Minute)
	for _, ns := range namespaces {
		for _, w := range workloads[ns] {
			kind, name, _ := strings.Cut(w, "/")
			s.apply(restartWorkload(kind, ns, name, 0))
		}
	}
	s.eventually("the workloads on 1-31-0", 3*time.Minute, s.want("status.revisions and proxies", fmt.Sprintf("1-31-0=Active/%d total=%d current=%d outdated=0 withoutSidecar=0", pods, pods, pods),
		"mesh", "default", "-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}total={.status.proxies.total} current={.status.proxies.current} outdated={.status.proxies.outdated} withoutSidecar={.status.proxies.withoutSidecar}`))
	if got := s.cluster.Injector().Injected("1-31-0"); got != pods {
		t.Errorf("revision 1-31-0 injected %d pods, want %d", got, pods)
	}

	rollouts, err := cluster.TrackRollouts(ctx, client, meshv1alpha1.RestartedAtAnnotation)
	if err != nil {
		t.Fatal(err)
	}
	defer rollouts.Stop()
	t.Log("commit 1: Istio 1.31.1 with shop as canary")
	s.apply(restartMesh("1.31.1", namespaces, []string{"shop"}, limits))
	s.eventually("shop's workloads restarted onto 1-31-1 by meshkeeper", 4*time.Minute, func() string {
		got := strings.Join(podRevisions(ctx, t, client, namespaces...), " ")
		want := "blog/web=1-31-0 cart/db=1-31-0 cart/web=1-31-0 docs/web=1-31-0 shop/api=1-31-1 shop/web=1-31-1"
		if got != want {
			return fmt.Sprintf("pods %s, want %s", got, want)
		}
		return s.want("status.revisions", "1-31-1=Canary/2 1-31-0=Active/4 ", "mesh", "default", "-o",
			`jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`)()
	})
	for _, ns := range []string{"blog", "cart", "docs"} {
		if out := s.get("deployments,statefulsets", "-n", ns, "-o", `jsonpath={range .items[*]}{.metadata.name}={.metadata.generation}/{.spec.template.metadata.annotations}{" "}{end}`); strings.Contains(out, meshv1alpha1.RestartedAtAnnotation) {
			t.Errorf("a workload of %s, which is not the canary, was restarted during the canary: %s", ns, out)
		}
	}

	t.Log("commit 2: the canary removed")
	s.apply(restartMesh("1.31.1", namespaces, nil, limits))
	s.eventually("every workload restarted onto 1-31-1 and 1-31-0 pruned", 5*time.Minute, func() string {
		got := strings.Join(podRevisions(ctx, t, client, namespaces...), " ")
		want := "blog/web=1-31-1 cart/db=1-31-1 cart/web=1-31-1 docs/web=1-31-1 shop/api=1-31-1 shop/web=1-31-1"
		if got != want {
			return fmt.Sprintf("pods %s, want %s", got, want)
		}
		return s.want("status", fmt.Sprintf("1-31-1=Active/%d outdated=0 restarting=0", pods), "mesh", "default", "-o",
			`jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}outdated={.status.proxies.outdated} restarting={.status.proxies.restarting}`)()
	})
	most, mostInANamespace := rollouts.Most()
	t.Logf("at most %d workloads rolling out at once, %d in one namespace", most, mostInANamespace)
	if most > maxConcurrent || mostInANamespace > perNamespace {
		t.Errorf("%d workloads rolled out at once (%d in one namespace), beyond maxConcurrent %d (maxConcurrentPerNamespace %d)",
			most, mostInANamespace, maxConcurrent, perNamespace)
	}
	if most == 0 {
		t.Error("no rollout was ever seen: the tracker sees nothing")
	}
	if _, err := client.AppsV1().Deployments("istio-system").Get(ctx, "istiod-1-31-0", metav1.GetOptions{}); err == nil {
		t.Error("istiod-1-31-0 is still there")
	}
	if got := s.get("mutatingwebhookconfiguration", "istio-revision-tag-default", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "1-31-1" {
		t.Errorf("the default tag points at %q, want 1-31-1", got)
	}

	// One restart each: one spec change, under the restarts' field manager.
	for _, ns := range namespaces {
		deployments, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		statefulSets, err := client.AppsV1().StatefulSets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var objs []metav1.Object
		for i := range deployments.Items {
			objs = append(objs, &deployments.Items[i])
		}
		for i := range statefulSets.Items {
			objs = append(objs, &statefulSets.Items[i])
		}
		for _, obj := range objs {
			if managers, changes := restartWrites(obj); managers != 1 || changes != 1 {
				t.Errorf("%s/%s: %d managedFields entries of %s and %d spec changes, want one restart", ns, obj.GetName(), managers, restart.FieldManager, changes)
			}
		}
	}
	if got := s.cluster.Injector().Injected("1-31-1"); got != pods {
		t.Errorf("revision 1-31-1 injected %d pods, want %d: one per workload's restart", got, pods)
	}
}

// TestStalledCanaryRestart is a canary whose restarted workload never becomes ready, with
// rollbackOnFailure false: the canary revision's pods stay Pending (its injector is broken), the
// Deployment passes its progress deadline, and meshkeeper stops: DataPlaneUpToDate False with reason
// RestartStalled, the canary's other workload never restarted, and a namespace added to the canary
// afterwards, whose workload the limits would allow to restart, is not restarted either.
func TestStalledCanaryRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s := startSession(ctx, t, cluster.Options{Injection: &cluster.Injection{BrokenRevisions: []string{"1-31-1"}}})
	client, err := kubernetes.NewForConfig(s.cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	namespaces := []string{"blog", "shop"}
	for _, ns := range namespaces {
		s.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n")
	}
	const restarts = "maxConcurrent: 5, maxConcurrentPerNamespace: 1, rollbackOnFailure: false"
	s.apply(restartMesh("1.31.0", namespaces, nil, restarts))
	s.waitReady(5 * time.Minute)
	s.apply(restartWorkload("Deployment", "shop", "api", 15))
	s.apply(restartWorkload("Deployment", "shop", "web", 15))
	s.apply(restartWorkload("Deployment", "blog", "web", 15))
	s.eventually("the workloads on 1-31-0", 3*time.Minute, s.want("status.revisions", "1-31-0=Active/3 ",
		"mesh", "default", "-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))

	t.Log("Istio 1.31.1 with shop as canary; the pods 1-31-1 injects never run")
	s.apply(restartMesh("1.31.1", namespaces, []string{"shop"}, restarts))
	dataPlane := s.want("DataPlaneUpToDate", "False/"+meshv1alpha1.ReasonRestartStalled, "mesh", "default", "-o",
		`jsonpath={.status.conditions[?(@.type=="DataPlaneUpToDate")].status}/{.status.conditions[?(@.type=="DataPlaneUpToDate")].reason}`)
	s.eventually("the stall reported", 4*time.Minute, dataPlane)
	message := s.get("mesh", "default", "-o", `jsonpath={.status.conditions[?(@.type=="DataPlaneUpToDate")].message}`)
	t.Logf("DataPlaneUpToDate: %s", message)
	if !strings.Contains(message, "shop/api") {
		t.Errorf("the stall message does not name shop/api, the first of the canary's workloads: %s", message)
	}

	restartedNow := func() []string {
		var out []string
		for _, ns := range namespaces {
			list, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range list.Items {
				if restarted(d.Spec.Template) || d.Generation != 1 {
					out = append(out, fmt.Sprintf("%s/%s@%d", ns, d.Name, d.Generation))
				}
			}
		}
		return out
	}
	if got := restartedNow(); !slices.Equal(got, []string{"shop/api@2"}) {
		t.Errorf("restarted: %v, want only shop/api, once", got)
	}
	pending, err := client.CoreV1().Pods("shop").List(ctx, metav1.ListOptions{FieldSelector: "status.phase=Pending"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pending.Items) != 1 || pending.Items[0].Spec.NodeSelector[cluster.BrokenRevisionLabel] != "1-31-1" {
		t.Errorf("want one Pending pod of shop, injected by the broken revision 1-31-1: %+v", pending.Items)
	}

	t.Log("blog joins the canary: its workload is outdated, the limits allow its restart, the stall does not")
	s.apply(restartMesh("1.31.1", namespaces, []string{"blog", "shop"}, restarts))
	s.eventually("blog moved to 1-31-1", time.Minute, s.want("blog's revision label", "1-31-1", "namespace", "blog", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`))
	s.eventually("blog's pod counted outdated", time.Minute, s.want("status.proxies.outdated", "3", "mesh", "default", "-o", "jsonpath={.status.proxies.outdated}"))
	time.Sleep(15 * time.Second)
	if got := restartedNow(); !slices.Equal(got, []string{"shop/api@2"}) {
		t.Errorf("restarted after the stall: %v, want still only shop/api", got)
	}
	if problem := dataPlane(); problem != "" {
		t.Errorf("after blog joined the canary: %s", problem)
	}
	if got := s.get("namespace", "shop", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "1-31-1" {
		t.Errorf("shop's revision label is %q: without rollbackOnFailure the canary stays on 1-31-1", got)
	}
}
