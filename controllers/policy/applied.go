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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// AppliedSpecs remembers, per policy object, which spec it had at which generation, as this process
// applied or read it. The API server raises an object's generation with every change of its spec, so
// while the cached metadata shows the same UID and generation, the spec is the remembered one: a
// reconcile then needs no read around the cache, whether the desired spec is the same or not. The
// policy controller writes it; the ServiceMesh's status pass reads it (Stale). The zero value is ready
// to use.
type AppliedSpecs struct {
	specs sync.Map // appliedKey → appliedSpec
	// alteredChanges counts the changes of what the objects hold beside meshkeeper's spec; altered
	// carries the count to the status pass, and wakes it with each change (Source).
	alteredChanges atomic.Uint64
	altered        meshctx.Report[uint64]
}

// Altered returns the spec fields the object whose metadata is current holds beside meshkeeper's spec,
// as the policy controller last found them (someone else's, which no apply of meshkeeper's removes);
// none when it found none, or does not know the object's current generation.
func (a *AppliedSpecs) Altered(gvk schema.GroupVersionKind, key client.ObjectKey, current metav1.Object) []string {
	spec, known := a.holding(gvk, key, current)
	if !known {
		return nil
	}
	return spec.beside
}

// Source wakes a controller (the ServiceMesh's status pass) whenever the fields found beside
// meshkeeper's spec in its objects change: finding them changes nothing in the cluster, so no watch
// would.
func (a *AppliedSpecs) Source() source.Source {
	return a.altered.Source()
}

// besideChanged tells the status pass that what an object holds beside meshkeeper's spec changed.
func (a *AppliedSpecs) besideChanged(before any, beside []string) {
	var was []string
	if before != nil {
		was = before.(appliedSpec).beside
	}
	if !slices.Equal(was, beside) {
		a.altered.Set(a.alteredChanges.Add(1))
	}
}

// Stale tells whether the object whose metadata is current is known to hold another spec than
// desired's: the policy controller has not yet written a changed spec, or its write keeps failing, or
// someone else set fields beside meshkeeper's that its apply cannot remove (reported as a conflict). An
// object this process has not applied or read since it started, or that changed since, is not known
// to be stale.
func (a *AppliedSpecs) Stale(gvk schema.GroupVersionKind, key client.ObjectKey, current metav1.Object, desired *unstructured.Unstructured) bool {
	digest, err := specDigest(desired)
	if err != nil {
		return true
	}
	same, known := a.matches(gvk, key, current, digest)
	return known && !same
}

type appliedKey struct {
	gvk schema.GroupVersionKind
	key client.ObjectKey
}

type appliedSpec struct {
	uid        types.UID
	generation int64
	digest     string
	// beside are the spec fields the object holds beyond the spec of digest (as "spec.a.b"): someone
	// else's, which meshkeeper's apply leaves, since server-side apply removes only the fields of the
	// manager that applies.
	beside []string
}

// matches tells whether the object whose metadata is current has the spec of digest; known is false
// when what is remembered does not describe current.
func (a *AppliedSpecs) matches(gvk schema.GroupVersionKind, key client.ObjectKey, current metav1.Object, digest string) (same, known bool) {
	v, ok := a.specs.Load(appliedKey{gvk, key})
	if !ok {
		return false, false
	}
	spec := v.(appliedSpec)
	// An older generation of the object meshkeeper applied is the cache not yet holding that apply: the
	// object has the applied spec, or a newer one the cache is yet to deliver (and whose event brings
	// the object back here). Only a newer generation, or another object, is a change not known here.
	if spec.uid != current.GetUID() || current.GetGeneration() > spec.generation || spec.generation == 0 {
		return false, false
	}
	return spec.digest == digest && len(spec.beside) == 0, true
}

// holding returns what is remembered of the object whose metadata is current; known is false when what
// is remembered does not describe current (see matches).
func (a *AppliedSpecs) holding(gvk schema.GroupVersionKind, key client.ObjectKey, current metav1.Object) (spec appliedSpec, known bool) {
	v, ok := a.specs.Load(appliedKey{gvk, key})
	if !ok {
		return appliedSpec{}, false
	}
	spec = v.(appliedSpec)
	if spec.uid != current.GetUID() || current.GetGeneration() > spec.generation || spec.generation == 0 {
		return appliedSpec{}, false
	}
	return spec, true
}

// remember records that obj, as the API server returned it, has the spec of digest.
func (a *AppliedSpecs) remember(gvk schema.GroupVersionKind, key client.ObjectKey, obj metav1.Object, digest string) {
	a.rememberBeside(gvk, key, obj, digest, nil)
}

// rememberBeside records that obj, as the API server returned it, has the spec of digest and, beside
// it, the fields beside (someone else's).
func (a *AppliedSpecs) rememberBeside(gvk schema.GroupVersionKind, key client.ObjectKey, obj metav1.Object, digest string, beside []string) {
	if obj.GetUID() == "" || obj.GetGeneration() == 0 {
		a.forget(gvk, key)
		return
	}
	before, _ := a.specs.Swap(appliedKey{gvk, key}, appliedSpec{uid: obj.GetUID(), generation: obj.GetGeneration(), digest: digest, beside: beside})
	a.besideChanged(before, beside)
}

func (a *AppliedSpecs) forget(gvk schema.GroupVersionKind, key client.ObjectKey) {
	before, _ := a.specs.LoadAndDelete(appliedKey{gvk, key})
	a.besideChanged(before, nil)
}

// specDigest is a digest of obj's spec. encoding/json writes map keys sorted, so equal specs have
// equal digests.
func specDigest(obj *unstructured.Unstructured) (string, error) {
	data, err := json.Marshal(obj.Object["spec"])
	if err != nil {
		return "", fmt.Errorf("encoding the spec of %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}
