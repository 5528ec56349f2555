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
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

func TestServingIstiod(t *testing.T) {
	revisionBasedMesh := func(status meshv1alpha1.ServiceMeshStatus) *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{Status: status}
		mesh.Spec.UpdateStrategy.Type = meshv1alpha1.UpdateRevisionBased
		return mesh
	}
	tests := map[string]struct {
		mesh *meshv1alpha1.ServiceMesh
		want string
	}{
		"in place":                   {&meshv1alpha1.ServiceMesh{Status: meshv1alpha1.ServiceMeshStatus{Version: "1.31.0"}}, "istiod"},
		"in place, nothing recorded": {&meshv1alpha1.ServiceMesh{}, "istiod"},
		"revisions: the active one": {revisionBasedMesh(meshv1alpha1.ServiceMeshStatus{Version: "1.31.0", ActiveRevision: "1-31-0",
			Revisions: []meshv1alpha1.RevisionStatus{{Name: "1-31-0"}, {Name: "1-32-0"}}}), "istiod-1-31-0"},
		"revisions: the active one is the default revision": {revisionBasedMesh(meshv1alpha1.ServiceMeshStatus{Version: "1.31.0",
			ActiveRevision: "default"}), "istiod"},
		"revisions: none recorded":                         {revisionBasedMesh(meshv1alpha1.ServiceMeshStatus{}), ""},
		"revisions: the in-place istiod still serves":      {revisionBasedMesh(meshv1alpha1.ServiceMeshStatus{Version: "1.31.0"}), "istiod"},
		"in place again: the active revision still serves": {&meshv1alpha1.ServiceMesh{Status: meshv1alpha1.ServiceMeshStatus{Version: "1.31.0", ActiveRevision: "1-31-0"}}, "istiod-1-31-0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := servingIstiod(tc.mesh); got != tc.want {
				t.Errorf("servingIstiod = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestControlPlaneReadyFollowsTheRunningIstiod checks that while the control-plane phase fails,
// ControlPlaneReady keeps the failure's reason and says what the istiod that serves the mesh is doing,
// meshkeeper_control_plane_ready follows that istiod, and an unchanged istiod changes nothing.
func TestControlPlaneReadyFollowsTheRunningIstiod(t *testing.T) {
	const failure = "chart not found: 1.30.2; the running control plane is left as it is"
	istiod := func(available, updated int32) *appsv1.Deployment {
		return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{Replicas: 2, UpdatedReplicas: updated, AvailableReplicas: available}}
	}
	tests := map[string]struct {
		istiod      *appsv1.Deployment
		read        bool
		wantMessage string
		wantGauge   float64 // -1: left as it was
	}{
		"available": {istiod(2, 2), true, failure + "; the running istiod (Deployment istio-system/istiod): 2 of 2 replicas available", 1},
		"none available": {istiod(0, 2), true,
			failure + "; the running istiod (Deployment istio-system/istiod): 0 of 2 replicas available", 0},
		"some available": {istiod(1, 2), true,
			failure + "; the running istiod (Deployment istio-system/istiod): 1 of 2 replicas available", 0},
		"all available, not rolled out": {istiod(2, 1), true,
			failure + "; the running istiod (Deployment istio-system/istiod): 2 of 2 replicas available, its rollout not complete", 0},
		"missing":  {nil, true, failure + "; no istiod serves the mesh: its Deployment istio-system/istiod does not exist", 0},
		"not read": {nil, false, failure, -1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			obs.controlPlaneErr = meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New(failure))
			obs.istiod, obs.istiodRead = tc.istiod, tc.read
			if tc.read {
				obs.istiodName = "istiod"
			}
			status := &meshv1alpha1.ServiceMeshStatus{}
			setControlPlaneReady(status, obs)
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
			if c == nil {
				t.Fatal("no ControlPlaneReady")
			}
			if c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonChartNotFound || c.Message != tc.wantMessage {
				t.Errorf("ControlPlaneReady = %s/%s %q, want False/ChartNotFound %q", c.Status, c.Reason, c.Message, tc.wantMessage)
			}

			// Steady state: the same istiod again changes nothing, so nothing is written.
			for i := range status.Conditions {
				status.Conditions[i].LastTransitionTime = metav1.NewTime(time.Now().Add(-time.Hour).Truncate(time.Second))
			}
			again := status.DeepCopy()
			setControlPlaneReady(again, obs)
			if !equality.Semantic.DeepEqual(status, again) {
				t.Errorf("an unchanged istiod changed the status:\nbefore %+v\nafter  %+v", status, again)
			}

			metrics.ControlPlaneReady.Set(7)
			setMetrics(obs)
			want := tc.wantGauge
			if want < 0 {
				want = 7
			}
			if got := testutil.ToFloat64(metrics.ControlPlaneReady); got != want {
				t.Errorf("meshkeeper_control_plane_ready = %v, want %v", got, want)
			}
		})
	}
	metrics.ControlPlaneReady.Set(0)
}

// TestControlPlaneReadyMessageFollowsAvailability checks that the message changes, and the status is
// written, when the running istiod's availability changes while the failure holds.
func TestControlPlaneReadyMessageFollowsAvailability(t *testing.T) {
	obs := testObservation()
	obs.controlPlaneErr = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("upgrading release istiod: boom"))
	obs.istiodName, obs.istiodRead = "istiod-1-31-0", true
	obs.istiod = &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, AvailableReplicas: 1}}
	status := &meshv1alpha1.ServiceMeshStatus{}
	setControlPlaneReady(status, obs)
	before := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady).Message

	obs.istiod = &appsv1.Deployment{Status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}}
	setControlPlaneReady(status, obs)
	c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
	if c.Message == before || c.Reason != meshv1alpha1.ReasonInstallFailed ||
		!strings.HasSuffix(c.Message, "; the running istiod (Deployment istio-system/istiod-1-31-0): 0 of 1 replicas available") {
		t.Errorf("ControlPlaneReady = %s %q after istiod went down (before %q)", c.Reason, c.Message, before)
	}
}
