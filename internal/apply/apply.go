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

// Package apply is the one place meshkeeper writes to the API server outside the Helm chart manager:
// server-side apply under the field manager "meshkeeper", so a field meshkeeper stops setting is removed
// again and a field someone else owns is never silently taken over.
package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Status applies *status (a pointer to a status struct) as the whole status of obj through the status
// subresource. meshkeeper owns the status of its objects outright, so ownership is forced. The apply is
// conditional on obj's resource version: a status computed from an outdated read gets a conflict
// (apierrors.IsConflict) instead of overwriting a newer one. That resource version is also what keeps a
// status read from an object deleted since off one created again under its name: the API server checks
// no UID in an apply to the status subresource. It returns the object the API server answered.
func Status(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, obj client.Object, status any) (*unstructured.Unstructured, error) {
	key := client.ObjectKeyFromObject(obj)
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return nil, fmt.Errorf("converting status of %s %s: %w", gvk.Kind, key, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": content}}
	u.SetGroupVersionKind(gvk)
	u.SetName(key.Name)
	u.SetNamespace(key.Namespace)
	u.SetUID(obj.GetUID())
	u.SetResourceVersion(obj.GetResourceVersion())
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return nil, fmt.Errorf("applying status of %s %s: %w", gvk.Kind, key, err)
	}
	return u, nil
}

// Metadata applies exactly these labels and annotations of obj as meshkeeper's: what meshkeeper applied
// before and is not in them is removed, what others own is left alone, and a key another manager owns
// with another value is a conflict error (ownership is not forced). The apply names obj's UID, so it
// never creates an object that is gone. A nil map gives up every key of that field meshkeeper applied
// before, as an empty one does: all of meshkeeper's applies share one field manager, so an object whose
// labels and annotations meshkeeper both sets has them applied together.
func Metadata(ctx context.Context, c client.Client, obj client.Object, labels, annotations map[string]string) error {
	return applyAs(ctx, c, obj, "metadata", func(u *unstructured.Unstructured) {
		if labels != nil {
			u.SetLabels(labels)
		}
		if annotations != nil {
			u.SetAnnotations(annotations)
		}
	})
}

// PodTemplateMetadata applies exactly these labels and annotations of a workload's pod template
// (spec.template.metadata of a Deployment or DaemonSet) as meshkeeper's, with the semantics of Metadata:
// what meshkeeper applied before and is not in them is removed, others' keys are left alone, and the
// apply names obj's UID. Empty maps give up everything meshkeeper set there.
func PodTemplateMetadata(ctx context.Context, c client.Client, obj client.Object, labels, annotations map[string]string) error {
	return applyAs(ctx, c, obj, "pod template metadata", func(u *unstructured.Unstructured) {
		template := map[string]any{}
		if len(labels) > 0 {
			template["labels"] = toAny(labels)
		}
		if len(annotations) > 0 {
			template["annotations"] = toAny(annotations)
		}
		if len(template) > 0 {
			u.Object["spec"] = map[string]any{"template": map[string]any{"metadata": template}}
		}
	})
}

// applyAs applies, as meshkeeper's whole set on obj, what fill puts into an object that names only
// obj's kind, name, namespace and UID (so the apply never creates an object that is gone). Ownership is
// not forced: a field another manager owns with another value is a conflict error.
func applyAs(ctx context.Context, c client.Client, obj client.Object, what string, fill func(*unstructured.Unstructured)) error {
	gvk, err := c.GroupVersionKindFor(obj)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetName(obj.GetName())
	u.SetNamespace(obj.GetNamespace())
	u.SetUID(obj.GetUID())
	fill(u)
	if _, err := Object(ctx, c, u); err != nil {
		return fmt.Errorf("applying meshkeeper's %s of %s %s: %w", what, gvk.Kind, client.ObjectKeyFromObject(obj), err)
	}
	return nil
}

// Object applies obj server-side under the field manager meshkeeper (opts may name another, and force
// ownership) and returns the object's metadata as the API server answered: its resource version, UID,
// generation, labels and annotations, owners and finalizers.
//
// The apply goes through the metadata client, so the API server answers with the object's metadata
// alone (PartialObjectMetadata, in protobuf) rather than the whole object in JSON, which a caller that
// reads only those fields would decode for nothing: decoding the answers into maps was a tenth of the
// manager's CPU while a large cluster was enrolled, and an Istio CRD's answer is some 60 KB. What is
// applied is the same.
func Object(ctx context.Context, c client.Client, obj *unstructured.Unstructured, opts ...client.PatchOption) (*metav1.PartialObjectMetadata, error) {
	body, err := obj.MarshalJSON()
	if err != nil {
		return nil, fmt.Errorf("encoding %s %s: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err)
	}
	answer := &metav1.PartialObjectMetadata{}
	answer.SetGroupVersionKind(obj.GroupVersionKind())
	answer.SetName(obj.GetName())
	answer.SetNamespace(obj.GetNamespace())
	opts = append([]client.PatchOption{client.FieldOwner(meshv1alpha1.FieldManager)}, opts...)
	if err := c.Patch(ctx, answer, applyPatch(body), opts...); err != nil {
		return nil, err
	}
	return answer, nil
}

// applyPatch is a server-side apply of its bytes, whatever the object it is sent for (there, only its
// kind, namespace and name count).
type applyPatch []byte

func (p applyPatch) Type() types.PatchType              { return types.ApplyPatchType }
func (p applyPatch) Data(client.Object) ([]byte, error) { return p, nil }

func toAny(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// OwnedKeys returns the keys of metadata.labels (field "labels") or metadata.annotations ("annotations")
// that meshkeeper's field manager owns on obj, as recorded in its managed fields.
func OwnedKeys(obj metav1.Object, field string) sets.Set[string] {
	return ownedKeysAt(obj, onlyApply, "metadata", field)
}

// AppliedAt is the time of meshkeeper's apply of obj's fields, from its managed-fields entry (the API
// server moves it whenever a value meshkeeper owns changes); nil when meshkeeper applied none.
func AppliedAt(obj metav1.Object) *metav1.Time {
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager == meshv1alpha1.FieldManager && entry.Operation == metav1.ManagedFieldsOperationApply &&
			entry.Subresource == "" && entry.Time != nil {
			return entry.Time
		}
	}
	return nil
}

// WrittenKeys returns the keys of metadata.labels or metadata.annotations that meshkeeper's field
// manager set on obj by any operation, an apply or a create: the API server records who wrote each key,
// so a key someone else added under meshkeeper's name is not among them.
func WrittenKeys(obj metav1.Object, field string) sets.Set[string] {
	return ownedKeysAt(obj, anyOperation, "metadata", field)
}

// OthersKeys returns the keys of metadata.labels or metadata.annotations that some field manager other
// than meshkeeper's apply owns on obj too: another manager's, or an operation of meshkeeper's other than
// its apply. Such a key stays on obj when meshkeeper's apply leaves it out; only meshkeeper's share goes.
func OthersKeys(obj metav1.Object, field string) sets.Set[string] {
	return sets.KeySet(OthersKeysAt(obj, "metadata", field))
}

// OthersKeysAt returns the keys of the map at path (spec.template.metadata.labels of a workload) that
// a field manager other than meshkeeper's apply owns on obj, each with those managers' names, sorted:
// the object's owner (Helm, Argo CD, kubectl) as its managed fields record it. Nil when there is none.
func OthersKeysAt(obj metav1.Object, path ...string) map[string][]string {
	var found map[string][]string
	for _, entry := range obj.GetManagedFields() {
		if entry.Subresource != "" || entry.FieldsV1 == nil ||
			entry.Manager == meshv1alpha1.FieldManager && entry.Operation == metav1.ManagedFieldsOperationApply {
			continue
		}
		for _, key := range parsed.keys(entry.FieldsV1.GetRawBytes(), path) {
			if found == nil {
				found = map[string][]string{}
			}
			if !slices.Contains(found[key], entry.Manager) {
				found[key] = append(found[key], entry.Manager)
				slices.Sort(found[key])
			}
		}
	}
	return found
}

// OwnedDataKeys returns the keys of a ConfigMap's data that meshkeeper's field manager applied: a key
// someone else changed since is no longer among them.
func OwnedDataKeys(obj metav1.Object) sets.Set[string] {
	return ownedKeysAt(obj, onlyApply, "data")
}

// OwnedSpecKeys returns the fields of spec that meshkeeper's field manager applied on obj (a field
// someone else changed since, an autoscaler's replicas, is no longer among them).
func OwnedSpecKeys(obj metav1.Object) sets.Set[string] {
	return ownedKeysAt(obj, onlyApply, "spec")
}

// OwnedPodTemplateKeys returns the keys of spec.template.metadata.labels ("labels") or .annotations
// ("annotations") that meshkeeper's field manager owns on a workload (Deployment, DaemonSet).
func OwnedPodTemplateKeys(obj metav1.Object, field string) sets.Set[string] {
	return ownedKeysAt(obj, onlyApply, "spec", "template", "metadata", field)
}

// Which managed-fields entries of meshkeeper's field manager count.
const (
	onlyApply    = false
	anyOperation = true
)

// ownedKeysAt returns the keys of the map at path that meshkeeper applied (or, with anyOp, wrote by any
// operation), from obj's managed fields. Controllers and the status pass call this for thousands of
// objects, most of which hold the same entry (meshkeeper writes the same keys on every Ingress), so
// each entry's keys are parsed once and remembered by its content (parsedKeys).
func ownedKeysAt(obj metav1.Object, anyOp bool, path ...string) sets.Set[string] {
	owned := sets.New[string]()
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager != meshv1alpha1.FieldManager || (!anyOp && entry.Operation != metav1.ManagedFieldsOperationApply) ||
			entry.Subresource != "" || entry.FieldsV1 == nil {
			continue
		}
		owned.Insert(parsed.keys(entry.FieldsV1.GetRawBytes(), path)...)
	}
	return owned
}

// keysAt parses the keys of the map at path from a managed-fields entry's FieldsV1, decoding each level
// only as far as the path needs.
func keysAt(raw json.RawMessage, path []string) []string {
	fields := fieldsAt(raw, path)
	var keys []string
	for field := range fields {
		if name, ok := strings.CutPrefix(field, "f:"); ok {
			keys = append(keys, name)
		}
	}
	return keys
}

// fieldsAt returns the fields of the map at path in a managed-fields set (FieldsV1), by their names
// there ("f:<key>"); nil when there is none or the set cannot be read.
func fieldsAt(raw json.RawMessage, path []string) map[string]json.RawMessage {
	for _, name := range path {
		var level map[string]json.RawMessage
		if err := json.Unmarshal(raw, &level); err != nil {
			return nil
		}
		raw = level["f:"+name]
	}
	var fields map[string]json.RawMessage
	if len(raw) == 0 || json.Unmarshal(raw, &fields) != nil {
		return nil
	}
	return fields
}

// parsedKeys remembers keysAt's answers by path and FieldsV1 content. The answers are never handed out
// to be changed (ownedKeysAt copies them into a set of the caller's). It holds at most maxParsedKeys
// contents a path, and starts over when full: the contents meshkeeper writes are few. A content over
// maxParsedSize is parsed each time and not remembered: whoever may update an object may write its
// managed fields, entries of meshkeeper's name among them, up to the API server's limit on an object,
// and the memory would keep a copy of each.
type parsedKeys struct {
	mu     sync.RWMutex
	byPath map[fieldPath]map[string][]string
}

// fieldPath is a path of managed fields as a map key that costs no allocation: the paths ownedKeysAt
// reads have at most four elements.
type fieldPath [4]string

const maxParsedKeys = 1024

// maxParsedSize is the largest FieldsV1 parsedKeys remembers. meshkeeper's entries on the objects it
// labels and annotates by the thousand (Namespaces, Ingresses) are a few hundred bytes; the larger
// ones, of its applies of the charts' whole objects, are on a few objects and parsed again when read.
const maxParsedSize = 1 << 10

var parsed = &parsedKeys{byPath: map[fieldPath]map[string][]string{}}

func (p *parsedKeys) keys(raw []byte, path []string) []string {
	if len(path) > len(fieldPath{}) || len(raw) > maxParsedSize {
		return keysAt(raw, path) // no such path is read, or too large an entry: not remembered
	}
	var at fieldPath
	copy(at[:], path)
	p.mu.RLock()
	keys, ok := p.byPath[at][string(raw)]
	p.mu.RUnlock()
	if ok {
		return keys
	}
	keys = keysAt(raw, path)
	p.mu.Lock()
	defer p.mu.Unlock()
	contents := p.byPath[at]
	if contents == nil || len(contents) >= maxParsedKeys {
		contents = map[string][]string{}
		p.byPath[at] = contents
	}
	contents[string(raw)] = keys
	return keys
}

// KeysOnly is a managed-fields set (FieldsV1) cut down to the given keys of the map at path
// (metadata.annotations), in the same shape, so OwnedKeys, OthersKeys and OthersKeysAt read those keys
// from it as from the whole set; nil when it holds none of them (or cannot be read). Each key is kept as
// the API server records a key of a map of strings, {}, whatever the set held under it: the readers read
// the keys alone, and a set written by hand may hold anything there. A cache that keeps of managers'
// entries only the keys meshkeeper writes stores this instead of the whole entry.
func KeysOnly(raw []byte, keys []string, path ...string) []byte {
	return KeysOnlyAt(raw, keys, path)
}

// KeysOnlyAt is KeysOnly for the maps at several paths (a pod template's labels and annotations): the
// given keys of each, in one set.
func KeysOnlyAt(raw []byte, keys []string, paths ...[]string) []byte {
	var kept map[string]any
	for _, path := range paths {
		found := parsed.keys(raw, path)
		for _, key := range keys {
			if !slices.Contains(found, key) {
				continue
			}
			if kept == nil {
				kept = map[string]any{}
			}
			level := kept
			for _, name := range path {
				next, ok := level["f:"+name].(map[string]any)
				if !ok {
					next = map[string]any{}
					level["f:"+name] = next
				}
				level = next
			}
			level["f:"+key] = struct{}{}
		}
	}
	if kept == nil {
		return nil
	}
	out, err := json.Marshal(kept)
	if err != nil {
		return nil
	}
	return out
}
