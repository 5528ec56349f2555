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

package servicemesh

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// walkthroughStatusRow is the row of docs/walkthrough.md's status table whose first field is field.
func walkthroughStatusRow(t *testing.T, field string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "docs", "walkthrough.md"))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if strings.HasPrefix(line, "| `"+field+"`") {
			return line
		}
	}
	t.Fatalf("docs/walkthrough.md has no status row for %s", field)
	return ""
}

// TestWalkthroughObservedGenerationMovesOnAKnownWait: while the control-plane namespace is still being
// deleted, meshkeeper waits for it at a fixed pace and counts the generation as handled, so
// status.observedGeneration moves to it. docs/walkthrough.md's status table must say so, rather than
// that observedGeneration stays behind for everything meshkeeper retries.
func TestWalkthroughObservedGenerationMovesOnAKnownWait(t *testing.T) {
	mesh := testMesh()
	tr := newTestReconciler(t, mesh, &fakeCharts{ensure: func(helm.Release) (helm.Result, error) {
		return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
	}})
	// A finalizer keeps the namespace, with its deletionTimestamp, after the delete.
	ns := &corev1.Namespace{}
	if err := tr.Get(t.Context(), client.ObjectKey{Name: mesh.Spec.Namespace}, ns); err != nil {
		t.Fatal(err)
	}
	ns.Finalizers = []string{"example.com/hold"}
	if err := tr.Update(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if err := tr.Delete(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("Reconcile while the namespace is being deleted: %v", err)
	}
	if tr.applied == nil {
		t.Fatal("no status written")
	}
	c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionControlPlaneReady)
	if c == nil || c.Reason != meshv1alpha1.ReasonNamespaceTerminating {
		t.Fatalf("ControlPlaneReady = %+v, want reason %s", c, meshv1alpha1.ReasonNamespaceTerminating)
	}
	if tr.applied.ObservedGeneration != mesh.Generation {
		t.Fatalf("observedGeneration = %d while the namespace is being deleted, want %d", tr.applied.ObservedGeneration, mesh.Generation)
	}

	row := walkthroughStatusRow(t, "observedGeneration")
	if !strings.Contains(row, meshv1alpha1.ReasonNamespaceTerminating) {
		t.Errorf("docs/walkthrough.md's observedGeneration row does not say that it moves while meshkeeper waits for the "+
			"control-plane namespace to be deleted (%s):\n%s", meshv1alpha1.ReasonNamespaceTerminating, row)
	}
}

// TestWalkthroughOutdatedNamesThePodsInjectedForTheCNIAgent: a pod injected for the CNI agent while
// istiod no longer injects for one counts as outdated (the OUTDATED column), although its revision,
// version and mesh config are current. docs/walkthrough.md's status table lists what outdated counts,
// so it must name these pods too.
func TestWalkthroughOutdatedNamesThePodsInjectedForTheCNIAgent(t *testing.T) {
	pod := &policy.ProxyPod{Phase: corev1.PodRunning, HasProxy: true, Injected: true, InjectedForCNI: true,
		ProxyImage: "docker.io/istio/proxyv2:1.31.1"}
	if got := policy.Proxy(policy.ProxyInput{Pod: pod, Version: "1.31.1", Revision: "default"}); got != policy.ProxyOutdated {
		t.Fatalf("a pod injected for the CNI agent, with the agent off, is %s, want %s", got, policy.ProxyOutdated)
	}
	row := walkthroughStatusRow(t, "proxies.total")
	if !strings.Contains(row, "CNI agent") {
		t.Errorf("docs/walkthrough.md's proxies row does not say that outdated counts pods injected for a CNI agent "+
			"istiod no longer injects for:\n%s", row)
	}
}
