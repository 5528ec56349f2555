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
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// CanaryRevision is the revision the canary namespaces of a RevisionBased mesh are moved to: the one
// the status reports as Canary once it is ready, so a namespace is moved only to an istiod that serves,
// and kept there while pods run its proxies (revision.Serves).
// "" when there is none, or when the status records that meshkeeper rolled that canary back
// (status.canaryRollback): the canary namespaces are then served by the active revision.
func CanaryRevision(mesh *meshv1alpha1.ServiceMesh) string {
	rev := CanaryTarget(mesh)
	if rb := RecordedRollback(mesh); rb != nil && rb.Revision == rev {
		return ""
	}
	return rev
}

// RecordedRollback is the canary rollback the status records; nil when none. It is in force for as long
// as the status records it, even under a newer spec: the status pass removes it in the same write that
// reports the revisions of the new spec, so the canary namespaces never move on a status that lags the
// spec.
func RecordedRollback(mesh *meshv1alpha1.ServiceMesh) *meshv1alpha1.CanaryRollbackStatus {
	if mesh == nil || mesh.Status.CanaryRollback == nil || mesh.Status.CanaryRollback.Revision == "" {
		return nil
	}
	return mesh.Status.CanaryRollback
}

// CanaryTarget is the revision the canary namespaces are moved to when no rollback holds: the revision
// the status reports as Canary, once ready or while it serves pods (revision.Serves), while the spec
// lists canary namespaces. "" when there is none.
func CanaryTarget(mesh *meshv1alpha1.ServiceMesh) string {
	if mesh == nil || mesh.Spec.UpdateStrategy.Type != meshv1alpha1.UpdateRevisionBased ||
		mesh.Spec.UpdateStrategy.Canary == nil || len(mesh.Spec.UpdateStrategy.Canary.Namespaces) == 0 {
		return ""
	}
	for _, r := range mesh.Status.Revisions {
		if r.State == meshv1alpha1.RevisionCanary && revision.Serves(r.Ready, r.Proxies) {
			return r.Name
		}
	}
	return ""
}

// PromotedCanary is the canary revision the spec ended (updateStrategy.canary lists no namespace any
// more) while the default tag does not point at it yet: the status still reports it Canary, serving,
// and status.activeRevision is another. Removing the canary promotes it, and the tag moves to it once it
// is ready; the namespaces meshkeeper labelled for it keep that label until the status reports the tag
// there, or their new pods would get the sidecar of the revision the tag leaves in between, and
// restarts would take their workloads there and back. "" when there is none, or when meshkeeper rolled
// that canary back (status.canaryRollback). A spec that sets the version back as well keeps them there
// only until its status pass reports that revision Draining.
func PromotedCanary(mesh *meshv1alpha1.ServiceMesh) string {
	if mesh == nil || mesh.Spec.UpdateStrategy.Type != meshv1alpha1.UpdateRevisionBased ||
		mesh.Spec.UpdateStrategy.Canary != nil && len(mesh.Spec.UpdateStrategy.Canary.Namespaces) > 0 {
		return ""
	}
	for _, r := range mesh.Status.Revisions {
		if r.State == meshv1alpha1.RevisionCanary && revision.Serves(r.Ready, r.Proxies) && r.Name != mesh.Status.ActiveRevision {
			if rb := RecordedRollback(mesh); rb != nil && rb.Revision == r.Name {
				return ""
			}
			return r.Name
		}
	}
	return ""
}

// CanaryRollback returns the canary rollback that holds for the spec as it is, as the status pass
// records it: the one the status records, or else the one reported (by the restarts, before the status
// records it), if it was made under the current generation of the spec. Any change of the spec ends a
// rollback. nil when none holds.
func CanaryRollback(mesh *meshv1alpha1.ServiceMesh, reported *meshv1alpha1.CanaryRollbackStatus) *meshv1alpha1.CanaryRollbackStatus {
	if mesh == nil {
		return nil
	}
	for _, rb := range []*meshv1alpha1.CanaryRollbackStatus{mesh.Status.CanaryRollback, reported} {
		if rb != nil && rb.Revision != "" && rb.ObservedGeneration == mesh.Generation {
			return rb
		}
	}
	return nil
}

// CanaryChanged passes a ServiceMesh update that changes the canary revision or the promoted canary (a
// status change the namespaces' labels follow).
var CanaryChanged = predicate.Or[client.Object](changedBy(CanaryRevision), changedBy(PromotedCanary))

// changedBy passes only the ServiceMesh updates that change what of returns (something read from the
// status as well as the spec); no create, delete or generic event.
func changedBy[T comparable](of func(*meshv1alpha1.ServiceMesh) T) predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, oldOK := e.ObjectOld.(*meshv1alpha1.ServiceMesh)
			updated, newOK := e.ObjectNew.(*meshv1alpha1.ServiceMesh)
			return oldOK && newOK && of(old) != of(updated)
		},
	}
}
