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
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// MeshConfig says which mesh config the ConfigMap name in namespace holds and since when meshkeeper
// wrote it, for status.meshConfigs, which the status pass writes and the restarts read: a pod created
// before then was injected with the previous proxy defaults. recorded is status.meshConfigs as it was.
//
// The time is that of meshkeeper's entry in the ConfigMap's managed fields when the mesh key changed to
// what meshkeeper applied: the API server moves it whenever a value meshkeeper owns changes. When the
// mesh key still holds the mesh config recorded, the recorded time stands: drift repair that puts back
// an edited mesh config moves the entry's time too, and pods created before the edit run what is there
// again. While someone else's edit is in place (meshkeeper no longer owns the mesh key), the record
// stands as well; with none, the entry's time is used and nothing is recorded (an empty Digest).
//
// A ConfigMap that does not exist, or lies in a namespace the installer did not allow (policy), where
// meshkeeper cannot have written one and which the manager's cache does not hold, gives a zero time.
func MeshConfig(ctx context.Context, reader client.Reader, policy charts.Policy, namespace, name string,
	recorded []meshv1alpha1.MeshConfigStatus) (meshv1alpha1.MeshConfigStatus, error) {
	none := meshv1alpha1.MeshConfigStatus{Name: name}
	if policy.CheckNamespace(namespace, "spec.namespace") != nil {
		return none, nil
	}
	cm := &corev1.ConfigMap{}
	if err := reader.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, cm, client.UnsafeDisableDeepCopy); err != nil {
		return none, client.IgnoreNotFound(err)
	}
	applied := apply.AppliedAt(cm)
	digest := MeshConfigDigest(cm.Data[meshConfigKey])
	previous := RecordedMeshConfig(recorded, name)
	switch {
	case previous != nil && previous.Digest == digest:
		return *previous, nil
	case applied != nil && apply.OwnedDataKeys(cm).Has(meshConfigKey):
		return meshv1alpha1.MeshConfigStatus{Name: name, Digest: digest, Since: *applied}, nil
	case previous != nil:
		return *previous, nil
	case applied != nil:
		none.Since = *applied
	}
	return none, nil
}

// meshConfigKey is the key of the mesh config ConfigMap that holds the mesh config; the injector reads
// the proxy defaults from it. Its other keys (meshNetworks) are not written into sidecars.
const meshConfigKey = "mesh"

// MeshConfigDigest is the digest status.meshConfigs records of a mesh config.
func MeshConfigDigest(mesh string) string {
	sum := sha256.Sum256([]byte(mesh))
	return "sha256:" + hex.EncodeToString(sum[:8])
}

// RecordedMeshConfig finds the ConfigMap name in status.meshConfigs; nil when it is not there.
func RecordedMeshConfig(recorded []meshv1alpha1.MeshConfigStatus, name string) *meshv1alpha1.MeshConfigStatus {
	for i := range recorded {
		if recorded[i].Name == name {
			return &recorded[i]
		}
	}
	return nil
}

// MeshConfigs reads the mesh configs of a ServiceMesh for one pass of the status or the restarts: each
// ConfigMap once (MeshConfig), judged against the mesh's status.meshConfigs.
type MeshConfigs struct {
	reader client.Reader
	policy charts.Policy
	mesh   *meshv1alpha1.ServiceMesh
	found  map[string]meshv1alpha1.MeshConfigStatus
}

// NewMeshConfigs reads the mesh configs of mesh through reader, in the namespaces policy allows.
func NewMeshConfigs(reader client.Reader, policy charts.Policy, mesh *meshv1alpha1.ServiceMesh) *MeshConfigs {
	return &MeshConfigs{reader: reader, policy: policy, mesh: mesh, found: map[string]meshv1alpha1.MeshConfigStatus{}}
}

// Since is MeshConfig's time for the ConfigMap name: pods created before it are outdated.
func (m *MeshConfigs) Since(ctx context.Context, name string) (metav1.Time, error) {
	config, ok := m.found[name]
	if !ok {
		var err error
		if config, err = MeshConfig(ctx, m.reader, m.policy, m.mesh.Spec.Namespace, name, m.mesh.Status.MeshConfigs); err != nil {
			return metav1.Time{}, err
		}
		m.found[name] = config
	}
	return config.Since, nil
}

// Recorded is what status.meshConfigs records of the mesh configs read so far (those with a digest),
// by name; keep adds, from the status as it was, the records of mesh configs not read.
func (m *MeshConfigs) Recorded(keep bool) []meshv1alpha1.MeshConfigStatus {
	var out []meshv1alpha1.MeshConfigStatus
	for _, config := range m.found {
		if config.Digest != "" {
			out = append(out, config)
		}
	}
	if keep {
		for _, config := range m.mesh.Status.MeshConfigs {
			if _, read := m.found[config.Name]; !read {
				out = append(out, config)
			}
		}
	}
	slices.SortFunc(out, func(a, b meshv1alpha1.MeshConfigStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}
