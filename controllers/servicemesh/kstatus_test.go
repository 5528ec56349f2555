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
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

func TestSetReconcilingOrStalled(t *testing.T) {
	cond := func(conditionType string, value metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{Type: conditionType, Status: value, ObservedGeneration: 4, Reason: reason, Message: reason + " message"}
	}
	available := cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, meshv1alpha1.ReasonAvailable)
	tests := map[string]struct {
		conditions    []metav1.Condition
		controlPlane  error
		enrollment    error
		wantCondition string // Reconciling, Stalled or "" for neither
		wantReason    string
		wantKstatus   status.Status
	}{
		"ready": {
			conditions:  []metav1.Condition{available, cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, meshv1alpha1.ReasonEnrolled)},
			wantKstatus: status.CurrentStatus,
		},
		"pods to restart do not hold a ready mesh back": {
			conditions:  []metav1.Condition{available, cond(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded)},
			wantKstatus: status.CurrentStatus,
		},
		"never observed": {
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonReconciling, wantKstatus: status.InProgressStatus,
		},
		"istiod rolling out": {
			conditions:    []metav1.Condition{cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut)},
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonRollingOut, wantKstatus: status.InProgressStatus,
		},
		"an install failure is retried": {
			conditions:    []metav1.Condition{cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonInstallFailed)},
			controlPlane:  meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("boom")),
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonInstallFailed, wantKstatus: status.InProgressStatus,
		},
		"a chart version that does not exist stalls, even while namespaces are enrolled": {
			conditions: []metav1.Condition{
				cond(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonChartNotFound),
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling),
			},
			controlPlane:  meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New("chart istiod 9.9.9 not found")),
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonChartNotFound, wantKstatus: status.FailedStatus,
		},
		"an unusable selector stalls": {
			conditions:    []metav1.Condition{available, cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonInvalidSpec)},
			enrollment:    meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, errors.New("bad selector")),
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonInvalidSpec, wantKstatus: status.FailedStatus,
		},
		"a conflict only a person can resolve stalls": {
			conditions:    []metav1.Condition{available, cond(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonPolicyConflict)},
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonPolicyConflict, wantKstatus: status.FailedStatus,
		},
		"Service ranges that only the spec can give stall": {
			conditions:    []metav1.Condition{available, cond(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonServiceCIDRsUnknown)},
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonServiceCIDRsUnknown, wantKstatus: status.FailedStatus,
		},
		"an ingress-nginx namespace that keeps the injector out stalls": {
			conditions:    []metav1.Condition{available, cond(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonNamespaceInjectionDisabled)},
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonNamespaceInjectionDisabled, wantKstatus: status.FailedStatus,
		},
		"a CNI namespace that rejects the agent stalls": {
			conditions:    []metav1.Condition{available, cond(meshv1alpha1.ConditionCNIReady, metav1.ConditionFalse, meshv1alpha1.ReasonPodSecurityRejectsAgent)},
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonPodSecurityRejectsAgent, wantKstatus: status.FailedStatus,
		},
		"pods without a sidecar under STRICT mTLS stall": {
			conditions: []metav1.Condition{available,
				cond(meshv1alpha1.ConditionMTLSReady, metav1.ConditionFalse, meshv1alpha1.ReasonPlaintextClients),
				cond(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded)},
			wantCondition: meshv1alpha1.ConditionStalled, wantReason: meshv1alpha1.ReasonPlaintextClients, wantKstatus: status.FailedStatus,
		},
		// With automatic restarts, meshkeeper restarts those pods' workloads itself: no person is needed.
		"pods without a sidecar under STRICT mTLS that meshkeeper's restarts are restarting": {
			conditions: []metav1.Condition{available,
				cond(meshv1alpha1.ConditionMTLSReady, metav1.ConditionFalse, meshv1alpha1.ReasonPlaintextClients),
				cond(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestarting)},
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonPlaintextClients, wantKstatus: status.InProgressStatus,
		},
		"pods without a sidecar under STRICT mTLS, beside a conflict, while meshkeeper's restarts run": {
			conditions: []metav1.Condition{available,
				cond(meshv1alpha1.ConditionMTLSReady, metav1.ConditionFalse, meshv1alpha1.ReasonPlaintextClients),
				cond(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonPolicyConflict),
				cond(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestarting)},
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonPlaintextClients, wantKstatus: status.InProgressStatus,
		},
		"work in progress outweighs a conflict": {
			conditions: []metav1.Condition{available,
				cond(meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonInjectionLabelConflict),
				cond(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling)},
			wantCondition: meshv1alpha1.ConditionReconciling, wantReason: meshv1alpha1.ReasonReconciling, wantKstatus: status.InProgressStatus,
		},
		"a stale Stalled goes once the mesh is ready": {
			conditions:  []metav1.Condition{available, cond(meshv1alpha1.ConditionStalled, metav1.ConditionTrue, meshv1alpha1.ReasonChartNotFound)},
			wantKstatus: status.CurrentStatus,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			obs.controlPlaneErr, obs.enrollmentErr = tc.controlPlane, tc.enrollment
			conditions := tc.conditions
			if len(conditions) > 0 {
				conditions = judged(obs.generation, conditions...) // every other condition True
			}
			st := &meshv1alpha1.ServiceMeshStatus{Conditions: conditions, ObservedGeneration: obs.generation}
			summarizeReady(st, obs)
			setReconcilingOrStalled(st, obs)
			reconciling := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionReconciling)
			stalled := meta.FindStatusCondition(st.Conditions, meshv1alpha1.ConditionStalled)
			switch tc.wantCondition {
			case "":
				if reconciling != nil || stalled != nil {
					t.Errorf("Reconciling %+v, Stalled %+v; want neither", reconciling, stalled)
				}
			case meshv1alpha1.ConditionReconciling:
				if stalled != nil || reconciling == nil || reconciling.Status != metav1.ConditionTrue || reconciling.Reason != tc.wantReason {
					t.Errorf("Reconciling %+v, Stalled %+v; want Reconciling %s", reconciling, stalled, tc.wantReason)
				}
			case meshv1alpha1.ConditionStalled:
				if reconciling != nil || stalled == nil || stalled.Status != metav1.ConditionTrue || stalled.Reason != tc.wantReason {
					t.Errorf("Reconciling %+v, Stalled %+v; want Stalled %s", reconciling, stalled, tc.wantReason)
				}
			}
			mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: "default", Generation: obs.generation}, Status: *st}
			content, err := runtime.DefaultUnstructuredConverter.ToUnstructured(mesh)
			if err != nil {
				t.Fatal(err)
			}
			result, err := status.Compute(&unstructured.Unstructured{Object: content})
			if err != nil {
				t.Fatal(err)
			}
			if result.Status != tc.wantKstatus {
				t.Errorf("kstatus = %s (%s), want %s", result.Status, result.Message, tc.wantKstatus)
			}
		})
	}
}

// TestArgoCDAgreesWhatNeedsAPerson reads the reasons the Argo CD health check
// (config/argocd/health) shows as Progressing and checks them against stalledReasons: a reason that
// makes the ServiceMesh Stalled for kstatus and Flux must not look like progress in Argo CD. (The other
// way round they differ on purpose: InstallFailed and ChartRepositoryUnreachable are retried, so
// Reconciling, but Argo CD shows them Degraded; docs/argocd.md.)
func TestArgoCDAgreesWhatNeedsAPerson(t *testing.T) {
	script, err := os.ReadFile(filepath.Join("..", "..", "config", "argocd", "health", "mesh.meshkeeper.io", "ServiceMesh", "health.lua"))
	if err != nil {
		t.Fatal(err)
	}
	table := regexp.MustCompile(`(?s)local transientReasons = \{(.*?)\n\}`).FindSubmatch(script)
	if table == nil {
		t.Fatal("health.lua has no transientReasons table")
	}
	entries := regexp.MustCompile(`(?m)^\s*([A-Za-z]+) = true,`).FindAllSubmatch(table[1], -1)
	if len(entries) < 5 {
		t.Fatalf("read only %d reasons from health.lua's transientReasons", len(entries))
	}
	for _, e := range entries {
		reason := string(e[1])
		if stalledReasons.Has(reason) {
			t.Errorf("%s makes the mesh Stalled, but the Argo CD check shows it as Progressing", reason)
		}
	}
}
