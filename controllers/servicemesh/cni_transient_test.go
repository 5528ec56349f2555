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
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	istiocharts "github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// The CNI phase reads the cluster before it changes the agent: the agent's namespace (does its Pod
// Security level reject the agent?) and, while the agent moves to a newer version, istiod from the API
// server (has it rolled that version out?). A read that fails only because the API server could not
// answer for a moment is retried quietly, as a failed Helm action of the agent is: CNIReady and Ready keep
// what they said. Once the attempt after the backoff fails the same way, the failure persists and is
// reported.
func TestAReadTheAPIServerFailedForAMomentChangesNoCNICondition(t *testing.T) {
	for name, tc := range map[string]struct {
		// fails tells whether a read is the one that fails, and apiReader whether it is the API reader's.
		fails     func(key client.ObjectKey, obj client.Object) bool
		apiReader bool
	}{
		"the read of istiod while the agent moves to a newer version": {
			fails: func(key client.ObjectKey, obj client.Object) bool {
				_, deployment := obj.(*appsv1.Deployment)
				return deployment && key.Name == istiodDeployment
			},
			apiReader: true,
		},
		"the read of the agent's namespace": {
			fails: func(key client.ObjectKey, obj client.Object) bool {
				_, namespace := obj.(*corev1.Namespace)
				return namespace && key.Name == "kube-system"
			},
		},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			// The agent runs in a namespace of its own, which the control-plane phase does not read.
			mesh.Spec.CNI.Enabled = ptr.To(true)
			mesh.Spec.CNI.Namespace = "kube-system"
			mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "kube-system"}
			charts := &fakeCharts{ensure: func(helm.Release) (helm.Result, error) {
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			tr := newTestReconciler(t, mesh, charts)
			now := time.Now()
			tr.backoff.now = func() time.Time { return now }
			tr.cniBackoff.now = tr.backoff.now
			// unavailable is how many of the reads tc.fails names the API server answers 503 from now on.
			unavailable := 0
			funcs := interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if unavailable > 0 && tc.fails(key, obj) {
					unavailable--
					return apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
				}
				return c.Get(ctx, key, obj, opts...)
			}}
			if tc.apiReader {
				tr.APIReader = interceptor.NewClient(tr.Client.(client.WithWatch), funcs)
			} else {
				tr.Client = interceptor.NewClient(tr.Client.(client.WithWatch), funcs)
			}

			// istiod runs the charts' version and is available; the agent runs an older one, ready on its
			// one node, so every pass looks at istiod before it lets the agent move up.
			createRunning(t, tr, mesh, "kube-system", "docker.io/istio/install-cni:"+minorBefore(istiocharts.BuiltinVersion),
				&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}})
			// A pass that succeeds; its status is what the API server holds from then on.
			before := settle(t, tr, mesh, meshv1alpha1.ConditionCNIReady)

			// The API server answers that read with 503 once.
			unavailable = 1
			tr.applied = nil
			if _, err := tr.reconcile(t); err == nil {
				t.Error("Reconcile = nil, want the failure, which the workqueue retries")
			}
			checkKept(t, before, tr.applied, meshv1alpha1.ConditionCNIReady, meshv1alpha1.ConditionReady)
			// Held off until the backoff has passed: the wake-ups meanwhile report the same failure.
			tr.applied = nil
			if result, err := tr.reconcile(t); err != nil || result.RequeueAfter <= 0 {
				t.Errorf("Reconcile while the failure is waited out = %+v, %v; want a retry after the backoff", result, err)
			}
			if tr.applied != nil {
				if c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionCNIReady); c == nil || c.Status != metav1.ConditionTrue {
					t.Errorf("while the failure is waited out, CNIReady = %+v, want True as it was", c)
				}
			}

			// The attempt after the backoff fails the same way: the failure persists and is reported.
			now = now.Add(backoffInitial)
			unavailable = 1
			tr.applied = nil
			if _, err := tr.reconcile(t); err == nil {
				t.Error("Reconcile = nil, want the failure")
			}
			if tr.applied == nil {
				t.Fatal("a failure that persists wrote no status")
			}
			if c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionCNIReady); c == nil ||
				c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonInstallFailed {
				t.Errorf("after the failure persisted, CNIReady = %+v, want False with reason %s", c, meshv1alpha1.ReasonInstallFailed)
			}

			// The API server answers again: the agent moves up. The stored status is still the one of the
			// first pass (the fake keeps no applied status), so a pass that writes none reports it as it was.
			now = now.Add(2 * backoffInitial)
			tr.applied = nil
			if _, err := tr.reconcile(t); err != nil {
				t.Errorf("Reconcile once the API server answers = %v, want success", err)
			}
			if tr.applied != nil {
				if c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionCNIReady); c == nil || c.Status != metav1.ConditionTrue {
					t.Errorf("once the API server answers, CNIReady = %+v, want True", c)
				}
			}
		})
	}
}

// A pass whose read of the agent's DaemonSet fails (the API server answers 503, or the read times out)
// knows nothing of the agent: CNIReady, status.cni's node counts and meshkeeper_cni_nodes keep what they
// said, rather than report the DaemonSet missing and the agent on no node. The failure is returned, so
// the pass is retried, and the generation is not marked observed. The read fails in a pass that changed
// the agent's release, which reads the DaemonSet from the API server rather than from the cache.
func TestAFailedReadOfTheAgentsDaemonSetKeepsWhatCNIReadySaid(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Spec.CNI.Namespace = "kube-system"
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "kube-system"}
	unavailable := false
	charts := &fakeCharts{ensure: func(release helm.Release) (helm.Result, error) {
		if unavailable && release.Name == cniRelease {
			return helm.Result{State: helm.StateInSync, Action: helm.ActionUpgraded}, nil
		}
		return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
	}}
	tr := newTestReconciler(t, mesh, charts)
	tr.APIReader = interceptor.NewClient(tr.Client.(client.WithWatch), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, agent := obj.(*appsv1.DaemonSet); agent && unavailable && key.Name == cniDaemonSet {
				return apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
			}
			return c.Get(ctx, key, obj, opts...)
		}})
	createRunning(t, tr, mesh, "kube-system", "", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "kube-system"}})
	before := settle(t, tr, mesh, meshv1alpha1.ConditionCNIReady)
	if before.CNI == nil || before.CNI.DesiredNodes != 1 || before.CNI.ReadyNodes != 1 {
		t.Fatalf("status.cni after a pass that succeeded = %+v, want the agent ready on its one node", before.CNI)
	}

	unavailable = true
	tr.applied = nil
	if _, err := tr.reconcile(t); err == nil {
		t.Error("Reconcile = nil, want the failed read, which the workqueue retries")
	}
	checkKept(t, before, tr.applied, meshv1alpha1.ConditionCNIReady, meshv1alpha1.ConditionReady)
	if tr.applied != nil {
		if cni := tr.applied.CNI; cni == nil || cni.Namespace != "kube-system" || cni.DesiredNodes != 1 || cni.ReadyNodes != 1 {
			t.Errorf("status.cni after the failed read = %+v, want the agent in kube-system on 1 of 1 node as before", cni)
		}
		if tr.applied.ObservedGeneration == mesh.Generation && before.ObservedGeneration != mesh.Generation {
			t.Error("a pass whose read failed marked the generation observed")
		}
	}
}

// minorBefore is the first patch of the minor version before version's: an agent that runs it may
// move up to version in one step.
func minorBefore(version string) string {
	v, ok := revision.Parse(version)
	if !ok {
		panic("not a version: " + version)
	}
	return fmt.Sprintf("%d.%d.0", v.Major, v.Minor-1)
}
