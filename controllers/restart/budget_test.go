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

package restart

import (
	"context"
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	k8stypes "k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// applying is a Reconciler whose applies succeed, and the names of the workloads it applied to.
func applying() (*Reconciler, *[]string) {
	var restarted []string
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
			restarted = append(restarted, obj.GetNamespace()+"/"+obj.GetName())
			return nil
		},
	}).Build()
	return &Reconciler{Client: c, Recorder: events.NewFakeRecorder(100)}, &restarted
}

// readyToRestart is a candidate: a rolled-out Deployment of a namespace, never restarted, whose
// revision is ready.
func readyToRestart(namespace, name string) *candidate {
	d := cachedDeployment(k8stypes.UID("uid-"+name), time.Time{}).obj.(*appsv1.Deployment)
	d.Namespace, d.Name = namespace, name
	return &candidate{workload: asWorkload(d), ready: true, target: target{revision: "default", version: "1.31.2"}}
}

// The restarts still rolling out take their share of maxConcurrent: with one of two rolling out, one
// more starts, however many wait.
func TestTheRolloutsUnderWayCountAgainstMaxConcurrent(t *testing.T) {
	now := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.DataPlane.Restarts.MaxConcurrent = ptr.To[int32](2)
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = ptr.To[int32](10)
	for rolling, want := range map[int][]string{0: {"shop/a", "shop/b"}, 1: {"shop/a"}, 2: nil} {
		r, restarted := applying()
		p := &pass{now: now, candidates: []*candidate{readyToRestart("shop", "a"), readyToRestart("shop", "b"),
			readyToRestart("shop", "c")}}
		for i := range rolling {
			p.rolling = append(p.rolling, rollingDeployment("tenant", "rolling-"+string(rune('a'+i)), now.Add(-time.Second)))
		}
		if _, err := r.restart(context.Background(), mesh, p); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(*restarted, want) {
			t.Errorf("with %d of maxConcurrent 2 rolling out: restarted %v, want %v", rolling, *restarted, want)
		}
		if len(p.pending) != 3-len(want) {
			t.Errorf("with %d rolling out: pending %d, want %d", rolling, len(p.pending), 3-len(want))
		}
	}
}

// A superseded workload, restarted onto the canary revision since rolled back, is restarted again
// onto the active revision though its rollout onto the canary has not completed; one that is rolling
// out by itself waits for its rollout.
func TestASupersededRestartDoesNotWaitForItsRollout(t *testing.T) {
	rolledBackAt := time.Date(2026, 11, 28, 1, 0, 0, 0, time.UTC)
	r, restarted := applying()
	onto := &candidate{workload: deploymentOnto("shop", "checkout", rolledBackAt.Add(-time.Minute), "1-31-1"), ready: true,
		superseded: true, target: target{revision: "1-31-0", version: "1.31.0"}}
	byItself := &candidate{workload: deploymentOnto("shop", "cart", time.Time{}, ""), ready: true,
		target: target{revision: "1-31-0", version: "1.31.0"}}
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = ptr.To[int32](10)
	p := &pass{now: rolledBackAt.Add(time.Second), candidates: []*candidate{onto, byItself}}
	if _, err := r.restart(context.Background(), mesh, p); err != nil {
		t.Fatal(err)
	}
	if want := []string{"shop/checkout"}; !slices.Equal(*restarted, want) {
		t.Errorf("restarted %v, want %v", *restarted, want)
	}
}
