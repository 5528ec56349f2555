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
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// TestReadyWaitsForConditionsOfTheCurrentGeneration: a phase that fails with an error that carries no
// condition (an API error) leaves its condition as the previous generation judged it. Ready, which is
// written for the current generation (kubectl wait --for=condition=Ready compares its observedGeneration
// with metadata.generation), must not summarise that verdict as the new spec's.
func TestReadyWaitsForConditionsOfTheCurrentGeneration(t *testing.T) {
	// Generation 3 was ready.
	ready := &meshv1alpha1.ServiceMeshStatus{ObservedGeneration: 3}
	for _, conditionType := range []string{meshv1alpha1.ConditionControlPlaneReady, meshv1alpha1.ConditionCNIReady,
		meshv1alpha1.ConditionNamespacesEnrolled, meshv1alpha1.ConditionIngressesConfigured, meshv1alpha1.ConditionPoliciesApplied,
		meshv1alpha1.ConditionMTLSReady, meshv1alpha1.ConditionDataPlaneUpToDate, meshv1alpha1.ConditionReady} {
		meta.SetStatusCondition(&ready.Conditions, metav1.Condition{Type: conditionType, Status: metav1.ConditionTrue,
			ObservedGeneration: 3, Reason: "Fine", Message: "fine"})
	}
	// Generation 3 asked for a chart version the repository does not have.
	chartNotFound := ready.DeepCopy()
	for _, c := range []metav1.Condition{
		{Type: meshv1alpha1.ConditionControlPlaneReady, Reason: meshv1alpha1.ReasonChartNotFound},
		{Type: meshv1alpha1.ConditionReady, Reason: meshv1alpha1.ReasonChartNotFound},
		{Type: meshv1alpha1.ConditionStalled, Status: metav1.ConditionTrue, Reason: meshv1alpha1.ReasonChartNotFound},
	} {
		c.Status, c.ObservedGeneration, c.Message = cmp.Or(c.Status, metav1.ConditionFalse), 3, "chart istiod 9.9.9 not found"
		meta.SetStatusCondition(&chartNotFound.Conditions, c)
	}
	apiError := errors.New("reading namespace istio-system: the server was unable to return a response in the time allotted")
	observed := func() *observation {
		obs := testObservation()
		obs.cni = &cniObservation{ran: true}
		obs.namespaces = &namespacesObservation{enrolled: sets.New("shop")}
		obs.ingresses = &ingressesObservation{}
		obs.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 2, Current: 2}}
		obs.policies = &policiesObservation{served: true, applied: 2}
		return obs
	}
	tests := map[string]struct {
		previous *meshv1alpha1.ServiceMeshStatus
		obs      *observation
		stale    string
	}{
		// spec.version changed; the control-plane phase failed reading the cluster before it installed
		// anything, so istiod was not read and ControlPlaneReady is still generation 3's.
		"the control-plane phase failed with an API error": {
			previous: ready,
			obs: func() *observation {
				obs := observed()
				obs.controlPlaneErr = apiError
				obs.cni = &cniObservation{} // the CNI phase runs only after the control-plane phase
				return obs
			}(),
			stale: meshv1alpha1.ConditionControlPlaneReady,
		},
		// The user fixed spec.version; generation 3's failure is not generation 4's, which is not
		// judged yet: neither its reason nor Stalled may be stamped with generation 4.
		"a failure of the spec before is not this spec's": {
			previous: chartNotFound,
			obs: func() *observation {
				obs := observed()
				obs.controlPlaneErr = apiError
				obs.cni = &cniObservation{}
				return obs
			}(),
			stale: meshv1alpha1.ConditionControlPlaneReady,
		},
		"the Ingresses could not be read": {
			previous: ready,
			obs: func() *observation {
				obs := observed()
				obs.ingresses, obs.proxies, obs.policies = nil, nil, nil
				return obs
			}(),
			stale: meshv1alpha1.ConditionIngressesConfigured,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if tc.obs.controlPlaneErr == nil {
				tc.obs.istiod, tc.obs.istiodRead = availableIstiod(), true
			}
			status := computeStatus(tc.previous, tc.obs)
			ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady)
			if ready == nil || ready.Status == metav1.ConditionTrue || ready.ObservedGeneration != 4 ||
				ready.Reason != meshv1alpha1.ReasonReconciling || !strings.HasPrefix(ready.Message, tc.stale+": ") {
				t.Errorf("Ready = %+v, want False for generation 4 with reason %s, its message about %s",
					ready, meshv1alpha1.ReasonReconciling, tc.stale)
			}
			reconciling := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReconciling)
			if reconciling == nil || reconciling.Status != metav1.ConditionTrue || reconciling.ObservedGeneration != 4 {
				t.Errorf("Reconciling = %+v, want True for generation 4", reconciling)
			}
			if stalled := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionStalled); stalled != nil {
				t.Errorf("Stalled = %+v, want none", stalled)
			}
			// The same failure on the next pass writes nothing.
			if again := computeStatus(status, tc.obs); !equality.Semantic.DeepEqual(status, again) {
				t.Errorf("the same failure again changed the status:\nbefore %+v\nafter  %+v", status, again)
			}
		})
	}
}

// availableIstiod is an istiod Deployment rolled out and available on its one replica.
func availableIstiod() *appsv1.Deployment {
	return &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
		Status: appsv1.DeploymentStatus{UpdatedReplicas: 1, AvailableReplicas: 1, Replicas: 1}}
}

// judged is what a pass that got through every phase sets for generation: each condition judged on every
// pass True, in the order computeStatus sets them, with overrides set over them.
func judged(generation int64, overrides ...metav1.Condition) []metav1.Condition {
	var conditions []metav1.Condition
	for _, conditionType := range []string{meshv1alpha1.ConditionControlPlaneReady, meshv1alpha1.ConditionCNIReady,
		meshv1alpha1.ConditionNamespacesEnrolled, meshv1alpha1.ConditionIngressesConfigured, meshv1alpha1.ConditionPoliciesApplied,
		meshv1alpha1.ConditionMTLSReady} {
		meta.SetStatusCondition(&conditions, metav1.Condition{Type: conditionType, Status: metav1.ConditionTrue,
			ObservedGeneration: generation, Reason: "Fine", Message: "fine"})
	}
	for _, c := range overrides {
		meta.SetStatusCondition(&conditions, c)
	}
	return conditions
}

// A phase of this generation that is waiting says more than the conditions it kept from running: when
// the control-plane phase waits (its namespace still being deleted), CNIReady, which only runs after
// it, is generation 3's, but Ready and Reconciling name the wait.
func TestAWaitOfThisGenerationIsNamedBeforeConditionsItKeptFromRunning(t *testing.T) {
	previous := &meshv1alpha1.ServiceMeshStatus{ObservedGeneration: 3}
	for _, conditionType := range judgedEveryPass {
		meta.SetStatusCondition(&previous.Conditions, metav1.Condition{Type: conditionType, Status: metav1.ConditionTrue,
			ObservedGeneration: 3, Reason: "Fine", Message: "fine"})
	}
	obs := testObservation()
	obs.controlPlaneErr = meshctx.Wait(meshv1alpha1.ReasonNamespaceTerminating, time.Second, errors.New("namespace istio-system is being deleted"))
	obs.cni = &cniObservation{} // not run: the control-plane phase did not get through
	obs.namespaces = &namespacesObservation{enrolled: sets.New("shop")}
	obs.ingresses = &ingressesObservation{}
	obs.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 2, Current: 2}}
	obs.policies = &policiesObservation{served: true, applied: 2}
	status := computeStatus(previous, obs)
	for _, conditionType := range []string{meshv1alpha1.ConditionReady, meshv1alpha1.ConditionReconciling} {
		c := meta.FindStatusCondition(status.Conditions, conditionType)
		if c == nil || c.ObservedGeneration != 4 || c.Reason != meshv1alpha1.ReasonNamespaceTerminating {
			t.Errorf("%s = %+v, want it for generation 4 with reason %s", conditionType, c, meshv1alpha1.ReasonNamespaceTerminating)
		}
	}
}
