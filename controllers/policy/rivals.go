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
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	meshpolicy "github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// Rivals finds someone else's policy objects that apply to a whole namespace, as meshkeeper's object
// "default" of the same kind does: a PeerAuthentication without a selector (in the control-plane
// namespace, a mesh-wide one), a Sidecar without a workloadSelector. Istio uses only the oldest
// namespace-wide PeerAuthentication, and leaves undefined which of several namespace-wide Sidecars
// applies, so meshkeeper's object there would be in force or not by age alone. The caches hold only
// the policies' metadata: an object's spec is read around the cache once per version of it. Safe for
// concurrent use; the policy controller and the status pass share one.
//
// Only objects an istiod of the mesh reads are rivals: istiod reads only the configuration without an
// istio.io/rev label or labelled for its own revision (ConfigRevisions); one labelled for another
// revision, or for a revision tag's name, is in force for none of the mesh's istiods.
type Rivals struct {
	// Reader reads the objects whole (the manager's API reader).
	Reader client.Reader

	mu   sync.Mutex
	seen map[types.UID]rivalVerdict
}

// rivalVerdict is what one version of an object was found to be.
type rivalVerdict struct {
	kind            string
	resourceVersion string
	namespaceWide   bool
}

// NewRivals returns Rivals that reads with reader.
func NewRivals(reader client.Reader) *Rivals {
	return &Rivals{Reader: reader, seen: map[types.UID]rivalVerdict{}}
}

// Find returns the objects among items (cached metadata of one kind in one namespace) that
// are not meshkeeper's, apply to the whole namespace and are read by an istiod of mesh (labelled
// istio.io/rev for none of ConfigRevisions). An object meshkeeper generated for mesh, and one named
// "default" (a conflict by name, reported as such), never count. One being deleted counts until it is
// gone: istiod applies it until then, and a finalizer may hold it for long.
func (r *Rivals) Find(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, gvk schema.GroupVersionKind,
	items []metav1.PartialObjectMetadata) ([]*metav1.PartialObjectMetadata, error) {
	var found []*metav1.PartialObjectMetadata
	revisions := ConfigRevisions(mesh)
	for i := range items {
		item := &items[i]
		if item.Name == render.PolicyName || meshctx.Generated(item, mesh) {
			continue
		}
		if rev, labelled := item.Labels[meshpolicy.LabelIstioRevision]; labelled && !revisions.Has(rev) {
			continue
		}
		wide, err := r.namespaceWide(ctx, gvk, item)
		if err != nil {
			return nil, err
		}
		if wide {
			found = append(found, item)
		}
	}
	return found, nil
}

// ConfigRevisions are the revisions of the istiods of mesh that read the configuration of the cluster:
// the active one (SidecarRevision; "default" for an istiod installed without a revision) and every
// revision the status lists as installed, the canary and the draining ones too, whose istiods still
// serve the proxies they injected. istiod reads an object without an istio.io/rev label, or labelled
// with its own revision's name; a revision tag's name is not one (a tag selects the injector only).
func ConfigRevisions(mesh *meshv1alpha1.ServiceMesh) sets.Set[string] {
	revisions := sets.New(SidecarRevision(mesh))
	if mesh == nil {
		return revisions
	}
	for _, st := range mesh.Status.Revisions {
		if st.Name != "" {
			revisions.Insert(st.Name)
		}
	}
	return revisions
}

// namespaceWide tells whether the object applies to its whole namespace, from the version of it read
// last, or from the API server when that version is not the cache's.
func (r *Rivals) namespaceWide(ctx context.Context, gvk schema.GroupVersionKind, item *metav1.PartialObjectMetadata) (bool, error) {
	r.mu.Lock()
	verdict, ok := r.seen[item.UID]
	r.mu.Unlock()
	if ok && verdict.resourceVersion == item.ResourceVersion {
		return verdict.namespaceWide, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(gvk)
	if err := r.Reader.Get(ctx, client.ObjectKey{Namespace: item.Namespace, Name: item.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s %s/%s: %w", gvk.Kind, item.Namespace, item.Name, err)
	}
	wide := !selectsWorkloads(gvk, obj)
	r.mu.Lock()
	if r.seen == nil {
		r.seen = map[types.UID]rivalVerdict{}
	}
	r.seen[obj.GetUID()] = rivalVerdict{kind: gvk.Kind, resourceVersion: obj.GetResourceVersion(), namespaceWide: wide}
	r.mu.Unlock()
	return wide, nil
}

// Forget drops what was found of the objects of gvk's kind that are not among items, which are all the
// objects of that kind the cache holds: without it, what was found of every object ever deleted would
// stay for the life of the process. An object read since items were listed may be dropped too; it is
// read again when next looked at.
func (r *Rivals) Forget(gvk schema.GroupVersionKind, items []metav1.PartialObjectMetadata) {
	present := make(map[types.UID]struct{}, len(items))
	for i := range items {
		present[items[i].UID] = struct{}{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for uid, verdict := range r.seen {
		if _, ok := present[uid]; !ok && verdict.kind == gvk.Kind {
			delete(r.seen, uid)
		}
	}
}

// selectsWorkloads tells whether a policy object names the workloads it applies to: Istio applies one
// whose selector has no labels to the whole namespace.
func selectsWorkloads(gvk schema.GroupVersionKind, obj *unstructured.Unstructured) bool {
	path := []string{"spec", "selector", "matchLabels"}
	if gvk.Kind == render.SidecarKind.Kind {
		path = []string{"spec", "workloadSelector", "labels"}
	}
	labels, _, _ := unstructured.NestedMap(obj.Object, path...)
	return len(labels) > 0
}

// RivalsMessage explains why meshkeeper writes no object of its own where rivals (of one kind, in one
// namespace) apply to the whole namespace.
func RivalsMessage(rivals []*metav1.PartialObjectMetadata) string {
	first := rivals[0]
	var names string
	for i, r := range rivals {
		if i > 0 {
			names += ", "
		}
		names += r.Namespace + "/" + r.Name
		if !r.DeletionTimestamp.IsZero() {
			names += fmt.Sprintf(" (being deleted, held by its finalizers %s; istiod applies it until it is gone)", meshctx.Names(r.Finalizers, 3))
		}
	}
	return fmt.Sprintf("%s %s, not meshkeeper's, applies to the whole namespace, as meshkeeper's %s %s/%s would; Istio uses only one "+
		"such %s (the oldest), so meshkeeper writes and changes none of its own there. Give yours a selector, or delete it, to let "+
		"meshkeeper manage the namespace's %s", first.Kind, names, first.Kind, first.Namespace, render.PolicyName, first.Kind, first.Kind)
}
