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

package policy

import (
	"reflect"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestCompareFields: a spec covers meshkeeper's when every field meshkeeper sets holds its value; the
// fields beside them are named by path, at any depth; lists are compared whole.
func TestCompareFields(t *testing.T) {
	want := map[string]any{
		"egress":                []any{map[string]any{"hosts": []any{"./*", "pol-system/*"}}},
		"outboundTrafficPolicy": map[string]any{"mode": "ALLOW_ANY"},
	}
	for name, tc := range map[string]struct {
		have    map[string]any
		covered bool
		beside  []string
	}{
		"the same": {have: want, covered: true},
		"a workloadSelector and an egress proxy beside": {have: map[string]any{
			"egress":                want["egress"],
			"outboundTrafficPolicy": map[string]any{"mode": "ALLOW_ANY", "egressProxy": map[string]any{"host": "proxy.example.com"}},
			"workloadSelector":      map[string]any{"labels": map[string]any{"app": "checkout"}},
		}, covered: true, beside: []string{"spec.outboundTrafficPolicy.egressProxy", "spec.workloadSelector"}},
		"another mode": {have: map[string]any{
			"egress":                want["egress"],
			"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"},
		}},
		"a host more, in the list": {have: map[string]any{
			"egress":                []any{map[string]any{"hosts": []any{"./*", "pol-system/*", "shared/*"}}},
			"outboundTrafficPolicy": want["outboundTrafficPolicy"],
		}},
		"a field missing": {have: map[string]any{"egress": want["egress"]}},
	} {
		covered, beside := compareFields(tc.have, want, "spec")
		if covered != tc.covered || !reflect.DeepEqual(beside, tc.beside) {
			t.Errorf("%s: compareFields = (%t, %v), want (%t, %v)", name, covered, beside, tc.covered, tc.beside)
		}
	}
}

// TestFieldsBesideAreStale: an object known to hold meshkeeper's spec with someone else's fields beside
// it is stale for the status (not in place), though the controller has nothing to write to it.
func TestFieldsBesideAreStale(t *testing.T) {
	a := &AppliedSpecs{}
	gvk, key := render.SidecarKind, client.ObjectKey{Namespace: "shop", Name: render.PolicyName}
	current := &metav1.ObjectMeta{UID: "u1", Generation: 3}
	a.rememberBeside(gvk, key, current, "d1", []string{"spec.workloadSelector"})
	if same, known := a.matches(gvk, key, current, "d1"); same || !known {
		t.Errorf("matches = (same %t, known %t), want (false, true)", same, known)
	}
	if held, known := a.holding(gvk, key, current); !known || held.digest != "d1" {
		t.Errorf("holding = (%+v, %t), want digest d1, known", held, known)
	}
	a.remember(gvk, key, current, "d1")
	if same, known := a.matches(gvk, key, current, "d1"); !same || !known {
		t.Errorf("after the fields went: matches = (same %t, known %t), want (true, true)", same, known)
	}
}

// TestFieldsBesideWakeTheStatusPass: finding someone else's fields in meshkeeper's object, and finding
// them gone, changes nothing in the cluster, so no watch wakes the ServiceMesh's status pass; the
// AppliedSpecs wake it, with each change of those fields and with no other.
func TestFieldsBesideWakeTheStatusPass(t *testing.T) {
	a := &AppliedSpecs{}
	gvk, key := render.SidecarKind, client.ObjectKey{Namespace: "shop", Name: render.PolicyName}
	current := &metav1.ObjectMeta{UID: "u1", Generation: 3}
	// The Report wakes its sources whenever its value changes.
	step := func(what string, f func(), want uint64) {
		t.Helper()
		f()
		if wakes := a.altered.Value(); wakes != want {
			t.Errorf("%s: %d wake-up(s) in all, want %d", what, wakes, want)
		}
		if got := a.Altered(gvk, key, current); what == "fields found" && len(got) != 1 {
			t.Errorf("Altered after the fields were found = %v, want them", got)
		}
	}
	step("applied", func() { a.remember(gvk, key, current, "d1") }, 0)
	step("fields found", func() { a.rememberBeside(gvk, key, current, "d1", []string{"spec.workloadSelector"}) }, 1)
	step("the same fields again", func() { a.rememberBeside(gvk, key, current, "d1", []string{"spec.workloadSelector"}) }, 1)
	step("fields gone", func() { a.remember(gvk, key, current, "d1") }, 2)
	step("fields found again", func() { a.rememberBeside(gvk, key, current, "d1", []string{"spec.workloadSelector"}) }, 3)
	step("object forgotten", func() { a.forget(gvk, key) }, 4)
}
