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
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"

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
	// ConfigDigestAnnotation is set on the pod template of PodPriority's DaemonSet to a digest of the
	// data of the ConfigMaps of the release its containers read through envFrom, so that their pods
	// start again when it changes.
	ConfigDigestAnnotation = "mesh.meshkeeper.io/config-digest"
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
// say. The DaemonSet's pod template also gets the digest of the ConfigMaps of the release its
// containers read through envFrom (ConfigDigestAnnotation): the CNI agent reads its settings
// (excludeNamespaces, chained) from such a ConfigMap only as it starts, so a change of them alone would
// otherwise change no pod template, roll out nowhere, and leave every node's plugin as it was.
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
		if err := setConfigDigest(objects, priority.DaemonSet); err != nil {
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

// daemonSetKind is the kind PodPriority edits, and configMapKind the kind whose data it digests.
var (
	daemonSetKind = schema.GroupKind{Group: "apps", Kind: "DaemonSet"}
	configMapKind = schema.GroupKind{Kind: "ConfigMap"}
)

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

// setConfigDigest sets ConfigDigestAnnotation on the pod template of the named DaemonSet: a digest of the
// data of the ConfigMaps of objects its containers read through envFrom, by name. A ConfigMap the
// release does not render is left out; with none, the template is left as it is.
func setConfigDigest(objects []*unstructured.Unstructured, daemonSet string) error {
	configMaps := map[string]*unstructured.Unstructured{}
	var ds *unstructured.Unstructured
	for _, u := range objects {
		switch {
		case u.GroupVersionKind().GroupKind() == daemonSetKind && u.GetName() == daemonSet:
			ds = u
		case u.GroupVersionKind().GroupKind() == configMapKind:
			configMaps[u.GetName()] = u
		}
	}
	if ds == nil {
		return nil
	}
	var read []string
	for _, path := range [][]string{{"spec", "template", "spec", "initContainers"}, {"spec", "template", "spec", "containers"}} {
		containers, _, _ := unstructured.NestedSlice(ds.Object, path...)
		for _, c := range containers {
			container, _ := c.(map[string]any)
			envFrom, _, _ := unstructured.NestedSlice(container, "envFrom")
			for _, e := range envFrom {
				source, _ := e.(map[string]any)
				if name, _, _ := unstructured.NestedString(source, "configMapRef", "name"); configMaps[name] != nil {
					read = append(read, name)
				}
			}
		}
	}
	if len(read) == 0 {
		return nil
	}
	slices.Sort(read)
	h := sha256.New()
	for _, name := range slices.Compact(read) {
		cm := configMaps[name]
		data, _, _ := unstructured.NestedStringMap(cm.Object, "data")
		binary, _, _ := unstructured.NestedStringMap(cm.Object, "binaryData")
		encoded, err := json.Marshal([]any{name, data, binary}) // map keys sorted
		if err != nil {
			return fmt.Errorf("encoding ConfigMap %s: %w", name, err)
		}
		h.Write(encoded)
	}
	annotations, _, _ := unstructured.NestedStringMap(ds.Object, "spec", "template", "metadata", "annotations")
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[ConfigDigestAnnotation] = hex.EncodeToString(h.Sum(nil))[:16]
	if err := unstructured.SetNestedStringMap(ds.Object, annotations, "spec", "template", "metadata", "annotations"); err != nil {
		return fmt.Errorf("setting the config digest of DaemonSet %s: %w", daemonSet, err)
	}
	return nil
}
