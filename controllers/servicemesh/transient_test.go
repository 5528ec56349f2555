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
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// A phase that fails only because the API server could not answer for a moment (a 503 outlasting the
// chart manager's own retries) is retried quietly: its condition and Ready keep what they said, so Argo
// CD's health, kubectl wait and the alerts' timers do not flip for a blip. Once the attempt after the
// backoff fails the same way, the failure persists and is reported.
func TestAFailureTheAPIServerCausedForAMomentChangesNoCondition(t *testing.T) {
	for name, tc := range map[string]struct {
		release   string
		condition string
	}{
		"the control plane": {release: istiodRelease, condition: meshv1alpha1.ConditionControlPlaneReady},
		"the CNI agent":     {release: cniRelease, condition: meshv1alpha1.ConditionCNIReady},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Spec.CNI.Enabled = ptr.To(true)
			mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: mesh.Spec.Namespace}
			unavailable := false
			charts := &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
				if unavailable && desired.Name == tc.release {
					return helm.Result{State: helm.StateInSync}, fmt.Errorf("listing the revisions of release %s/%s: %w", desired.Namespace,
						desired.Name, apierrors.NewServiceUnavailable("the server is currently unable to handle the request"))
				}
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			tr := newTestReconciler(t, mesh, charts)
			now := time.Now()
			tr.backoff.now = func() time.Time { return now }
			tr.cniBackoff.now = tr.backoff.now
			createRunning(t, tr, mesh, mesh.Spec.Namespace, "")
			// A pass that succeeds; its status is what the API server holds from then on.
			before := settle(t, tr, mesh, tc.condition)

			// installFailedWarnings takes the Events recorded so far and counts the InstallFailed Warnings.
			installFailedWarnings := func() int {
				n := 0
				for len(tr.recorder.Events) > 0 {
					if e := <-tr.recorder.Events; strings.HasPrefix(e, "Warning "+meshv1alpha1.ReasonInstallFailed) {
						n++
					}
				}
				return n
			}
			installFailedWarnings()

			// The API server answers 503 for a moment.
			unavailable = true
			tr.applied = nil
			if _, err := tr.reconcile(t); err == nil {
				t.Error("Reconcile = nil, want the failure, which the workqueue retries")
			}
			if n := installFailedWarnings(); n != 0 {
				t.Errorf("%d InstallFailed Warning(s) after one failure the API server caused, want none", n)
			}
			checkKept(t, before, tr.applied, tc.condition, meshv1alpha1.ConditionReady)
			// Held off until the backoff has passed: the wake-ups meanwhile report the same failure.
			tr.applied = nil
			if result, err := tr.reconcile(t); err != nil || result.RequeueAfter <= 0 {
				t.Errorf("Reconcile while the failure is waited out = %+v, %v; want a retry after the backoff", result, err)
			}
			if tr.applied != nil {
				if c := meta.FindStatusCondition(tr.applied.Conditions, tc.condition); c == nil || c.Status != metav1.ConditionTrue {
					t.Errorf("while the failure is waited out, %s = %+v, want True as it was", tc.condition, c)
				}
			}

			// The attempt after the backoff fails the same way: the failure persists and is reported.
			now = now.Add(backoffInitial)
			tr.applied = nil
			if _, err := tr.reconcile(t); err == nil {
				t.Error("Reconcile = nil, want the failure")
			}
			if tr.applied == nil {
				t.Fatal("a failure that persists wrote no status")
			}
			if c := meta.FindStatusCondition(tr.applied.Conditions, tc.condition); c == nil ||
				c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonInstallFailed {
				t.Errorf("after the failure persisted, %s = %+v, want False with reason %s", tc.condition, c, meshv1alpha1.ReasonInstallFailed)
			}
			if n := installFailedWarnings(); n != 1 {
				t.Errorf("%d InstallFailed Warning(s) once the failure persisted, want 1", n)
			}
		})
	}
}

// createRunning creates istiod, available, in the control-plane namespace and the CNI agent's
// DaemonSet in agentNamespace, ready on its one node, with image when not empty.
func createRunning(t *testing.T, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh, agentNamespace, image string, others ...client.Object) {
	t.Helper()
	istiod := availableIstiod()
	istiod.Name, istiod.Namespace = istiodDeployment, mesh.Spec.Namespace
	agent := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: cniDaemonSet, Namespace: agentNamespace}}
	if image != "" {
		agent.Spec.Template.Spec.Containers = []corev1.Container{{Name: agentContainer, Image: image}}
	}
	for _, obj := range append(others, istiod, agent) {
		if err := tr.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	istiod.Status = availableIstiod().Status
	agent.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 1, CurrentNumberScheduled: 1, UpdatedNumberScheduled: 1,
		NumberReady: 1, NumberAvailable: 1}
	for _, obj := range []client.Object{istiod, agent} {
		if err := tr.Status().Update(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
}

// settle runs a pass that must succeed with conditionType True, stores the status it wrote as what the
// API server holds from then on, and returns it.
func settle(t *testing.T, tr *testReconciler, mesh *meshv1alpha1.ServiceMesh, conditionType string) *meshv1alpha1.ServiceMeshStatus {
	t.Helper()
	if _, err := tr.reconcile(t); err != nil || tr.applied == nil {
		t.Fatalf("Reconcile = %v, status written: %t; want success with a status", err, tr.applied != nil)
	}
	before := tr.applied.DeepCopy()
	if c := meta.FindStatusCondition(before.Conditions, conditionType); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("%s = %+v after a pass that succeeded, want True", conditionType, c)
	}
	stored := &meshv1alpha1.ServiceMesh{}
	if err := tr.Get(t.Context(), client.ObjectKeyFromObject(mesh), stored); err != nil {
		t.Fatal(err)
	}
	stored.Status = *before
	if err := tr.Update(t.Context(), stored); err != nil { // the fake serves the ServiceMesh without a status subresource
		t.Fatal(err)
	}
	return before
}

// checkKept fails the test when the status written (if any) changed the status or reason of any of the
// condition types from before.
func checkKept(t *testing.T, before, written *meshv1alpha1.ServiceMeshStatus, conditionTypes ...string) {
	t.Helper()
	if written == nil {
		return
	}
	for _, conditionType := range conditionTypes {
		was, is := meta.FindStatusCondition(before.Conditions, conditionType), meta.FindStatusCondition(written.Conditions, conditionType)
		if is == nil || was.Status != is.Status || was.Reason != is.Reason {
			t.Errorf("after one failure the API server caused, %s = %+v, want it as it was: %+v", conditionType, is, was)
		}
	}
}
