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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// MeshConfigSince returns when meshkeeper last changed the mesh config ConfigMap name in namespace:
// the time of its entry in the ConfigMap's managed fields, which the API server moves whenever a value
// meshkeeper owns changes. The status pass and the restarts judge pods against it alike. Zero when
// there is no mesh config yet, as in a namespace the installer did not allow (policy), where
// meshkeeper cannot have written one and which the manager's cache does not hold.
func MeshConfigSince(ctx context.Context, reader client.Reader, policy charts.Policy, namespace, name string) (metav1.Time, error) {
	if policy.CheckNamespace(namespace, "spec.namespace") != nil {
		return metav1.Time{}, nil
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm, client.UnsafeDisableDeepCopy); err != nil {
		return metav1.Time{}, client.IgnoreNotFound(err)
	}
	for _, entry := range cm.ManagedFields {
		if entry.Manager == meshv1alpha1.FieldManager && entry.Operation == metav1.ManagedFieldsOperationApply &&
			entry.Subresource == "" && entry.Time != nil {
			return *entry.Time, nil
		}
	}
	return metav1.Time{}, nil
}
