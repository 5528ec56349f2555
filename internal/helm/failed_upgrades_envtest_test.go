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
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// blockedRelease is the release in namespace of a chart of an immutable ConfigMap "blocker" whose data
// is the value "attempt", and, when the value "extra" is set, of the ConfigMap "extra". Once installed,
// an upgrade with another attempt fails when the API server refuses the change to blocker, after it
// applied extra (applied beside blocker, not after it).
func blockedRelease(namespace string) Release {
	return attackRelease(namespace, attackChart("blocked", `apiVersion: v1
kind: ConfigMap
metadata: {name: blocker}
immutable: true
data: {attempt: {{ .Values.attempt | quote }}}
{{- if .Values.extra }}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: extra}
{{- end }}
`))
}

// failUpgradesAfterExtra installs release, then runs a failed upgrade that applies the ConfigMap
// "extra", then more failed upgrades without it than the release keeps records, as the retries of an
// upgrade whose cause of failure persists after the change that added extra was reverted.
func failUpgradesAfterExtra(t *testing.T, m *ChartManager, c client.Client, release Release) {
	t.Helper()
	release.Values = map[string]any{"attempt": "1"}
	ensureAll(t, m, release)
	for attempt := 2; attempt <= 2+maxHistory; attempt++ {
		release.Values = map[string]any{"attempt": strconv.Itoa(attempt), "extra": attempt == 2}
		if _, err := m.Ensure(t.Context(), release); err == nil {
			t.Fatalf("upgrade %d with another immutable ConfigMap succeeded, want it refused", attempt)
		}
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: release.Namespace, Name: "extra"}, &corev1.ConfigMap{}); err != nil {
		t.Fatalf("the ConfigMap the first failed upgrade applied: %v, want it applied", err)
	}
}

// expectExtraGone fails unless the ConfigMap "extra" of namespace is gone.
func expectExtraGone(t *testing.T, c client.Client, namespace, after string) {
	t.Helper()
	err := c.Get(t.Context(), client.ObjectKey{Namespace: namespace, Name: "extra"}, &corev1.ConfigMap{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap only a failed upgrade rendered, after %s: %v, want it deleted", after, err)
	}
}

// TestAFailedUpgradesObjectOutlivesNoHistoryPruning: an object that only a failed upgrade rendered (an
// autoscaler an upgrade applied before it failed, the change then reverted) is deleted by the next
// upgrade that succeeds, as helm upgrade --cleanup-on-fail would, even when the failed upgrades that
// followed (each retry is a revision) outnumbered the records the release keeps. The oldest records are
// pruned first, so the failed revision's record, the one that listed the object, used to go, and the
// object was left for good, scaling istiod against the replicas drift repair restores. A record such an
// object needs is kept until that object is deleted, and pruned after.
func TestAFailedUpgradesObjectOutlivesNoHistoryPruning(t *testing.T) {
	m, c, ns := onAPIServer(t)
	release := blockedRelease(ns)
	failUpgradesAfterExtra(t, m, c, release)

	release.Values = map[string]any{"attempt": "1", "fixed": true}
	if results := ensureAll(t, m, release); results[0].Action != ActionUpgraded {
		t.Fatalf("the upgrade once the cause of the failures is gone = %+v, want an upgrade", results[0])
	}
	expectExtraGone(t, c, ns, "the upgrade that succeeded")

	for attempt := range maxHistory {
		release.Values = map[string]any{"attempt": "1", "fixed": attempt}
		ensureAll(t, m, release)
	}
	heads, err := m.heads(t.Context(), ns, release.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) > maxHistory {
		t.Errorf("after %d more upgrades the release keeps %d records (%v), want at most %d",
			maxHistory, len(heads), heads, maxHistory)
	}
}

// TestAnUninstallAfterFailedUpgradesLeavesNothing: an uninstall deletes the objects of the deployed
// revision and those of the failed upgrades after it, which applied some of theirs before they failed.
// It used to delete only those of the newest record, a failed upgrade's that lacked one an earlier
// failed upgrade had applied.
func TestAnUninstallAfterFailedUpgradesLeavesNothing(t *testing.T) {
	m, c, ns := onAPIServer(t)
	release := blockedRelease(ns)
	failUpgradesAfterExtra(t, m, c, release)

	if _, err := m.Uninstall(t.Context(), ns, release.Name, release.Owner); err != nil {
		t.Fatal(err)
	}
	expectExtraGone(t, c, ns, "the uninstall")
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "blocker"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the deployed revision's ConfigMap after the uninstall: %v, want it deleted", err)
	}
}
