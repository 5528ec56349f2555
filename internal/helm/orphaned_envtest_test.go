//go:build envtest

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
	"errors"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// orphaningRelease is the release in namespace of a chart of two ConfigMaps, "a" and "b".
func orphaningRelease(namespace string) Release {
	return attackRelease(namespace, attackChart("orphaning", `apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: b}
`))
}

// orphan takes the owner references off the ConfigMap name of namespace, as the garbage collector does
// to what a ServiceMesh deleted with orphan propagation (kubectl delete --cascade=orphan) owns.
func orphan(t *testing.T, c client.Client, namespace, name string) {
	t.Helper()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name}}
	if err := c.Patch(t.Context(), cm, client.RawPatch(types.MergePatchType, []byte(`{"metadata":{"ownerReferences":null}}`)),
		client.FieldOwner("generic-garbage-collector")); err != nil {
		t.Fatal(err)
	}
}

// TestAnOrphanedReleaseIsLeftWhole: the uninstall of a release one of whose objects meshkeeper applied
// and no ServiceMesh owns any more (the ServiceMesh was deleted with orphan propagation, which asks to
// keep what it owns) deletes none of the release's objects and keeps its records, so that helm
// uninstall, or a ServiceMesh created again, still finds exactly what it installed; the answer names
// what was orphaned. It used to delete what still carried the owner reference and every record, so the
// rest ran on with nothing left that knew of it. A ServiceMesh created again takes the release over,
// and then uninstalls it whole.
func TestAnOrphanedReleaseIsLeftWhole(t *testing.T) {
	m, c, ns := onAPIServer(t)
	release := orphaningRelease(ns)
	ensureAll(t, m, release)
	orphan(t, c, ns, "a")

	removed, err := m.Uninstall(t.Context(), ns, release.Name, release.Owner)
	var orphans *OrphanedError
	if !errors.As(err, &orphans) {
		t.Fatalf("Uninstall = %t, %v; want an *OrphanedError", removed, err)
	}
	if removed {
		t.Error("Uninstall removed = true, want false: nothing was removed")
	}
	if want := []string{"ConfigMap " + ns + "/a"}; !slices.Equal(orphans.Objects, want) || orphans.Release != release.Name || orphans.Namespace != ns {
		t.Errorf("the orphaned objects = %s/%s %q, want %s/%s %q", orphans.Namespace, orphans.Release, orphans.Objects, ns, release.Name, want)
	}
	for _, name := range []string{"a", "b"} {
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{}); err != nil {
			t.Errorf("ConfigMap %s after the uninstall of its orphaned release: %v, want it kept", name, err)
		}
	}
	heads, err := m.heads(t.Context(), ns, release.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 {
		t.Fatalf("the release has %d records after the uninstall, want its 1 kept", len(heads))
	}

	// A ServiceMesh created again upgrades the release, and owns every object of it again.
	again := release
	again.Owner.UID = "uid-2"
	if results := ensureAll(t, m, again); results[0].Action != ActionUpgraded {
		t.Fatalf("the new ServiceMesh's ensure = %+v, want an upgrade", results[0])
	}
	if removed, err := m.Uninstall(t.Context(), ns, again.Name, again.Owner); err != nil || !removed {
		t.Fatalf("the new ServiceMesh's uninstall = %t, %v; want the release removed", removed, err)
	}
	for _, name := range []string{"a", "b"} {
		if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: name}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
			t.Errorf("ConfigMap %s after the new ServiceMesh's uninstall: %v, want it deleted", name, err)
		}
	}
}

// TestSomeoneElsesObjectDoesNotKeepTheRelease: an object named as one of the release's that meshkeeper
// did not apply, even with meshkeeper's label and Helm's marks of the release (anyone who may write it
// can set them), is someone else's, not an orphan: it stays, and the release is uninstalled.
func TestSomeoneElsesObjectDoesNotKeepTheRelease(t *testing.T) {
	m, c, ns := onAPIServer(t)
	release := orphaningRelease(ns)
	ensureAll(t, m, release)
	a := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a"}}
	if err := c.Delete(t.Context(), a); err != nil {
		t.Fatal(err)
	}
	a = &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "a",
		Labels:      map[string]string{ManagedByLabel: ManagedByValue},
		Annotations: map[string]string{releaseNameAnnotation: release.Name, releaseNamespaceAnnotation: ns}}}
	if err := c.Create(t.Context(), a, client.FieldOwner("someone-else")); err != nil {
		t.Fatal(err)
	}

	if removed, err := m.Uninstall(t.Context(), ns, release.Name, release.Owner); err != nil || !removed {
		t.Fatalf("Uninstall = %t, %v; want the release removed", removed, err)
	}
	if err := c.Get(t.Context(), client.ObjectKeyFromObject(a), &corev1.ConfigMap{}); err != nil {
		t.Errorf("someone else's ConfigMap a after the uninstall: %v, want it kept", err)
	}
	if err := c.Get(t.Context(), client.ObjectKey{Namespace: ns, Name: "b"}, &corev1.ConfigMap{}); !apierrors.IsNotFound(err) {
		t.Errorf("the release's ConfigMap b after the uninstall: %v, want it deleted", err)
	}
	if heads, err := m.heads(t.Context(), ns, release.Name); err != nil || len(heads) != 0 {
		t.Errorf("the release's records after the uninstall: %d, %v; want none", len(heads), err)
	}
}
