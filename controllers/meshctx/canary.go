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
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// CanaryRevision is the revision the canary namespaces of a RevisionBased mesh are moved to: the one
// the status reports as Canary once it is ready, so a namespace is moved only to an istiod that serves.
// "" when there is none.
func CanaryRevision(mesh *meshv1alpha1.ServiceMesh) string {
	if mesh == nil || mesh.Spec.UpdateStrategy.Type != meshv1alpha1.UpdateRevisionBased ||
		mesh.Spec.UpdateStrategy.Canary == nil || len(mesh.Spec.UpdateStrategy.Canary.Namespaces) == 0 {
		return ""
	}
	for _, r := range mesh.Status.Revisions {
		if r.State == meshv1alpha1.RevisionCanary && r.Ready {
			return r.Name
		}
	}
	return ""
}

// CanaryChanged passes a ServiceMesh update that changes the canary revision (a status change the
// namespaces' labels follow).
var CanaryChanged = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*meshv1alpha1.ServiceMesh)
		updated, newOK := e.ObjectNew.(*meshv1alpha1.ServiceMesh)
		return oldOK && newOK && CanaryRevision(old) != CanaryRevision(updated)
	},
}
