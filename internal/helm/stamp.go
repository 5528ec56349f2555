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
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

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
	// releaseNameAnnotation and releaseNamespaceAnnotation name the release that applied an object last,
	// as Helm marks every object it applies.
	releaseNameAnnotation      = "meta.helm.sh/release-name"
	releaseNamespaceAnnotation = "meta.helm.sh/release-namespace"
)

// Owner is the object every rendered object is owned by (the ServiceMesh).
type Owner struct {
	APIVersion string
	Kind       string
	Name       string
	UID        string
}

// PodPriority sets the priority class of one DaemonSet's pods after rendering, for a chart whose
// template hard-codes it: the CNI chart gives istio-cni-node system-node-critical whatever its values
// say.
type PodPriority struct {
	// DaemonSet names the DaemonSet of the release.
	DaemonSet string
	// ClassName is the PriorityClass its pods get.
	ClassName string
}

// Stamp labels every object of a rendered manifest as managed by meshkeeper and makes it owned by the
// owner, except CustomResourceDefinitions: the Istio CRDs hold users' VirtualServices and friends, so
// they get Helm's keep policy instead and outlive the mesh.
func Stamp(manifest []byte, owner Owner) ([]byte, error) {
	return postRender(manifest, owner, nil)
}

// PostRender is what Helm applies of a release's rendered manifest: every object stamped (see Stamp),
// and the release's pod priority set.
func PostRender(manifest []byte, desired Release) ([]byte, error) {
	return postRender(manifest, desired.Owner, desired.PodPriority)
}

func postRender(manifest []byte, owner Owner, priority *PodPriority) ([]byte, error) {
	objects, err := decodeManifest(manifest)
	if err != nil {
		return nil, err
	}
	if err := stampObjects(objects, owner, priority); err != nil {
		return nil, err
	}
	out, err := encodeManifest(objects)
	return []byte(out), err
}

// stampObjects post-renders decoded objects in place, as PostRender does a manifest.
func stampObjects(objects []*unstructured.Unstructured, owner Owner, priority *PodPriority) error {
	if priority != nil {
		if err := setPodPriority(objects, *priority); err != nil {
			return err
		}
	}
	for _, u := range objects {
		stamp(u, owner)
	}
	return nil
}

func stamp(u *unstructured.Unstructured, owner Owner) {
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
		return
	}
	controller, block := true, true
	u.SetOwnerReferences([]metav1.OwnerReference{{
		APIVersion: owner.APIVersion, Kind: owner.Kind, Name: owner.Name, UID: types.UID(owner.UID),
		Controller: &controller, BlockOwnerDeletion: &block,
	}})
}

// daemonSetKind is the kind PodPriority edits.
var daemonSetKind = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}

// setPodPriority sets the priority class of the named DaemonSet's pod template. A chart that does not
// render that DaemonSet is an error: the class asked for would silently not apply.
func setPodPriority(objects []*unstructured.Unstructured, priority PodPriority) error {
	for _, u := range objects {
		if u.GroupVersionKind().GroupKind() != daemonSetKind || u.GetName() != priority.DaemonSet {
			continue
		}
		if err := unstructured.SetNestedField(u.Object, priority.ClassName, "spec", "template", "spec", "priorityClassName"); err != nil {
			return fmt.Errorf("setting the priority class of DaemonSet %s: %w", priority.DaemonSet, err)
		}
		return nil
	}
	return fmt.Errorf("the chart renders no DaemonSet %s to give priority class %s", priority.DaemonSet, priority.ClassName)
}
