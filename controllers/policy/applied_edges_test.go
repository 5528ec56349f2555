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
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/render"
)

// Stale claims an object holds another spec only when what this process applied describes it: an
// object it never applied, or one changed since, is not known to be stale.
func TestAppliedSpecsStale(t *testing.T) {
	gvk := render.SidecarKind
	key := client.ObjectKey{Namespace: "shop", Name: render.PolicyName}
	desired := withSpec(map[string]any{"outboundTrafficPolicy": map[string]any{"mode": "REGISTRY_ONLY"}})
	applied := withSpec(map[string]any{"outboundTrafficPolicy": map[string]any{"mode": "ALLOW_ANY"}})
	digest, err := specDigest(applied)
	if err != nil {
		t.Fatal(err)
	}
	var a AppliedSpecs
	if a.Stale(gvk, key, &metav1.ObjectMeta{UID: "u1", Generation: 2}, desired) {
		t.Error("an object never applied is stale")
	}
	a.remember(gvk, key, &metav1.ObjectMeta{UID: "u1", Generation: 2}, digest)
	if !a.Stale(gvk, key, &metav1.ObjectMeta{UID: "u1", Generation: 2}, desired) {
		t.Error("the object as applied, with another spec desired, is not stale")
	}
	if a.Stale(gvk, key, &metav1.ObjectMeta{UID: "u1", Generation: 3}, desired) {
		t.Error("an object changed since it was applied is stale")
	}
}
