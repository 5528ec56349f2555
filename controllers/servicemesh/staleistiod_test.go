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
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// The cache shows meshkeeper's own write of istiod's Deployment only a moment later: read from it right
// after a reconcile upgraded the istiod release (a change of spec.values, say), the istiod rolled out
// before the change looks available, and ControlPlaneReady (so Ready, for the new generation) True
// while the Deployment controller has not seen the change: kubectl wait --for=condition=Ready returns
// at once. A reconcile that changed nothing reads the cache, as every status pass does.
func TestControlPlaneReadyAfterAnIstiodChangeReadsTheDeploymentAsWritten(t *testing.T) {
	rolledOut := appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	cached := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: istiodDeployment, Generation: 1},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)}, Status: rolledOut}
	written := cached.DeepCopy()
	written.Generation = 2
	for name, tc := range map[string]struct {
		action    helm.Action
		reason    string
		liveReads int
	}{
		"istiod upgraded":   {action: helm.ActionUpgraded, reason: meshv1alpha1.ReasonRollingOut, liveReads: 1},
		"istiod repaired":   {action: helm.ActionRepaired, reason: meshv1alpha1.ReasonRollingOut, liveReads: 1},
		"nothing to change": {action: helm.ActionNone, reason: meshv1alpha1.ReasonAvailable, liveReads: 0},
	} {
		t.Run(name, func(t *testing.T) {
			charts := &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
				if desired.Name == istiodRelease {
					return helm.Result{State: helm.StateOutOfSync, Action: tc.action, Revision: 2}, nil
				}
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			tr := newTestReconciler(t, testMesh(), charts)
			if err := tr.Create(context.Background(), cached.DeepCopy()); err != nil {
				t.Fatal(err)
			}
			reads := 0
			tr.APIReader = asWritten{Reader: tr.APIReader, written: written, reads: &reads}
			if _, err := tr.reconcile(t); err != nil {
				t.Fatal(err)
			}
			if tr.applied == nil {
				t.Fatal("no status written")
			}
			c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionControlPlaneReady)
			if c == nil || c.Reason != tc.reason {
				t.Errorf("ControlPlaneReady = %+v, want reason %s", c, tc.reason)
			}
			if reads != tc.liveReads {
				t.Errorf("istiod's Deployment read from the API server %d times, want %d", reads, tc.liveReads)
			}
		})
	}
}
