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
	"errors"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

func withSpec(spec map[string]any) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
}

func TestSpecDigest(t *testing.T) {
	a, err := specDigest(withSpec(map[string]any{"mtls": map[string]any{"mode": "STRICT"}, "selector": nil}))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := specDigest(withSpec(map[string]any{"selector": nil, "mtls": map[string]any{"mode": "STRICT"}}))
	c, _ := specDigest(withSpec(map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}, "selector": nil}))
	if a != b {
		t.Error("equal specs have different digests")
	}
	if a == c {
		t.Error("different specs have the same digest")
	}
}

func TestAppliedSpecs(t *testing.T) {
	gvk := render.SidecarKind
	key := client.ObjectKey{Namespace: "shop", Name: render.PolicyName}
	meta := func(uid string, generation int64) *metav1.ObjectMeta {
		return &metav1.ObjectMeta{UID: types.UID(uid), Generation: generation}
	}
	var a AppliedSpecs
	if _, known := a.matches(gvk, key, meta("u1", 2), "d1"); known {
		t.Fatal("knows an object it never applied")
	}
	a.remember(gvk, key, meta("u1", 2), "d1")
	for name, tc := range map[string]struct {
		current     *metav1.ObjectMeta
		digest      string
		same, known bool
	}{
		"the applied spec, unchanged":            {meta("u1", 2), "d1", true, true},
		"another desired spec, object unchanged": {meta("u1", 2), "d2", false, true},
		"the object's spec changed since":        {meta("u1", 3), "d1", false, false},
		// The cache still holds the generation before meshkeeper's apply: no read around it.
		"the cache behind the apply":               {meta("u1", 1), "d1", true, true},
		"the cache behind, another spec":           {meta("u1", 1), "d2", false, true},
		"the object was deleted and created again": {meta("u2", 2), "d1", false, false},
	} {
		same, known := a.matches(gvk, key, tc.current, tc.digest)
		if same != tc.same || known != tc.known {
			t.Errorf("%s: matches = (same %t, known %t), want (%t, %t)", name, same, known, tc.same, tc.known)
		}
	}
	if _, known := a.matches(render.PeerAuthenticationKind, key, meta("u1", 2), "d1"); known {
		t.Error("knows the PeerAuthentication from the Sidecar's record")
	}
	a.forget(gvk, key)
	if _, known := a.matches(gvk, key, meta("u1", 2), "d1"); known {
		t.Error("knows an object it forgot")
	}
	// An answer without a generation (which the API server always sets) is not remembered.
	a.remember(gvk, key, meta("u1", 0), "d1")
	if _, known := a.matches(gvk, key, meta("u1", 0), "d1"); known {
		t.Error("remembered an object without a generation")
	}
}

// TestForgetNamespaceDropsWhatItRemembers: a namespace gone or being deleted leaves nothing behind in
// the reconciler's memory, of either kind, and nothing of any other namespace is dropped.
func TestForgetNamespaceDropsWhatItRemembers(t *testing.T) {
	r := &Reconciler{Applied: &AppliedSpecs{}}
	meta := &metav1.ObjectMeta{UID: "u1", Generation: 1}
	for _, ns := range []string{"gone", "kept"} {
		key := client.ObjectKey{Namespace: ns, Name: render.PolicyName}
		for _, gvk := range render.PolicyKinds {
			r.Applied.remember(gvk, key, meta, "d1")
			r.reported.Changed(conflictReportKey(gvk, ns), "conflict")
		}
		r.reported.Changed(annotationReportKey(ns), "malformed")
		r.refused.Failed(applyReportKey(render.SidecarKind, ns), "refused", errors.New("refused"))
	}
	r.forgetNamespace("gone")

	remembered := map[string]bool{}
	r.Applied.specs.Range(func(k, _ any) bool {
		key := k.(appliedKey)
		remembered[key.gvk.Kind+" "+key.key.Namespace] = true
		return true
	})
	want := map[string]bool{"PeerAuthentication kept": true, "Sidecar kept": true}
	if len(remembered) != len(want) || !remembered["PeerAuthentication kept"] || !remembered["Sidecar kept"] {
		t.Errorf("applied specs after forgetting namespace gone: %v, want %v", remembered, want)
	}
	// Changed says whether a report is new: true for what was forgotten, false for what is remembered.
	for _, ns := range []string{"gone", "kept"} {
		forgotten := ns == "gone"
		for _, gvk := range render.PolicyKinds {
			if got := r.reported.Changed(conflictReportKey(gvk, ns), "conflict"); got != forgotten {
				t.Errorf("the %s conflict of namespace %s forgotten: %t, want %t", gvk.Kind, ns, got, forgotten)
			}
		}
		if _, got := r.refused.Failed(applyReportKey(render.SidecarKind, ns), "refused", errors.New("refused")); got != forgotten {
			t.Errorf("the failed write of namespace %s forgotten: %t, want %t", ns, got, forgotten)
		}
		if got := r.reported.Changed(annotationReportKey(ns), "malformed"); got != forgotten {
			t.Errorf("the malformed annotation of namespace %s forgotten: %t, want %t", ns, got, forgotten)
		}
	}
}
