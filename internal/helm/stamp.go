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

// Package helm installs, upgrades and uninstalls the Istio charts through the Helm SDK.
package helm

import (
	"bytes"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	// ManagedByLabel marks every object the charts render (meshkeeper's ownership label, defined in
	// api/v1alpha1), so watches can select them.
	ManagedByLabel = meshv1alpha1.ManagedByLabel
	// ManagedByValue is meshkeeper's value of ManagedByLabel.
	ManagedByValue = meshv1alpha1.ManagedByValue
	// keepPolicyAnnotation makes Helm leave an object in place on uninstall.
	keepPolicyAnnotation = "helm.sh/resource-policy"
)

// Owner is the object every rendered object is owned by (the ServiceMesh).
type Owner struct {
	APIVersion string
	Kind       string
	Name       string
	UID        string
}

// Stamp labels every object of a rendered manifest as managed by meshkeeper and makes it owned by the
// owner, except CustomResourceDefinitions: the Istio CRDs hold users' VirtualServices and friends, so
// they get Helm's keep policy instead and outlive the mesh.
func Stamp(manifest []byte, owner Owner) ([]byte, error) {
	objects, err := decodeManifest(manifest)
	if err != nil {
		return nil, err
	}
	var out bytes.Buffer
	for _, u := range objects {
		labels := u.GetLabels()
		if labels == nil {
			labels = map[string]string{}
		}
		labels[ManagedByLabel] = ManagedByValue
		u.SetLabels(labels)

		if u.GetKind() == "CustomResourceDefinition" {
			annotations := u.GetAnnotations()
			if annotations == nil {
				annotations = map[string]string{}
			}
			annotations[keepPolicyAnnotation] = "keep"
			u.SetAnnotations(annotations)
		} else {
			controller, block := true, true
			u.SetOwnerReferences([]metav1.OwnerReference{{
				APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: types.UID(owner.UID),
				Controller: &controller, BlockOwnerDeletion: &block,
			}})
		}

		doc, err := yaml.Marshal(u.Object)
		if err != nil {
			return nil, fmt.Errorf("writing %s %s: %w", u.GetKind(), u.GetName(), err)
		}
		out.WriteString("---\n")
		out.Write(doc)
	}
	return out.Bytes(), nil
}
