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
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// changingAgentCharts finds every release in sync but the agent's, which it upgrades (a change of
// spec.cni.resources, say).
type changingAgentCharts struct{}

func (changingAgentCharts) Ensure(_ context.Context, desired helm.Release) (helm.Result, error) {
	if desired.Name == cniRelease {
		return helm.Result{State: helm.StateOutOfSync, Action: helm.ActionUpgraded, Revision: 2}, nil
	}
	return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
}

func (changingAgentCharts) Uninstall(context.Context, string, string, helm.Owner) (bool, error) {
	return false, nil
}

func (changingAgentCharts) ReturnMemory() {}

// asWritten reads written as the API server has it after meshkeeper's write, counting the reads;
// every other read goes to the reader it wraps.
type asWritten struct {
	client.Reader
	written client.Object
	reads   *int
}

func (r asWritten) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if reflect.TypeOf(obj) == reflect.TypeOf(r.written) && key == client.ObjectKeyFromObject(r.written) {
		*r.reads++
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(r.written.DeepCopyObject()).Elem())
		return nil
	}
	return r.Reader.Get(ctx, key, obj, opts...)
}

// The cache shows meshkeeper's own write of the agent's DaemonSet only a moment later: read from it
// right after the upgrade, the agent rolled out before the change looks ready, and CNIReady (so Ready,
// with observedGeneration current) is True while the change has not even reached the DaemonSet
// controller. kubectl wait and GitOps health checks take the change as done.
func TestCNIReadyAfterAnAgentChangeReadsTheDaemonSetAsWritten(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system", DesiredNodes: 3, ReadyNodes: 3}
	rolledOut := appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
		UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3}
	cached := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: cniDaemonSet, Generation: 1}, Status: rolledOut}
	written := cached.DeepCopy()
	written.Generation = 2

	tr := newTestReconciler(t, mesh, changingAgentCharts{})
	if err := tr.Create(t.Context(), cached); err != nil {
		t.Fatal(err)
	}
	tr.APIReader = asWritten{Reader: tr.APIReader, written: written, reads: new(int)}
	if _, err := tr.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if tr.applied == nil {
		t.Fatal("no status written")
	}
	c := meta.FindStatusCondition(tr.applied.Conditions, meshv1alpha1.ConditionCNIReady)
	if c == nil || c.Status != metav1.ConditionFalse || c.Reason != meshv1alpha1.ReasonNodesNotReady {
		t.Errorf("CNIReady right after the agent's release was upgraded = %+v, want False/NodesNotReady (the DaemonSet's change is not yet observed)", c)
	}
}
