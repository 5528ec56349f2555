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
	"cmp"
	"errors"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// An istiod rollout the Deployment controller gave up on (an image that cannot be pulled, pods that
// cannot be scheduled) is not progress: Ready names it and Stalled is set, so kstatus reads the mesh
// as Failed and Argo CD as Degraded, instead of Progressing for ever. While the rollout is within its
// deadline, it is progress.
func TestAnIstiodRolloutPastItsDeadlineStalls(t *testing.T) {
	rollingOut := func(progressing metav1.Condition) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: "istiod"},
			Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2)},
			Status: appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionStatus(progressing.Status), Reason: progressing.Reason,
					Message: progressing.Message},
			}}}
		return d
	}
	for name, tc := range map[string]struct {
		istiod *appsv1.Deployment
		// cni is the CNI phase's outcome; nil for a mesh without the agent.
		cni              *cniObservation
		reason           string
		stalled          bool
		reconcilingFalse bool
	}{
		"within its deadline": {
			istiod: rollingOut(metav1.Condition{Status: metav1.ConditionTrue, Reason: "ReplicaSetUpdated"}),
			reason: meshv1alpha1.ReasonRollingOut,
		},
		"past its deadline": {
			istiod: rollingOut(metav1.Condition{Status: metav1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				Message: `ReplicaSet "istiod-7d9c" has timed out progressing.`}),
			reason:  meshv1alpha1.ReasonProgressDeadlineExceeded,
			stalled: true,
		},
		// The agent's upgrade waits for istiod to roll the new version out, which it never will: that
		// wait is no progress either.
		"past its deadline, with the CNI agent's upgrade waiting for it": {
			istiod: rollingOut(metav1.Condition{Status: metav1.ConditionFalse, Reason: "ProgressDeadlineExceeded",
				Message: `ReplicaSet "istiod-7d9c" has timed out progressing.`}),
			cni: &cniObservation{ran: true, enabled: true, namespace: "istio-system",
				err: meshctx.Wait(meshv1alpha1.ReasonWaitingForControlPlane, time.Minute,
					errors.New("The CNI agent runs 1.30.0 and moves to 1.31.1 once istiod has rolled it out")),
				daemonSet: &appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
					UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}}},
			reason:  meshv1alpha1.ReasonProgressDeadlineExceeded,
			stalled: true,
		},
		"within its deadline, with the CNI agent's upgrade waiting for it": {
			istiod: rollingOut(metav1.Condition{Status: metav1.ConditionTrue, Reason: "ReplicaSetUpdated"}),
			cni: &cniObservation{ran: true, enabled: true, namespace: "istio-system",
				err: meshctx.Wait(meshv1alpha1.ReasonWaitingForControlPlane, time.Minute,
					errors.New("The CNI agent runs 1.30.0 and moves to 1.31.1 once istiod has rolled it out")),
				daemonSet: &appsv1.DaemonSet{Status: appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1,
					UpdatedNumberScheduled: 1, NumberReady: 1, NumberAvailable: 1}}},
			reason: meshv1alpha1.ReasonRollingOut,
		},
	} {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			obs.istiod, obs.istiodRead = tc.istiod, true
			obs.cni = cmp.Or(tc.cni, &cniObservation{ran: true})
			obs.namespaces = &namespacesObservation{enrolled: sets.New("shop")}
			obs.ingresses = &ingressesObservation{}
			obs.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 2, Current: 2}}
			obs.policies = &policiesObservation{served: true, applied: 2}
			status := computeStatus(&meshv1alpha1.ServiceMeshStatus{}, obs)
			for _, conditionType := range []string{meshv1alpha1.ConditionControlPlaneReady, meshv1alpha1.ConditionReady} {
				c := meta.FindStatusCondition(status.Conditions, conditionType)
				if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.reason {
					t.Errorf("%s = %+v, want False with reason %s", conditionType, c, tc.reason)
				} else if !strings.Contains(c.Message, "1 of 2 replicas updated") {
					t.Errorf("%s's message %q does not say how far the rollout got", conditionType, c.Message)
				}
			}
			stalled := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionStalled)
			reconciling := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReconciling)
			if tc.stalled && (stalled == nil || stalled.Reason != tc.reason || reconciling != nil) {
				t.Errorf("Stalled = %+v, Reconciling = %+v; want Stalled with reason %s, no Reconciling", stalled, reconciling, tc.reason)
			}
			if !tc.stalled && (stalled != nil || reconciling == nil) {
				t.Errorf("Stalled = %+v, Reconciling = %+v; want Reconciling, no Stalled", stalled, reconciling)
			}
		})
	}
}
