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
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// fakeCharts stands in for Helm where a real API server cannot produce the failure.
type fakeCharts struct {
	ensure func(helm.Release) (helm.Result, error)
	// uninstall tells, as the chart manager does, whether the release had a record to remove.
	uninstall func(namespace, name string) (removed bool, err error)
	// memoryReturns counts the calls of ReturnMemory.
	memoryReturns int
}

func (f *fakeCharts) Ensure(_ context.Context, desired helm.Release) (helm.Result, error) {
	return f.ensure(desired)
}

func (f *fakeCharts) ReturnMemory() { f.memoryReturns++ }

func (f *fakeCharts) Uninstall(_ context.Context, namespace, name string, _ helm.Owner) (bool, error) {
	return f.uninstall(namespace, name)
}

// testReconciler is a Reconciler on a fake API server holding the ServiceMesh and the control-plane
// namespace, with what it wrote recorded.
type testReconciler struct {
	*Reconciler
	// applied is the status meshkeeper applied last (nil when none); otherApply tells whether any
	// other apply happened.
	applied    *meshv1alpha1.ServiceMeshStatus
	otherApply bool
	recorder   *events.FakeRecorder
}

func newTestReconciler(t *testing.T, mesh *meshv1alpha1.ServiceMesh, chartManager ChartManager) *testReconciler {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	tr := &testReconciler{recorder: events.NewFakeRecorder(100)}
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(mesh, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.Spec.Namespace}}).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceApply: func(_ context.Context, _ client.Client, _ string, obj runtime.ApplyConfiguration, _ ...client.SubResourceApplyOption) error {
				raw, err := json.Marshal(obj)
				if err != nil {
					return err
				}
				written := &meshv1alpha1.ServiceMesh{}
				if err := json.Unmarshal(raw, written); err != nil {
					return err
				}
				tr.applied = &written.Status
				return nil
			},
			Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
				tr.otherApply = true
				return nil
			},
		}).Build()
	tr.Reconciler = &Reconciler{Client: c, APIReader: c, Recorder: tr.recorder, Charts: chartManager, Resolver: &charts.CachingResolver{}}
	return tr
}

// reconcile runs one Reconcile of the ServiceMesh.
func (tr *testReconciler) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return tr.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}})
}

// reconcileWith runs one Reconcile of mesh against a fake API server holding the control-plane
// namespace. It returns the status meshkeeper applied (nil when none), whether any other apply
// happened, the Events, and the reconcile's result and error.
func reconcileWith(t *testing.T, mesh *meshv1alpha1.ServiceMesh, chartManager ChartManager) (*meshv1alpha1.ServiceMeshStatus, bool, []string, ctrl.Result, error) {
	t.Helper()
	tr := newTestReconciler(t, mesh, chartManager)
	result, err := tr.reconcile(t)
	close(tr.recorder.Events)
	var recorded []string
	for e := range tr.recorder.Events {
		recorded = append(recorded, e)
	}
	return tr.applied, tr.otherApply, recorded, result, err
}

func testMesh() *meshv1alpha1.ServiceMesh {
	return &meshv1alpha1.ServiceMesh{
		ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName, UID: "mesh-uid", Generation: 2,
			Finalizers: []string{meshv1alpha1.Finalizer}},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system", IngressNginx: meshv1alpha1.IngressNginxSpec{
			Controller: meshv1alpha1.WorkloadReference{Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}},
		Status: meshv1alpha1.ServiceMeshStatus{ObservedGeneration: 1},
	}
}

func TestReconcileControlPlaneFailures(t *testing.T) {
	failing := func(release string, state helm.State, action helm.Action, err error) func(helm.Release) (helm.Result, error) {
		return func(desired helm.Release) (helm.Result, error) {
			if desired.Name != release {
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}
			return helm.Result{State: state, Action: action}, err
		}
	}
	tests := map[string]struct {
		ensure          func(helm.Release) (helm.Result, error)
		wantErr         bool
		wantReason      string
		wantMessage     string
		wantReconciling bool
		wantObserved    int64
		wantEvent       string
	}{
		"an install that fails": {
			ensure:  failing(baseRelease, helm.StateAbsent, helm.ActionInstalled, errors.New("installing release istio-system/istio-base: admission webhook denied")),
			wantErr: true, wantReason: meshv1alpha1.ReasonInstallFailed, wantMessage: "admission webhook denied",
			wantReconciling: true, wantObserved: 1, wantEvent: "Warning InstallFailed",
		},
		"an upgrade that fails": {
			ensure:  failing(istiodRelease, helm.StateOutOfSync, helm.ActionUpgraded, errors.New("upgrading release istio-system/istiod: timed out")),
			wantErr: true, wantReason: meshv1alpha1.ReasonInstallFailed, wantMessage: "upgrading release istio-system/istiod",
			wantReconciling: true, wantObserved: 1, wantEvent: "Warning InstallFailed",
		},
		"a release left pending that cannot be unlocked": {
			ensure:  failing(istiodRelease, helm.StateLocked, helm.ActionRecovered, errors.New("recovering release istio-system/istiod (state Locked): unlocking release istiod: conflict")),
			wantErr: true, wantReason: meshv1alpha1.ReasonInstallFailed, wantMessage: "state Locked",
			wantReconciling: true, wantObserved: 1, wantEvent: "Warning InstallFailed",
		},
		"both releases in sync, istiod not there yet": {
			ensure:     failing("none", "", "", nil),
			wantReason: meshv1alpha1.ReasonDeploymentMissing, wantReconciling: true, wantObserved: 2,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			charts := &fakeCharts{ensure: tc.ensure}
			status, otherApply, recorded, result, err := reconcileWith(t, testMesh(), charts)
			if charts.memoryReturns != 0 {
				t.Errorf("the chart manager was asked to return its memory %d times before the mesh was Ready", charts.memoryReturns)
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("Reconcile = %+v, %v; want error: %v", result, err, tc.wantErr)
			}
			if otherApply {
				t.Error("the reconcile applied something besides the status")
			}
			if status == nil {
				t.Fatal("no status written")
			}
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
			if c == nil || c.Status != metav1.ConditionFalse || c.Reason != tc.wantReason || !strings.Contains(c.Message, tc.wantMessage) {
				t.Errorf("ControlPlaneReady = %+v, want False/%s mentioning %q", c, tc.wantReason, tc.wantMessage)
			}
			if ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady); ready == nil || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %+v, want reason %s", ready, tc.wantReason)
			}
			reconciling := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReconciling)
			if (reconciling != nil) != tc.wantReconciling || meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionStalled) != nil {
				t.Errorf("Reconciling = %+v, want present: %v, and no Stalled", reconciling, tc.wantReconciling)
			}
			if status.ObservedGeneration != tc.wantObserved {
				t.Errorf("observedGeneration = %d, want %d", status.ObservedGeneration, tc.wantObserved)
			}
			if tc.wantEvent != "" && !containsPrefix(recorded, tc.wantEvent) {
				t.Errorf("Events %q, want one starting with %q", recorded, tc.wantEvent)
			}
		})
	}
}

// A release whose uninstall fails keeps the ServiceMesh, retried with backoff, and the status says so:
// Ready False with UninstallFailed, for the generation the deletion bumped to, naming the release and
// the error, and what was uninstalled or being uninstalled by then is no longer reported ready. Left as
// it was, Ready would go on saying the mesh matches the spec while its CNI agent or istiod is partly
// gone, and kubectl wait, monitors and GitOps tools would read a healthy mesh.
func TestReconcileUninstallFailure(t *testing.T) {
	available := func(conditionType, reason string) metav1.Condition {
		return metav1.Condition{Type: conditionType, Status: metav1.ConditionTrue, Reason: reason, ObservedGeneration: 2,
			Message: "what was true before the deletion"}
	}
	tests := map[string]struct {
		failing string
		// wantUninstalled are the releases meshkeeper tried, in order.
		wantUninstalled []string
		// wantMessage is what Ready's message must hold: the release and the error.
		wantMessage []string
		// wantControlPlane and wantCNI tell whether ControlPlaneReady and CNIReady say the uninstall
		// reached them; otherwise they stay as they were.
		wantControlPlane, wantCNI bool
	}{
		"the CNI agent's release": {
			failing: cniRelease, wantUninstalled: []string{cniRelease},
			wantMessage: []string{"istio-system/istio-cni", "forbidden"}, wantCNI: true,
		},
		"istiod's release, the CNI agent already uninstalled": {
			failing: istiodRelease, wantUninstalled: []string{cniRelease, istiodRelease},
			wantMessage: []string{"istio-system/istiod", "forbidden"}, wantControlPlane: true, wantCNI: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			now := metav1.Now()
			mesh.DeletionTimestamp = &now
			mesh.Generation = 3
			mesh.Status = meshv1alpha1.ServiceMeshStatus{ObservedGeneration: 2,
				CNI: &meshv1alpha1.CNIStatus{Enabled: true, Namespace: "istio-system", DesiredNodes: 3, ReadyNodes: 3},
				Conditions: []metav1.Condition{
					available(meshv1alpha1.ConditionReady, meshv1alpha1.ReasonSucceeded),
					available(meshv1alpha1.ConditionControlPlaneReady, meshv1alpha1.ReasonAvailable),
					available(meshv1alpha1.ConditionCNIReady, meshv1alpha1.ReasonAvailable),
				}}
			var uninstalled []string
			status, otherApply, recorded, _, err := reconcileWith(t, mesh, &fakeCharts{uninstall: func(_, name string) (bool, error) {
				uninstalled = append(uninstalled, name)
				if name != tc.failing {
					return true, nil
				}
				return true, errors.New("uninstalling release " + name + `: deleting Deployment: deployments.apps "x" is forbidden: denied by policy`)
			}})
			if err == nil || !strings.Contains(err.Error(), "forbidden") {
				t.Errorf("Reconcile error = %v, want the uninstall failure", err)
			}
			if meshctx.IsTerminal(err) {
				t.Error("an uninstall failure must be retried")
			}
			if otherApply {
				t.Error("the finalizer was released although the uninstall failed")
			}
			if !slices.Equal(uninstalled, tc.wantUninstalled) {
				t.Errorf("uninstalled %v, want %v: a release stays until those before it are gone", uninstalled, tc.wantUninstalled)
			}
			if !containsPrefix(recorded, "Warning UninstallFailed") {
				t.Errorf("Events %q, want an UninstallFailed Warning", recorded)
			}
			if status == nil {
				t.Fatal("no status written: Ready still says the mesh matches the spec")
			}
			ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady)
			if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != meshv1alpha1.ReasonUninstallFailed ||
				ready.ObservedGeneration != 3 {
				t.Fatalf("Ready = %+v, want False, UninstallFailed, for generation 3", ready)
			}
			for _, want := range tc.wantMessage {
				if !strings.Contains(ready.Message, want) {
					t.Errorf("Ready's message %q does not name %q", ready.Message, want)
				}
			}
			if status.ObservedGeneration != 2 {
				t.Errorf("observedGeneration = %d, want 2: the deletion is not done", status.ObservedGeneration)
			}
			for conditionType, reached := range map[string]bool{
				meshv1alpha1.ConditionControlPlaneReady: tc.wantControlPlane, meshv1alpha1.ConditionCNIReady: tc.wantCNI} {
				c := meta.FindStatusCondition(status.Conditions, conditionType)
				switch {
				case c == nil:
					t.Errorf("%s is gone", conditionType)
				case reached && (c.Status != metav1.ConditionFalse || c.ObservedGeneration != 3 ||
					(c.Reason != meshv1alpha1.ReasonUninstallFailed && c.Reason != meshv1alpha1.ReasonUninstallBlocked)):
					t.Errorf("%s = %+v, want False for generation 3: the uninstall reached it", conditionType, c)
				case !reached && (c.Status != metav1.ConditionTrue || c.ObservedGeneration != 2):
					t.Errorf("%s = %+v, want it as it was: the uninstall did not reach it", conditionType, c)
				}
			}
			cniGone := slices.Contains(tc.wantUninstalled, cniRelease) && tc.failing != cniRelease
			if cni := status.CNI; cni == nil || !cni.Enabled || (cniGone && (cni.Namespace != "" || cni.ReadyNodes != 0)) {
				t.Errorf("status.cni = %+v, want the agent enabled, and on no namespace and no nodes once uninstalled", cni)
			}
		})
	}
}

func containsPrefix(list []string, prefix string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, prefix) {
			return true
		}
	}
	return false
}

// A ServiceMesh gone without meshkeeper's uninstall (its finalizer removed by hand) leaves no series
// behind: its conditions and control plane would otherwise go on being reported, and alerted on, for
// as long as the manager runs.
func TestReconcileOfAGoneMeshResetsItsMetrics(t *testing.T) {
	mesh := testMesh()
	mesh.Finalizers = nil
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	if err := tr.Delete(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	metrics.SetConditions([]metav1.Condition{{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: meshv1alpha1.ReasonInstallFailed}})
	metrics.SetIstio("default", "1.31.1")
	metrics.ControlPlaneReady.Set(1)
	metrics.EnrolledNamespaces.Set(3)
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("Reconcile of a ServiceMesh gone: %v", err)
	}
	for _, name := range []string{metrics.ConditionName, metrics.IstioInfoName} {
		if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, name); err != nil || n != 0 {
			t.Errorf("%s: %d series (%v) of a ServiceMesh gone, want none", name, n, err)
		}
	}
	if v := testutil.ToFloat64(metrics.ControlPlaneReady); v != 0 {
		t.Errorf("%s = %v of a ServiceMesh gone, want 0", metrics.ControlPlaneReadyName, v)
	}
	if v := testutil.ToFloat64(metrics.EnrolledNamespaces); v != 0 {
		t.Errorf("%s = %v of a ServiceMesh gone, want 0", metrics.EnrolledNamespacesName, v)
	}
}

// A ServiceMesh deleted and created again is a new object, whose Events start empty: the Warnings the
// old one got (plaintext clients under STRICT mTLS, a CNI namespace refusing the agent, a revision
// whose removal a foreign webhook blocks) must be recorded on the new one too, though nothing about
// the problem changed.
func TestReconcileOfAGoneMeshForgetsWhatItReported(t *testing.T) {
	mesh := testMesh()
	mesh.Finalizers = nil
	tr := newTestReconciler(t, mesh, &fakeCharts{})
	tr.reportedMTLS.grew(sets.New("shop"), true)
	tr.reportedAgent.Changed("kube-system", "restricted")
	tr.revisionState.blocked = map[string]string{"1-30-0": "MutatingWebhookConfiguration istio-revision-tag-canary"}
	tr.revisionState.unusedSince = map[string]time.Time{"1-30-0": time.Now().Add(-time.Hour)}
	if err := tr.Delete(t.Context(), mesh); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("Reconcile of a ServiceMesh gone: %v", err)
	}
	if !tr.reportedMTLS.grew(sets.New("shop"), true) {
		t.Error("the plaintext-client risk the deleted ServiceMesh was warned of is still remembered: the new one would get no PlaintextClients Warning")
	}
	if !tr.reportedAgent.Changed("kube-system", "restricted") {
		t.Error("the CNI namespace's refusal the deleted ServiceMesh was warned of is still remembered: the new one would get no PodSecurityRejectsAgent Warning")
	}
	if len(tr.revisionState.blocked) != 0 || tr.revisionState.unusedSince != nil {
		t.Errorf("the deleted ServiceMesh's revisions are still remembered (blocked %v, unused since %v): the new one's "+
			"RevisionPruneBlocked Warning would be skipped, and an unused revision of the same name could start its grace period part-way through",
			tr.revisionState.blocked, tr.revisionState.unusedSince)
	}
}
