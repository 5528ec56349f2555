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
	"k8s.io/apimachinery/pkg/types"
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
