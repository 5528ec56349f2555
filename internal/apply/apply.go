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
	"fmt"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Status applies *status (a pointer to a status struct) as the whole status of obj through the status
// subresource. meshkeeper owns the status of its objects outright, so ownership is forced. The apply is
// conditional on obj's UID and resource version: a status computed from an outdated read gets a
// conflict (apierrors.IsConflict) instead of overwriting a newer one.
func Status(ctx context.Context, c client.Client, gvk schema.GroupVersionKind, obj client.Object, status any) error {
	key := client.ObjectKeyFromObject(obj)
	content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(status)
	if err != nil {
		return fmt.Errorf("converting status of %s %s: %w", gvk.Kind, key, err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{"status": content}}
	u.SetGroupVersionKind(gvk)
	u.SetName(key.Name)
	u.SetNamespace(key.Namespace)
	u.SetUID(obj.GetUID())
	u.SetResourceVersion(obj.GetResourceVersion())
	if err := c.Status().Apply(ctx, client.ApplyConfigurationFromUnstructured(u),
		client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying status of %s %s: %w", gvk.Kind, key, err)
	}
	return nil
}
