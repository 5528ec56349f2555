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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/cluster"
)

// rollbackWorkload is a Deployment of one replica in namespace whose rollouts take at least
// minReadySeconds after its new pod is ready, with progressDeadlineSeconds deadline.
func rollbackWorkload(namespace, name string, deadline, minReady int) string {
	return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: %s, namespace: %s}
spec:
  replicas: 1
  progressDeadlineSeconds: %d
  minReadySeconds: %d
  selector: {matchLabels: {app: %s}}
  template:
    metadata:
      labels: {app: %s}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: app, image: registry.example/%s:1}
`, name, namespace, deadline, minReady, name, name, name)
}

// TestCanaryRolledBackByItself is a canary whose restarted workloads never become ready, with
// rollbackOnFailure, and a manager killed in the middle of the rollback. Istio 1.31.0 serves blog,
// cart and shop; 1.31.1 comes with cart and shop as canary, and the pods its injector injects never
// run. meshkeeper restarts cart/web and shop/api onto 1-31-1; shop/api passes its deadline first, and
// with no step of the test meshkeeper rolls the canary back: status.canaryRollback names shop/api and
// 1-31-1, DataPlaneUpToDate says CanaryRolledBack, an Event CanaryRolledBack is on the ServiceMesh,
// meshkeeper_restarts_total{result="rolled_back"} counts it, and the canary namespaces are enrolled
// with the default tag again. Then, while shop/api rolls out onto 1-31-0 (minReadySeconds holds the
// rollout open), the manager is killed with SIGKILL and started again: the rollback is kept, not
// repeated and not undone; cart/web and shop/api end on 1-31-0, restarted exactly once more, ready;
// shop/web (never restarted onto the canary) and blog/web are not touched.
func TestCanaryRolledBackByItself(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()
	s := startSession(ctx, t, cluster.Options{Injection: &cluster.Injection{BrokenRevisions: []string{"1-31-1"}}})
	client, err := kubernetes.NewForConfig(s.cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	namespaces := []string{"blog", "cart", "shop"}
	canary := []string{"cart", "shop"}
	for _, ns := range namespaces {
		s.apply("apiVersion: v1\nkind: Namespace\nmetadata: {name: " + ns + "}\n")
	}
	const restarts = "maxConcurrent: 5, maxConcurrentPerNamespace: 1, rollbackOnFailure: true"
	s.apply(restartMesh("1.31.0", namespaces, nil, restarts))
	s.waitReady(5 * time.Minute)
	// shop/api's deadline passes first; cart/web, restarted with it, is still within its own when the
	// canary is rolled back. A rollout takes at least minReady seconds, well within both deadlines, and
	// long enough that the manager is killed before shop/api's rollout onto 1-31-0 is done.
	const minReady = 30
	s.apply(rollbackWorkload("shop", "api", 45, minReady))
	s.apply(rollbackWorkload("shop", "web", 45, minReady))
	s.apply(rollbackWorkload("cart", "web", 100, minReady))
	s.apply(rollbackWorkload("blog", "web", 45, minReady))
	s.eventually("the workloads on 1-31-0", 3*time.Minute, s.want("status.revisions", "1-31-0=Active/4 ",
		"mesh", "default", "-o", `jsonpath={range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`))
	t.Logf("mesh and workloads on 1-31-0 after %s", time.Since(start).Round(time.Second))

	// deployments is each Deployment as name=generation/observedGeneration/replicas/updated/ready/available,
	// where replicas counts the pods of every ReplicaSet: in the middle of a rollout the old ReplicaSet's
	// pod is still there, ready and available, next to the updated one.
	deployments := func() string {
		var out []string
		for _, ns := range namespaces {
			list, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range list.Items {
				st := d.Status
				out = append(out, fmt.Sprintf("%s/%s=%d/%d/%d/%d/%d/%d", ns, d.Name, d.Generation, st.ObservedGeneration,
					st.Replicas, st.UpdatedReplicas, st.ReadyReplicas, st.AvailableReplicas))
			}
		}
		slices.Sort(out)
		return strings.Join(out, " ")
	}
	rollbackStatus := func() string {
		return s.get("mesh", "default", "-o", "jsonpath={.status.canaryRollback}")
	}
	// rollbackEvents are the CanaryRolledBack Events about the ServiceMesh, as their notes.
	rollbackEvents := func() []string {
		events, err := client.EventsV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range events.Items {
			if e.Regarding.Kind == "ServiceMesh" && e.Reason == meshv1alpha1.ReasonCanaryRolledBack {
				if e.Series != nil {
					t.Errorf("Event CanaryRolledBack recurred %d times, want once", e.Series.Count)
				}
				out = append(out, e.Note)
			}
		}
		return out
	}

	// Every workload rolled out and available (minReadySeconds after ready) before the canary: one that
	// is not is no candidate yet, and shop/web would be restarted before shop/api.
	s.eventually("every Deployment rolled out", 2*time.Minute, func() string {
		if got, want := deployments(), "blog/web=1/1/1/1/1/1 cart/web=1/1/1/1/1/1 shop/api=1/1/1/1/1/1 shop/web=1/1/1/1/1/1"; got != want {
			return fmt.Sprintf("Deployments %s, want %s", got, want)
		}
		return ""
	})

	t.Log("Istio 1.31.1 with cart and shop as canary; the pods 1-31-1 injects never run")
	s.apply(restartMesh("1.31.1", namespaces, canary, restarts))
	s.eventually("the canary rolled back", 4*time.Minute, func() string {
		if rollbackStatus() == "" {
			return "no status.canaryRollback"
		}
		if len(rollbackEvents()) == 0 {
			return "no Event CanaryRolledBack on the ServiceMesh"
		}
		return ""
	})
	decided := rollbackStatus()
	rolledBack, err := s.metric(`meshkeeper_restarts_total{result="rolled_back"}`)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("canary rolled back after %s: %s; Deployments %s", time.Since(start).Round(time.Second), decided, deployments())
	// The status records the rollback first; the namespaces follow it, and then shop/api is restarted
	// onto 1-31-0 (generation 3). Its rollout takes minReady seconds from then.
	s.eventually("shop/api restarted onto 1-31-0", time.Minute, func() string {
		d, err := client.AppsV1().Deployments("shop").Get(ctx, "api", metav1.GetOptions{})
		if err != nil {
			return err.Error()
		}
		if d.Generation != 3 {
			return fmt.Sprintf("shop/api at generation %d, want 3", d.Generation)
		}
		return ""
	})
	atKill := deployments()
	if !strings.Contains(atKill, "shop/api=3/") || strings.Contains(atKill, "shop/api=3/3/1/1/1/1") {
		t.Fatalf("shop/api is not rolling out onto 1-31-0 at the kill (want generation 3, not yet rolled out): %s", atKill)
	}
	t.Logf("SIGKILL the manager while shop/api rolls out onto 1-31-0 (%s), and start it again", atKill)
	s.killManager()
	s.startManager(ctx)

	var rb meshv1alpha1.CanaryRollbackStatus
	if err := json.Unmarshal([]byte(decided), &rb); err != nil {
		t.Fatalf("status.canaryRollback %s: %v", decided, err)
	}
	if rb.Revision != "1-31-1" || rb.Workload != "Deployment shop/api" {
		t.Errorf("status.canaryRollback names %q and %q, want revision 1-31-1 and Deployment shop/api", rb.Revision, rb.Workload)
	}
	if rolledBack != "1" {
		t.Errorf(`meshkeeper_restarts_total{result="rolled_back"} is %q, want 1`, rolledBack)
	}

	s.eventually("the canary's restarted workloads back on 1-31-0 and ready", 3*time.Minute, func() string {
		got := strings.Join(podRevisions(ctx, t, client, namespaces...), " ")
		if want := "blog/web=1-31-0 cart/web=1-31-0 shop/api=1-31-0 shop/web=1-31-0"; got != want {
			return fmt.Sprintf("pods %s, want %s", got, want)
		}
		// Created, restarted onto 1-31-1, restarted onto 1-31-0: generation 3 for the two restarted.
		if got, want := deployments(), "blog/web=1/1/1/1/1/1 cart/web=3/3/1/1/1/1 shop/api=3/3/1/1/1/1 shop/web=1/1/1/1/1/1"; got != want {
			return fmt.Sprintf("Deployments %s, want %s", got, want)
		}
		if got, err := s.metric("meshkeeper_restarts_pending"); err != nil || got != "0" {
			return fmt.Sprintf("the restarted manager reports %q restarts pending, want 0 (%v)", got, err)
		}
		return s.want("status", "False/CanaryRolledBack restarting=0 outdated=0 1-31-1=Canary/0 1-31-0=Active/4 ", "mesh", "default", "-o",
			`jsonpath={.status.conditions[?(@.type=="DataPlaneUpToDate")].status}/{.status.conditions[?(@.type=="DataPlaneUpToDate")].reason} `+
				`restarting={.status.proxies.restarting} outdated={.status.proxies.outdated} {range .status.revisions[*]}{.name}={.state}/{.proxies} {end}`)()
	})
	t.Logf("rollback complete after %s", time.Since(start).Round(time.Second))

	if got := rollbackStatus(); got != decided {
		t.Errorf("status.canaryRollback changed across the manager's restart: %s, was %s", got, decided)
	}
	message := s.get("mesh", "default", "-o", `jsonpath={.status.conditions[?(@.type=="DataPlaneUpToDate")].message}`)
	t.Logf("DataPlaneUpToDate: %s", message)
	if !strings.Contains(message, "shop/api") || !strings.Contains(message, "1-31-1") {
		t.Errorf("DataPlaneUpToDate does not name shop/api and 1-31-1: %s", message)
	}
	if notes := rollbackEvents(); len(notes) != 1 || !strings.Contains(notes[0], "shop/api") {
		t.Errorf("want one Event CanaryRolledBack on the ServiceMesh, naming shop/api: %q", notes)
	}
	if got, err := s.metric(`meshkeeper_restarts_total{result="rolled_back"}`); err != nil || got != "" {
		t.Errorf(`the restarted manager rolled the canary back again: meshkeeper_restarts_total{result="rolled_back"} %q (%v)`, got, err)
	}
	for _, ns := range namespaces {
		if got := s.get("namespace", ns, "-o", `jsonpath={.metadata.labels.istio-injection}/{.metadata.labels.istio\.io/rev}`); got != "enabled/" {
			t.Errorf("namespace %s: istio-injection/istio.io/rev labels %q, want enabled/ (the default tag, on 1-31-0)", ns, got)
		}
	}
	if got := s.get("mutatingwebhookconfiguration", "istio-revision-tag-default", "-o", `jsonpath={.metadata.labels.istio\.io/rev}`); got != "1-31-0" {
		t.Errorf("the default tag points at %q, want 1-31-0", got)
	}
	// One pod of each restart onto the canary, one of each restart back, besides the first four.
	if got := s.cluster.Injector().Injected("1-31-1"); got != 2 {
		t.Errorf("revision 1-31-1 injected %d pods, want 2: one for cart/web and one for shop/api", got)
	}
	if got := s.cluster.Injector().Injected("1-31-0"); got != 6 {
		t.Errorf("revision 1-31-0 injected %d pods, want 6: the four first, and cart/web's and shop/api's back", got)
	}
	for _, ns := range []string{"blog", "shop"} {
		list, err := client.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range list.Items {
			if d.Name == "web" && restarted(d.Spec.Template) {
				t.Errorf("%s/web was restarted: it never ran the canary revision", ns)
			}
		}
	}
	t.Logf("done after %s", time.Since(start).Round(time.Second))
}
