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

package meshctx

import (
	"context"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// Request is the reconcile request of the one ServiceMesh.
var Request = reconcile.Request{NamespacedName: client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}}

// Get returns the ServiceMesh, or nil when there is none, to read only: from the manager's cache it
// shares the cached object's maps and slices, where a copy would cost every reconcile of every
// Namespace and Ingress a deep copy of the ServiceMesh (120 MB of allocations at 1,000 namespaces and
// 5,000 Ingresses). A caller that changes the ServiceMesh it read uses GetCopy.
func Get(ctx context.Context, c client.Reader) (*meshv1alpha1.ServiceMesh, error) {
	return get(ctx, c, client.UnsafeDisableDeepCopy)
}

// GetCopy returns a copy of the ServiceMesh of its own, or nil when there is none.
func GetCopy(ctx context.Context, c client.Reader) (*meshv1alpha1.ServiceMesh, error) {
	return get(ctx, c)
}

func get(ctx context.Context, c client.Reader, opts ...client.GetOption) (*meshv1alpha1.ServiceMesh, error) {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := c.Get(ctx, Request.NamespacedName, mesh, opts...); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return mesh, nil
}

// Live tells whether a ServiceMesh asks for a mesh: it exists and is not being deleted. A ServiceMesh
// being deleted has every controller give back what meshkeeper wrote, unless Kept.
func Live(mesh *meshv1alpha1.ServiceMesh) bool {
	return mesh != nil && mesh.DeletionTimestamp.IsZero()
}

// Kept tells whether what meshkeeper wrote on users' objects (injection labels, Ingress annotations,
// the ingress-nginx controller's sidecar settings, policy objects) stays as it is, with no controller
// writing or taking back any of it: there is no ServiceMesh, or it is being deleted with orphan
// propagation (kubectl delete --cascade=orphan, Argo CD's PrunePropagationPolicy=orphan), which asks to
// keep the control plane running. Taking the labels back from a control plane kept running would
// restart workloads without sidecars beside meshed ones, and deleting its PeerAuthentications would
// leave STRICT clients and plaintext servers apart. A ServiceMesh deleted otherwise has its uninstall
// (and the controllers meanwhile) take it all back before it goes, so none is left to keep once it is
// gone; a ServiceMesh created again takes over what was kept.
func Kept(mesh *meshv1alpha1.ServiceMesh) bool {
	return mesh == nil || !mesh.DeletionTimestamp.IsZero() && slices.Contains(mesh.Finalizers, metav1.FinalizerOrphanDependents)
}

// Orphaned tells whether meshkeeper generated obj whole for a ServiceMesh that no longer owns it: labelled
// as meshkeeper's, its label applied by meshkeeper's field manager, and with no owner reference to any
// ServiceMesh, which the garbage collector took off for a deletion with orphan propagation. A label
// anyone can set does not make an object meshkeeper's, and an object of another ServiceMesh's is not
// orphaned.
func Orphaned(obj metav1.Object) bool {
	return IsManaged(obj) && !OwnedByServiceMesh(obj, nil) && apply.OwnedKeys(obj, "labels").Has(meshv1alpha1.ManagedByLabel)
}

// Related is the ServiceMesh as an Event's related object: nil when there is none (a nil
// *ServiceMesh in the interface would not be).
func Related(mesh *meshv1alpha1.ServiceMesh) runtime.Object {
	if mesh == nil {
		return nil
	}
	return mesh
}

// ManagedBySelector selects the objects meshkeeper labelled as its own: what its charts rendered and
// the policies it generated.
var ManagedBySelector = labels.SelectorFromSet(labels.Set{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue})

// IsManaged tells whether meshkeeper labelled obj as its own. Only what meshkeeper writes whole carries
// the label; since anyone could set it, it selects what to look at, and an owner reference to the
// ServiceMesh's UID decides what meshkeeper trusts.
func IsManaged(obj metav1.Object) bool {
	return ManagedBySelector.Matches(labels.Set(obj.GetLabels()))
}

// OwnsExactly tells whether meshkeeper already owns exactly the keys of want, with want's values, in
// current (an object's labels or annotations, whose owned keys are owned).
func OwnsExactly(current map[string]string, owned sets.Set[string], want map[string]string) bool {
	if !owned.Equal(sets.KeySet(want)) {
		return false
	}
	for key, value := range want {
		if current[key] != value {
			return false
		}
	}
	return true
}

// Generated tells whether obj is an object meshkeeper generated whole for this ServiceMesh, or for an
// earlier one of the same name that is gone: labelled as meshkeeper's (the label selects, but anyone could
// set it), owned through an owner reference by the ServiceMesh (this one by UID; or, for an earlier one,
// one named as this one with another UID, or any when there is none now), and applied by meshkeeper's
// field manager. A user's object that only carries the label is the user's. An earlier ServiceMesh's
// object is one its uninstall raced with, which the garbage collector would remove.
func Generated(obj metav1.Object, mesh *meshv1alpha1.ServiceMesh) bool {
	if !IsManaged(obj) || !appliedByMeshkeeper(obj) {
		return false
	}
	return OwnedByServiceMesh(obj, mesh)
}

// OwnedByServiceMesh tells whether an owner reference of obj names the ServiceMesh, by UID, or an
// earlier one of its name (any one when mesh is nil).
func OwnedByServiceMesh(obj metav1.Object, mesh *meshv1alpha1.ServiceMesh) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.Kind != "ServiceMesh" || ref.APIVersion != meshv1alpha1.GroupVersion.String() {
			continue
		}
		if mesh == nil || ref.UID == mesh.UID || ref.Name == mesh.Name {
			return true
		}
	}
	return false
}

// appliedByMeshkeeper tells whether meshkeeper's field manager applied fields of obj.
func appliedByMeshkeeper(obj metav1.Object) bool {
	for _, entry := range obj.GetManagedFields() {
		if entry.Manager == meshv1alpha1.FieldManager && entry.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

// OwnedBy tells whether obj names the ServiceMesh (by UID) among its owner references.
func OwnedBy(obj metav1.Object, mesh *meshv1alpha1.ServiceMesh) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == mesh.UID {
			return true
		}
	}
	return false
}
