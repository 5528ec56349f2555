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

package servicemesh

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestUninstallAllCNIRemovesAnAgentTheStatusDoesNotName: a ServiceMesh deleted while its status names
// no agent (lost whole, restored from a backup without it) and spec.cni.namespace no longer names where
// its agent runs (a move under way) has that agent's release uninstalled too, found from its
// DaemonSet: its release records and the objects that carry no owner would stay behind.
func TestUninstallAllCNIRemovesAnAgentTheStatusDoesNotName(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Namespace = "kube-system"
	mesh.Status = meshv1alpha1.ServiceMeshStatus{}
	chartManager := &recordingCharts{}
	tr := newTestReconciler(t, mesh, chartManager)
	tr.Policy.Namespaces = []string{"istio-system", "kube-system", "old-cni"}
	// The agent of another installation's, in other-cni, is left alone.
	for namespace, owner := range map[string]types.UID{"old-cni": mesh.UID, "other-cni": "another-mesh"} {
		ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cniDaemonSet,
			Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: owner}}}}
		if err := tr.Create(t.Context(), ds); err != nil {
			t.Fatal(err)
		}
	}
	if err := tr.uninstallAllCNI(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	slices.Sort(chartManager.uninstalled)
	if want := []string{"kube-system/istio-cni", "old-cni/istio-cni"}; !slices.Equal(chartManager.uninstalled, want) {
		t.Errorf("uninstalled %v, want %v", chartManager.uninstalled, want)
	}
}

// uninstallFailingCharts is a recordingCharts whose uninstall of a release in a namespace of failures
// answers that namespace's error.
type uninstallFailingCharts struct {
	*recordingCharts
	failures map[string]error
}

func (c *uninstallFailingCharts) Uninstall(ctx context.Context, namespace, name string, owner helm.Owner) (bool, error) {
	removed, _ := c.recordingCharts.Uninstall(ctx, namespace, name, owner)
	if err := c.failures[namespace]; err != nil {
		return false, err
	}
	return removed, nil
}

// TestUninstallAllCNITriesEveryNamespace: the deletion of a ServiceMesh uninstalls the istio-cni
// release in every namespace it may run in, whatever the uninstall in one of them answers (its objects
// orphaned, so that it is left whole, or a failure): the releases in the namespaces sorted after it
// were left installed. The errors come back joined, and the deletion takes them for releases kept
// orphaned only when each of them is one.
func TestUninstallAllCNITriesEveryNamespace(t *testing.T) {
	orphaned := &helm.OrphanedError{Namespace: "a-cni", Release: cniRelease, Objects: []string{"DaemonSet a-cni/istio-cni-node"}}
	failed := errors.New("the API server is unavailable")
	tests := map[string]struct {
		failures map[string]error
		// wantOrphaned are the releases the deletion names as kept orphaned; nil: the uninstall failed.
		wantOrphaned []string
	}{
		"one release orphaned": {
			failures:     map[string]error{"a-cni": orphaned},
			wantOrphaned: []string{"a-cni/istio-cni"},
		},
		"two releases orphaned": {
			failures: map[string]error{"a-cni": orphaned,
				"kube-system": &helm.OrphanedError{Namespace: "kube-system", Release: cniRelease, Objects: []string{"DaemonSet kube-system/istio-cni-node"}}},
			wantOrphaned: []string{"a-cni/istio-cni", "kube-system/istio-cni"},
		},
		"one release orphaned, another failing": {
			failures: map[string]error{"a-cni": orphaned, "kube-system": failed},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Spec.CNI.Namespace = "kube-system"
			mesh.Status = meshv1alpha1.ServiceMeshStatus{}
			chartManager := &uninstallFailingCharts{recordingCharts: &recordingCharts{}, failures: tc.failures}
			tr := newTestReconciler(t, mesh, chartManager)
			tr.Policy.Namespaces = []string{"a-cni", "istio-system", "kube-system", "old-cni"}
			for _, namespace := range []string{"a-cni", "old-cni"} {
				ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cniDaemonSet,
					Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: mesh.UID}}}}
				if err := tr.Create(t.Context(), ds); err != nil {
					t.Fatal(err)
				}
			}
			err := tr.uninstallAllCNI(t.Context(), mesh)
			if want := []string{"a-cni/istio-cni", "kube-system/istio-cni", "old-cni/istio-cni"}; !slices.Equal(chartManager.uninstalled, want) {
				t.Errorf("uninstalled %v, want %v", chartManager.uninstalled, want)
			}
			for _, failure := range tc.failures {
				if !errors.Is(err, failure) {
					t.Errorf("the error %q does not carry %q", err, failure)
				}
			}
			orphans, kept := orphanedOnly(err)
			var left []string
			for _, o := range orphans {
				left = append(left, o.Namespace+"/"+o.Release)
			}
			if tc.wantOrphaned == nil {
				if kept {
					t.Errorf("the uninstall counts as kept orphaned (%v), though a release failed: %v", left, err)
				}
				return
			}
			if !kept || !slices.Equal(left, tc.wantOrphaned) {
				t.Errorf("kept orphaned %v (%t), want %v", left, kept, tc.wantOrphaned)
			}
		})
	}
}

// TestOrphanedOnly: an uninstall's error counts as releases kept orphaned only when each error it
// joins, however wrapped, is one.
func TestOrphanedOnly(t *testing.T) {
	orphaned := &helm.OrphanedError{Namespace: "istio-system", Release: "istiod"}
	failed := errors.New("quota exceeded")
	tests := map[string]struct {
		err  error
		want bool
	}{
		"none":                           {nil, false},
		"a failure":                      {failed, false},
		"orphaned":                       {orphaned, true},
		"orphaned, wrapped":              {fmt.Errorf("uninstalling: %w", orphaned), true},
		"orphaned, joined":               {errors.Join(orphaned, fmt.Errorf("again: %w", orphaned)), true},
		"orphaned joined to a failure":   {errors.Join(orphaned, failed), false},
		"a failure joined to orphaned":   {fmt.Errorf("uninstalling: %w", errors.Join(failed, orphaned)), false},
		"a failure wrapping an orphaned": {fmt.Errorf("%w, and %w", orphaned, failed), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if _, got := orphanedOnly(tc.err); got != tc.want {
				t.Errorf("orphanedOnly(%v) = %t, want %t", tc.err, got, tc.want)
			}
		})
	}
}
