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

package ingress

import (
	"context"
	"errors"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// Release takes meshkeeper's annotations back from every Ingress and its sidecar settings from the
// ingress-nginx controller workload, before the ServiceMesh goes. reader reads workloads whole, around
// the cache; workloads (NewWorkloadCache) finds every workload meshkeeper configured, and nil finds
// only the one the spec names.
func Release(ctx context.Context, c client.Client, reader, workloads client.Reader, mesh *meshv1alpha1.ServiceMesh) error {
	ingresses := &networkingv1.IngressList{}
	if err := c.List(ctx, ingresses); err != nil {
		return fmt.Errorf("listing Ingresses: %w", err)
	}
	var errs []error
	for i := range ingresses.Items {
		ing := &ingresses.Items[i]
		if !apply.OwnedKeys(ing, "annotations").HasAny(sets.List(annotationKeys)...) || !ing.DeletionTimestamp.IsZero() {
			continue
		}
		// One Ingress that refuses the change does not keep the others' annotations.
		if err := apply.Metadata(ctx, c, ing, nil, map[string]string{}); err != nil {
			errs = append(errs, fmt.Errorf("ingress %s/%s: %w", ing.Namespace, ing.Name, err))
		}
	}
	holders := []workloadMeta{{kind: mesh.Spec.IngressNginx.Controller.Kind}}
	holders[0].meta.Namespace, holders[0].meta.Name = mesh.Spec.IngressNginx.Controller.Namespace, mesh.Spec.IngressNginx.Controller.Name
	if workloads != nil {
		configured, err := configuredWorkloads(ctx, workloads)
		if err != nil {
			return err
		}
		holders = append(holders, configured...)
	}
	for _, holder := range holders {
		obj, err := getWorkload(ctx, reader, holder.kind, client.ObjectKeyFromObject(&holder.meta))
		if err != nil {
			return err
		}
		if obj == nil || !holdsSidecarKeys(obj) {
			continue
		}
		if err := apply.PodTemplateMetadata(ctx, c, obj, map[string]string{}, map[string]string{}); err != nil {
			errs = append(errs, fmt.Errorf("%s %s/%s: %w", holder.kind, holder.meta.Namespace, holder.meta.Name, err))
		}
	}
	return errors.Join(errs...)
}
