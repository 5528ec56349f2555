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
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A momentary failure of a workload's restart, after which the workload needed no restart for a while
// (its owner restarted it, say) and then needs one again (the next upgrade), is a first failure in a
// row: the failure before it ended a run of attempts that the workload leaving the candidates closed.
func TestAMomentaryRestartFailureAfterTheWorkloadNeededNoneIsAFirstOne(t *testing.T) {
	now := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Spec.DataPlane.Restarts.MaxConcurrent = ptr.To[int32](5)
	mesh.Spec.DataPlane.Restarts.MaxConcurrentPerNamespace = ptr.To[int32](5)
	unavailable := apierrors.NewServiceUnavailable("etcd leader changed")
	c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, _ client.Patch, _ ...client.PatchOption) error {
			if obj.GetName() == "a" {
				return unavailable
			}
			return nil
		},
	}).Build()
	recorder := events.NewFakeRecorder(100)
	r := &Reconciler{Client: c, Recorder: recorder}

	for _, step := range []struct {
		name  string
		names []string
	}{
		{"a 503", []string{"a"}},
		{"a needs no restart", []string{"b"}},
		{"a needs one again, and gets a 503", []string{"a"}},
	} {
		var candidates []*candidate
		for _, name := range step.names {
			candidates = append(candidates, readyToRestart("shop", name))
		}
		_, _ = r.restart(context.Background(), mesh, &pass{now: now, candidates: candidates})
		for len(recorder.Events) > 0 {
			if e := <-recorder.Events; strings.Contains(e, meshv1alpha1.ReasonRestartFailed) {
				t.Errorf("%s: %s", step.name, e)
			}
		}
		now = now.Add(time.Hour)
	}
}
