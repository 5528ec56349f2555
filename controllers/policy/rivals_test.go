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
	"maps"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestSelectsWorkloads: Istio applies a PeerAuthentication without selector labels, or a Sidecar
// without workloadSelector labels, to the whole namespace; each kind names its selector differently.
func TestSelectsWorkloads(t *testing.T) {
	tests := map[string]struct {
		sidecar bool
		spec    map[string]any
		want    bool
	}{
		"a PeerAuthentication without a selector":     {spec: map[string]any{"mtls": map[string]any{"mode": "PERMISSIVE"}}},
		"a PeerAuthentication with empty matchLabels": {spec: map[string]any{"selector": map[string]any{"matchLabels": map[string]any{}}}},
		"a PeerAuthentication with labels": {spec: map[string]any{"selector": map[string]any{"matchLabels": map[string]any{"app": "db"}}},
			want: true},
		"a PeerAuthentication with a Sidecar's selector field": {spec: map[string]any{"workloadSelector": map[string]any{"labels": map[string]any{"app": "db"}}}},
		"a Sidecar without a workloadSelector":                 {sidecar: true, spec: map[string]any{"egress": []any{}}},
		"a Sidecar with labels": {sidecar: true, spec: map[string]any{"workloadSelector": map[string]any{"labels": map[string]any{"app": "web"}}},
			want: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			gvk := render.PeerAuthenticationKind
			if tc.sidecar {
				gvk = render.SidecarKind
			}
			obj := &unstructured.Unstructured{Object: map[string]any{"spec": tc.spec}}
			if got := selectsWorkloads(gvk, obj); got != tc.want {
				t.Errorf("selectsWorkloads = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestForgetDropsDeletedObjects: what was found of an object is dropped once the object is no longer
// among those of its kind, and only for that kind; without it the verdicts of every object ever deleted
// stayed for the life of the process.
func TestForgetDropsDeletedObjects(t *testing.T) {
	r := NewRivals(nil)
	r.seen = map[types.UID]rivalVerdict{
		"kept":         {kind: render.PeerAuthenticationKind.Kind, resourceVersion: "1"},
		"deleted":      {kind: render.PeerAuthenticationKind.Kind, resourceVersion: "2", namespaceWide: true},
		"sidecar-kept": {kind: render.SidecarKind.Kind, resourceVersion: "3"},
	}
	r.Forget(render.PeerAuthenticationKind, []metav1.PartialObjectMetadata{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "mine", UID: "kept"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "new", UID: "never-read"}},
	})
	want := []types.UID{"kept", "sidecar-kept"}
	if got := slices.Sorted(maps.Keys(r.seen)); !slices.Equal(got, want) {
		t.Errorf("after Forget: %v, want %v", got, want)
	}
	r.Forget(render.SidecarKind, nil)
	if _, ok := r.seen["sidecar-kept"]; ok {
		t.Error("a Sidecar no longer listed is still remembered")
	}
	if _, ok := r.seen["kept"]; !ok {
		t.Error("forgetting Sidecars dropped a PeerAuthentication")
	}
}

// TestRivalsMessageSaysWhatHoldsARivalBeingDeleted: a rival being deleted is still in force (istiod
// applies it until it is gone); the message says so, naming at most a few of its finalizers, which
// anyone may add.
func TestRivalsMessageSaysWhatHoldsARivalBeingDeleted(t *testing.T) {
	now := metav1.Now()
	rivals := []*metav1.PartialObjectMetadata{
		{TypeMeta: metav1.TypeMeta{Kind: "PeerAuthentication"}, ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "legacy",
			DeletionTimestamp: &now, Finalizers: []string{"a.example/f", "b.example/f", "c.example/f", "d.example/f", "e.example/f"}}},
		{TypeMeta: metav1.TypeMeta{Kind: "PeerAuthentication"}, ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "team"}},
	}
	got := RivalsMessage(rivals)
	want := "PeerAuthentication shop/legacy (being deleted, held by its finalizers a.example/f, b.example/f, c.example/f and 2 more; " +
		"istiod applies it until it is gone), shop/team, not meshkeeper's, applies to the whole namespace"
	if !strings.HasPrefix(got, want) {
		t.Errorf("RivalsMessage = %q, want it to start with %q", got, want)
	}
}
