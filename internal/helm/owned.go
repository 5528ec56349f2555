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
	"fmt"
	"log/slog"

	"helm.sh/helm/v4/pkg/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// ownedDeletes is Helm's Kubernetes client with its deletes limited to the objects that carry an owner
// reference to owner, read fresh from the API server. The rest of the client is Helm's own.
type ownedDeletes struct {
	kube.Interface
	owner  types.UID
	logger *slog.Logger
}

// Delete deletes the objects of resources the owner owns; one that is gone already is left out, one
// that is not the owner's is left as it is and logged.
func (c *ownedDeletes) Delete(resources kube.ResourceList, policy metav1.DeletionPropagation) (*kube.Result, []error) {
	var owned kube.ResourceList
	for _, info := range resources {
		if err := info.Get(); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return nil, []error{fmt.Errorf("reading %s %s before deleting it: %w", info.Mapping.GroupVersionKind.Kind, info.ObjectName(), err)}
		}
		obj, err := meta.Accessor(info.Object)
		if err != nil {
			return nil, []error{fmt.Errorf("reading %s %s before deleting it: %w", info.Mapping.GroupVersionKind.Kind, info.ObjectName(), err)}
		}
		if !ownedBy(obj, c.owner) {
			c.logger.Warn("Not deleting an object of the release that the ServiceMesh does not own",
				"kind", info.Mapping.GroupVersionKind.Kind, "namespace", info.Namespace, "name", info.Name)
			continue
		}
		owned = append(owned, info)
	}
	if len(owned) == 0 {
		return &kube.Result{}, nil
	}
	return c.Interface.Delete(owned, policy)
}

// ownedBy tells whether obj names owner among its owner references.
func ownedBy(obj metav1.Object, owner types.UID) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == owner {
			return true
		}
	}
	return false
}
