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
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// repairDrift applies again every object of a release manifest that was deleted or whose fields differ
// from what the release set. Whether an object differs is asked of the API server with a dry-run
// server-side apply, so defaulting and quantity formats never look like drift. It returns the objects
// it applied; an unchanged cluster costs reads only.
func (m *ChartManager) repairDrift(ctx context.Context, manifest, release, namespace string) ([]string, error) {
	objects, err := decodeManifest([]byte(manifest))
	if err != nil {
		return nil, err
	}
	var repaired []string
	for _, desired := range objects {
		// Helm puts namespaced objects without a namespace into the release namespace.
		if desired.GetNamespace() == "" {
			namespaced, err := m.client.IsObjectNamespaced(desired)
			if err != nil {
				return repaired, fmt.Errorf("looking up %s: %w", desired.GetKind(), err)
			}
			if namespaced {
				desired.SetNamespace(namespace)
			}
		}
		setHelmOwnership(desired, release, namespace)
		drifted, err := m.drifted(ctx, desired)
		if err != nil {
			return repaired, err
		}
		if !drifted {
			continue
		}
		if err := m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired.DeepCopy()),
			client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
			return repaired, fmt.Errorf("restoring %s %s: %w", desired.GetKind(), objectName(desired), err)
		}
		repaired = append(repaired, desired.GetKind()+" "+objectName(desired))
	}
	return repaired, nil
}

func (m *ChartManager) drifted(ctx context.Context, desired *unstructured.Unstructured) (bool, error) {
	live := &unstructured.Unstructured{}
	live.SetGroupVersionKind(desired.GroupVersionKind())
	err := m.client.Get(ctx, client.ObjectKeyFromObject(desired), live)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	// The Istio CRDs are large and only ever changed by an upgrade; their existence is what matters.
	if desired.GetKind() == "CustomResourceDefinition" {
		return false, nil
	}
	applied := desired.DeepCopy()
	if err := m.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.DryRunAll,
		client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return false, fmt.Errorf("comparing %s %s: %w", desired.GetKind(), objectName(desired), err)
	}
	return !equality.Semantic.DeepEqual(comparable(live), comparable(applied)), nil
}

// setHelmOwnership adds the metadata Helm puts on every object of a release when it applies it (the
// stored manifest does not have it), so that a drift check neither sees it as drift nor removes it.
func setHelmOwnership(u *unstructured.Unstructured, release, namespace string) {
	labels := u.GetLabels()
	if labels == nil {
		labels = map[string]string{}
	}
	labels["app.kubernetes.io/managed-by"] = "Helm"
	u.SetLabels(labels)
	annotations := u.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations["meta.helm.sh/release-name"] = release
	annotations["meta.helm.sh/release-namespace"] = namespace
	u.SetAnnotations(annotations)
}

// comparable strips what changes without anyone editing the object: bookkeeping metadata, status, and
// the webhook fields istiod itself rewrites (caBundle once its CA is up, failurePolicy of the validator
// once it serves).
func comparable(u *unstructured.Unstructured) map[string]any {
	obj := u.DeepCopy().Object
	for _, field := range []string{"resourceVersion", "generation", "managedFields", "creationTimestamp", "uid"} {
		unstructured.RemoveNestedField(obj, "metadata", field)
	}
	delete(obj, "status")
	if webhooks, ok := obj["webhooks"].([]any); ok {
		for _, w := range webhooks {
			if webhook, ok := w.(map[string]any); ok {
				delete(webhook, "failurePolicy")
				unstructured.RemoveNestedField(webhook, "clientConfig", "caBundle")
			}
		}
	}
	return obj
}

func objectName(u *unstructured.Unstructured) string {
	if u.GetNamespace() == "" {
		return u.GetName()
	}
	return u.GetNamespace() + "/" + u.GetName()
}

// decodeManifest splits a multi-document manifest into objects.
func decodeManifest(manifest []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return objects, nil
			}
			return nil, fmt.Errorf("reading release manifest: %w", err)
		}
		if len(obj) > 0 {
			objects = append(objects, &unstructured.Unstructured{Object: obj})
		}
	}
}

// onlyOwnLeftovers tells whether every object of the desired release that already exists carries
// meshkeeper's label, so an install may adopt them.
func (m *ChartManager) onlyOwnLeftovers(ctx context.Context, desired Release) (bool, error) {
	manifest, err := Template(desired.Chart, desired.Values, desired.Name, desired.Namespace)
	if err != nil {
		return false, err
	}
	objects, err := decodeManifest(manifest)
	if err != nil {
		return false, err
	}
	for _, obj := range objects {
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		key := client.ObjectKeyFromObject(obj)
		if key.Namespace == "" {
			if namespaced, err := m.client.IsObjectNamespaced(obj); err == nil && namespaced {
				key.Namespace = desired.Namespace
			}
		}
		err := m.client.Get(ctx, key, live)
		switch {
		case apierrors.IsNotFound(err) || meta.IsNoMatchError(err):
			continue
		case err != nil:
			return false, fmt.Errorf("reading %s %s: %w", obj.GetKind(), key, err)
		case live.GetLabels()[ManagedByLabel] != ManagedByValue:
			return false, nil
		}
	}
	return true, nil
}
