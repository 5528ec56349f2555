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
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	meshpolicy "github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// MeshSidecars finds the mesh-wide default Sidecar, which meshkeeper's namespace Sidecars take the
// place of in every enrolled namespace (render.MeshSidecar): istiod takes, of the Sidecars without a
// workloadSelector in its root namespace, the oldest (then the first by name). The caches hold only
// the Sidecars' metadata: a Sidecar of the root namespace is read around the cache once per version of
// it, so the reconcile of every namespace costs a list from the cache. Safe for concurrent use; the
// policy controller and the status pass share one, so that both want the same Sidecars.
type MeshSidecars struct {
	// Reader reads the Sidecars whole (the manager's API reader).
	Reader client.Reader

	mu   sync.Mutex
	seen map[types.UID]meshSidecarVerdict
}

// meshSidecarVerdict is what one version of a Sidecar of the root namespace was found to be: nil when
// it has a workloadSelector.
type meshSidecarVerdict struct {
	resourceVersion string
	sidecar         *render.MeshSidecar
}

// NewMeshSidecars returns MeshSidecars that reads with reader.
func NewMeshSidecars(reader client.Reader) *MeshSidecars {
	return &MeshSidecars{Reader: reader, seen: map[types.UID]meshSidecarVerdict{}}
}

// Find returns the mesh-wide default Sidecar in force for mesh, listing the Sidecars of the root
// namespace from c's cache; nil when there is none, or when mesh does not scope Sidecars (meshkeeper
// then writes none to take its place). A Sidecar meshkeeper generated is none: meshkeeper writes no
// Sidecar in the control-plane namespace, which is never enrolled. One being deleted counts until it
// is gone, as istiod applies it until then. One labelled istio.io/rev for another revision than the
// serving one (SidecarRevision) is none: istiod reads only the configuration without that label or
// labelled for its own revision (a revision tag's name does not count).
func (m *MeshSidecars) Find(ctx context.Context, c client.Reader, mesh *meshv1alpha1.ServiceMesh) (*render.MeshSidecar, error) {
	if mesh == nil || !ptr.Deref(mesh.Spec.SidecarScoping.Enabled, false) {
		return nil, nil
	}
	namespace := render.RootNamespace(&mesh.Spec)
	revision := SidecarRevision(mesh)
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(render.SidecarKind.GroupVersion().WithKind(render.SidecarKind.Kind + "List"))
	if err := c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing the Sidecars of the root namespace %s: %w", namespace, err)
	}
	m.forget(list.Items)
	items := slices.Clone(list.Items)
	slices.SortFunc(items, func(a, b metav1.PartialObjectMetadata) int {
		if c := a.CreationTimestamp.Compare(b.CreationTimestamp.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.Name, b.Name)
	})
	for i := range items {
		item := &items[i]
		if meshctx.Generated(item, mesh) {
			continue
		}
		if rev, labelled := item.Labels[meshpolicy.LabelIstioRevision]; labelled && rev != revision {
			continue
		}
		sidecar, err := m.read(ctx, item)
		if err != nil {
			return nil, err
		}
		if sidecar != nil {
			return sidecar, nil
		}
	}
	return nil, nil
}

// SidecarRevision is the revision of the istiod whose view of the root namespace Find takes: the active
// revision (the one the default tag points at, status.activeRevision), or "default", the revision of an
// istiod installed without one (InPlace, and a switch to RevisionBased until the tag moves). During a
// canary the canary revision's istiod may see another mesh-wide Sidecar (one labelled for it alone);
// meshkeeper writes one Sidecar per namespace, which every revision reads, and carries the active
// revision's into all of them, the canary namespaces included: the canary's becomes the one carried
// when it is promoted and the tag moves to it.
func SidecarRevision(mesh *meshv1alpha1.ServiceMesh) string {
	if mesh == nil || mesh.Status.ActiveRevision == "" {
		return "default"
	}
	return mesh.Status.ActiveRevision
}

// read tells what a Sidecar of the root namespace is, from the version of it read last, or from the
// API server when that version is not the cache's.
func (m *MeshSidecars) read(ctx context.Context, item *metav1.PartialObjectMetadata) (*render.MeshSidecar, error) {
	m.mu.Lock()
	verdict, ok := m.seen[item.UID]
	m.mu.Unlock()
	if ok && verdict.resourceVersion == item.ResourceVersion {
		return verdict.sidecar, nil
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(render.SidecarKind)
	if err := m.Reader.Get(ctx, client.ObjectKey{Namespace: item.Namespace, Name: item.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Sidecar %s/%s: %w", item.Namespace, item.Name, err)
	}
	sidecar := render.ReadMeshSidecar(obj)
	m.mu.Lock()
	if m.seen == nil {
		m.seen = map[types.UID]meshSidecarVerdict{}
	}
	m.seen[obj.GetUID()] = meshSidecarVerdict{resourceVersion: obj.GetResourceVersion(), sidecar: sidecar}
	m.mu.Unlock()
	return sidecar, nil
}

// forget drops what was found of the Sidecars not among items, which are all the Sidecars of the root
// namespace the cache holds.
func (m *MeshSidecars) forget(items []metav1.PartialObjectMetadata) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for uid := range m.seen {
		if !slices.ContainsFunc(items, func(item metav1.PartialObjectMetadata) bool { return item.UID == uid }) {
			delete(m.seen, uid)
		}
	}
}

// meshSidecarEvent tells whether an event of a policy object may change the mesh-wide default Sidecar
// of mesh, which every namespace's Sidecar depends on: one of a Sidecar of the root namespace, not
// meshkeeper's, while mesh scopes Sidecars.
func meshSidecarEvent(obj *metav1.PartialObjectMetadata, mesh *meshv1alpha1.ServiceMesh) bool {
	return mesh != nil && ptr.Deref(mesh.Spec.SidecarScoping.Enabled, false) &&
		obj.GetObjectKind().GroupVersionKind().GroupKind() == render.SidecarKind.GroupKind() &&
		obj.Namespace == render.RootNamespace(&mesh.Spec) && !meshctx.Generated(obj, mesh)
}
