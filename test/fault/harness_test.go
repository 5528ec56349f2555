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

package fault

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/faultkit"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const (
	controlPlaneNamespace = "istio-system"
	// poll is how often a scenario reads the API while it waits for a point to act at.
	poll = 100 * time.Millisecond
)

// manager is one run of the manager binary. Its log goes to <workDir>/<test>-<name>-<n>.log.
type manager struct {
	name string
	*faultkit.Manager
}

var managerRuns atomic.Int32

// startManager runs the manager binary against the simulated cluster with the given extra flags. The
// manager is killed when the test ends, if it still runs.
func startManager(t *testing.T, name string, args ...string) *manager {
	t.Helper()
	testenv.DependOn(testenv.ManagerInputs(binary)...)
	logPath := filepath.Join(workDir, fmt.Sprintf("%s-%s-%d.log", t.Name(), name, managerRuns.Add(1)))
	m, err := faultkit.StartManager(binary, sim.Kubeconfig(), logPath, name, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Kill)
	return &manager{name: name, Manager: m}
}

// env is what a scenario talks to the cluster with.
type env struct {
	t      *testing.T
	ctx    context.Context
	client client.Client
	dir    string
	logs   []*manager
	run    int32
}

func newEnv(t *testing.T, timeout time.Duration) *env {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	scheme, err := testenv.Scheme()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(sim.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			uninstallLeftOver(t, c)
		}
	})
	return &env{t: t, ctx: ctx, client: c, dir: t.TempDir(), run: scenarioRuns.Add(1)}
}

// uninstallLeftOver deletes the ServiceMesh a failed scenario left on the shared cluster, with a
// manager of its own, and waits until it is gone: the scenarios after it start from a cluster without
// one, so that one failure is reported once and not again by each scenario that follows. It runs after
// the scenario's own managers are killed.
func uninstallLeftOver(t *testing.T, c client.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	mesh := faultkit.Mesh(ctx, c)
	if mesh == nil {
		return
	}
	logPath := filepath.Join(workDir, fmt.Sprintf("%s-uninstall-left-over-%d.log", t.Name(), managerRuns.Add(1)))
	m, err := faultkit.StartManager(binary, sim.Kubeconfig(), logPath, "uninstall-left-over")
	if err != nil {
		t.Logf("the ServiceMesh the scenario left stays: starting a manager to uninstall it: %v", err)
		return
	}
	defer m.Kill()
	if err := c.Delete(ctx, mesh); client.IgnoreNotFound(err) != nil {
		t.Logf("the ServiceMesh the scenario left stays: deleting it: %v", err)
		return
	}
	for faultkit.Mesh(ctx, c) != nil {
		if ctx.Err() != nil {
			t.Logf("the ServiceMesh the scenario left was not uninstalled within 4m; see %s", logPath)
			return
		}
		time.Sleep(time.Second)
	}
	t.Logf("uninstalled the ServiceMesh the scenario left behind")
}

// scenarioRuns numbers the scenarios of the test binary, so that a scenario run again (go test -count,
// make soak) names its namespaces anew while the last run's are still terminating.
var scenarioRuns atomic.Int32

// start runs a manager whose log a failure of e prints.
func (e *env) start(name string, args ...string) *manager {
	e.t.Helper()
	m := startManager(e.t, name, args...)
	e.logs = append(e.logs, m)
	return m
}

// fatalf fails the scenario with the end of each manager's log and the ServiceMesh.
func (e *env) fatalf(format string, args ...any) {
	e.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, format, args...)
	for _, m := range e.logs {
		fmt.Fprintf(&b, "\n--- the end of %s:\n%s", filepath.Base(m.LogPath), testenv.TailLines(m.Log(), 30))
	}
	out, _ := testenv.Kubectl(sim.Kubeconfig(), "", "get", "servicemesh", "default", "-o", "yaml")
	fmt.Fprintf(&b, "\n--- the ServiceMesh:\n%s", out)
	e.t.Fatal(b.String())
}

func (e *env) kubectl(args ...string) string {
	e.t.Helper()
	out, err := testenv.Kubectl(sim.Kubeconfig(), "", args...)
	if err != nil {
		e.fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// apply applies a manifest server-side as the user "git" would.
func (e *env) apply(manifest string) {
	e.t.Helper()
	out, err := testenv.Kubectl(sim.Kubeconfig(), manifest, "apply", "--server-side", "--field-manager=git", "-f", "-")
	if err != nil {
		e.fatalf("applying:\n%s\n%v: %s", manifest, err, out)
	}
}

// waitFor reads the cluster every poll until done says so, and fails after timeout. done returns a
// description of what it still waits for, or "" when it is satisfied.
func (e *env) waitFor(what string, timeout time.Duration, done func() string) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := done()
		if got == "" {
			return
		}
		if time.Now().After(deadline) || e.ctx.Err() != nil {
			e.fatalf("waiting %s for %s: %s", timeout, what, got)
		}
		time.Sleep(poll)
	}
}

// mesh reads the ServiceMesh; nil when there is none.
func (e *env) mesh() *meshv1alpha1.ServiceMesh {
	return faultkit.Mesh(e.ctx, e.client)
}

// ready is a waitFor condition: the ServiceMesh is Ready for its current generation on version.
func (e *env) ready(version string) func() string {
	return func() string { return faultkit.NotReady(e.mesh(), version) }
}

// releaseSecret returns the status label of revision of a release's Secret, "" when it does not exist.
func (e *env) releaseStatus(release string, revision int) string {
	s := &corev1.Secret{}
	name := fmt.Sprintf("sh.helm.release.v1.%s.v%d", release, revision)
	if err := e.client.Get(e.ctx, types.NamespacedName{Namespace: controlPlaneNamespace, Name: name}, s); err != nil {
		return ""
	}
	return s.Labels["status"]
}

// namespaces creates n namespaces named prefix-r<run>-0… with the given labels; they are deleted when the
// test ends.
func (e *env) namespaces(prefix string, n int, labels map[string]string) []string {
	e.t.Helper()
	var names []string
	for i := range n {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-r%d-%d", prefix, e.run, i), Labels: labels}}
		if err := e.client.Create(e.ctx, ns); err != nil {
			e.fatalf("creating namespace %s: %v", ns.Name, err)
		}
		names = append(names, ns.Name)
	}
	e.t.Cleanup(func() {
		for _, name := range names {
			_ = e.client.Delete(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
		}
	})
	return names
}

// enrolled counts the namespaces among names that carry the injection label.
func (e *env) enrolled(names []string) int {
	list := &corev1.NamespaceList{}
	if err := e.client.List(e.ctx, list); err != nil {
		return -1
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	count := 0
	for _, ns := range list.Items {
		if want[ns.Name] && (ns.Labels["istio-injection"] == "enabled" || ns.Labels["istio.io/rev"] != "") {
			count++
		}
	}
	return count
}

// deleteMesh deletes the ServiceMesh without waiting for its finalizer.
func (e *env) deleteMesh() {
	e.t.Helper()
	e.kubectl("delete", "servicemesh", "default", "--wait=false")
}

// gone is a waitFor condition: the ServiceMesh no longer exists.
func (e *env) gone() string {
	if mesh := e.mesh(); mesh != nil {
		return fmt.Sprintf("the ServiceMesh still exists (deletionTimestamp %v, finalizers %v)", mesh.DeletionTimestamp, mesh.Finalizers)
	}
	return ""
}
