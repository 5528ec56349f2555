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

package helm

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// ownedBy tells whether obj names owner among its owner references.
func ownedBy(obj metav1.Object, owner string) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == types.UID(owner) {
			return true
		}
	}
	return false
}

// appliedBy tells whether the release name of namespace applied obj last, as the ownership metadata
// every release stamps on what it applies says (setHelmOwnership).
func appliedBy(obj metav1.Object, name, namespace string) bool {
	annotations := obj.GetAnnotations()
	return annotations[releaseNameAnnotation] == name && annotations[releaseNamespaceAnnotation] == namespace
}

// orphaned tells whether obj, an object of the release name of namespace that the owner does not own,
// was orphaned: meshkeeper applied it for that release (its apply wrote meshkeeper's label, and the
// release's ownership metadata names the release), and no object of the owner's kind owns it any more.
// The garbage collector takes the owner references off what a ServiceMesh deleted with orphan
// propagation owns, which the deletion asks to keep. Anything else is someone else's and stays, but
// is no reason to keep the release: an object a forged record lists (even one with Helm's marks of the
// release, which anyone who may write it can set), or one of an earlier ServiceMesh of the name, which
// the garbage collector deletes with it.
func orphaned(obj metav1.Object, owner Owner, name, namespace string) bool {
	if !appliedBy(obj, name, namespace) || !apply.OwnedKeys(obj, "labels").Has(ManagedByLabel) {
		return false
	}
	kind := schema.FromAPIVersionAndKind(owner.APIVersion, owner.Kind).GroupKind()
	for _, ref := range obj.GetOwnerReferences() {
		if schema.FromAPIVersionAndKind(ref.APIVersion, ref.Kind).GroupKind() == kind {
			return false
		}
	}
	return true
}
