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

package helm

import (
	"context"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// recordLists counts the lists of release records it serves, by label selector.
type recordLists struct {
	client.Reader
	mu     sync.Mutex
	counts map[string]int
}

func (r *recordLists) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	o := (&client.ListOptions{}).ApplyOptions(opts)
	if o.LabelSelector != nil {
		r.mu.Lock()
		if r.counts == nil {
			r.counts = map[string]int{}
		}
		r.counts[o.LabelSelector.String()]++
		r.mu.Unlock()
	}
	return r.Reader.List(ctx, list, opts...)
}

// of is how many lists of the records of release name were served, and resets the count.
func (r *recordLists) of(name string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := r.counts["name="+name+",owner=helm"]
	delete(r.counts, "name="+name+",owner=helm")
	return n
}

// TestASettledReleasesRecordsAreListedOnlyWhenTheyMayHaveChanged: release Secrets are not cached, and
// every reconcile of a ServiceMesh ensures each of its releases. An Ensure lists the release's records
// around the cache only when they may have changed since the last list: after a write of this chart
// manager's, after an Ensure that repaired drift (a helm rollback by hand changes the objects too),
// once the last list is RecordsRecheck old (a record deleted or forged by someone else), and once per
// process. A settled release's Ensures list none.
func TestASettledReleasesRecordsAreListedOnlyWhenTheyMayHaveChanged(t *testing.T) {
	_, c, ns := onAPIServer(t)
	lists := &recordLists{Reader: c}
	m := NewChartManager(apiServer.Get(t).Config, c, lists)
	desired := recordChart("settled")
	desired.Namespace = ns
	ensure := func(m *ChartManager, wantAction Action, wantLists int) {
		t.Helper()
		result, err := m.Ensure(t.Context(), desired)
		if err != nil {
			t.Fatal(err)
		}
		if result.Action != wantAction {
			t.Errorf("Ensure did %s, want %s", result.Action, wantAction)
		}
		if n := lists.of("settled"); n != wantLists {
			t.Errorf("the release's records were listed %d times, want %d", n, wantLists)
		}
	}
	settled := func(m *ChartManager) {
		t.Helper()
		for range 3 {
			ensure(m, ActionNone, 0)
		}
	}

	ensure(m, ActionInstalled, 1)
	// The install wrote the records: the next Ensure lists them, and the ones after it none.
	ensure(m, ActionNone, 1)
	settled(m)

	// An upgrade lists the records as they are now, and so does the Ensure after its writes.
	desired.Values = map[string]any{"data": "changed"}
	ensure(m, ActionUpgraded, 1)
	ensure(m, ActionNone, 1)
	settled(m)

	// An object of the release changed by hand is repaired from what was listed; the Ensure after it
	// lists the records again.
	configMap := &corev1.ConfigMap{}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "settled"}, configMap); err != nil {
		t.Fatal(err)
	}
	configMap.Data["value"] = "edited"
	if err := c.Update(t.Context(), configMap, client.FieldOwner("someone")); err != nil {
		t.Fatal(err)
	}
	ensure(m, ActionRepaired, 0)
	ensure(m, ActionNone, 1)
	settled(m)

	// Someone deletes the deployed revision's record: seen once the last list is RecordsRecheck old,
	// and the release is upgraded from the revision before it.
	deployed := &corev1.Secret{}
	deployed.Namespace, deployed.Name = ns, recordName("settled", 2)
	if err := c.Delete(t.Context(), deployed); err != nil {
		t.Fatal(err)
	}
	ensure(m, ActionNone, 0)
	m.mu.Lock()
	last, kept := m.listed[manifestKey(ns, "settled")]
	if kept {
		last.at = last.at.Add(-RecordsRecheck)
		m.listed[manifestKey(ns, "settled")] = last
	}
	m.mu.Unlock()
	if !kept {
		t.Fatal("the chart manager keeps nothing of the last list of the release's records")
	}
	ensure(m, ActionUpgraded, 1)
	ensure(m, ActionNone, 1)
	settled(m)

	// A manager started again has listed nothing: its first Ensure lists the records.
	restarted := NewChartManager(apiServer.Get(t).Config, c, lists)
	ensure(restarted, ActionNone, 1)
	settled(restarted)

	// An uninstall lists them as they are now, and so does the Ensure after it.
	if _, err := restarted.Uninstall(t.Context(), ns, "settled", desired.Owner); err != nil {
		t.Fatal(err)
	}
	if n := lists.of("settled"); n != 1 {
		t.Errorf("the uninstall listed the release's records %d times, want 1", n)
	}
	ensure(restarted, ActionInstalled, 1)
}
