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

package policy

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// A write of a policy object that the API server could not answer for a moment (throttled, unavailable,
// timed out, or a conflict with a write made since the read) is retried with the reconcile, and says
// nothing to the people watching the ServiceMesh's Warnings when the retry a moment later writes it. If
// the retry fails too (an admission webhook that cannot be reached answers 500 for as long as it is
// down), it is reported once. A write the API server refuses (an admission policy) is reported at once,
// once for as long as its answer stays the same.
func TestAPolicyWriteTheAPIServerCouldNotAnswerRecordsNoWarning(t *testing.T) {
	gr := schema.GroupResource{Group: render.PeerAuthenticationKind.Group, Resource: "peerauthentications"}
	for name, tc := range map[string]struct {
		failure   error
		wantEvent bool
	}{
		"unavailable": {failure: apierrors.NewServiceUnavailable("the server is currently unable to handle the request")},
		"throttled":   {failure: apierrors.NewTooManyRequests("the server has received too many requests", 1)},
		"timed out":   {failure: apierrors.NewTimeoutError("request did not complete within requested timeout", 0)},
		"internal":    {failure: apierrors.NewInternalError(errors.New("etcdserver: leader changed"))},
		"a conflict with a write since the read": {
			failure: apierrors.NewConflict(gr, render.PolicyName, errors.New("the object has been modified; please apply your changes to the latest version and try again"))},
		"refused by an admission policy": {failure: apierrors.NewForbidden(gr, render.PolicyName,
			errors.New("ValidatingAdmissionPolicy 'no-strict' denied request")), wantEvent: true},
	} {
		for _, inARow := range []int{1, 3} {
			t.Run(fmt.Sprintf("%s, %d in a row", name, inARow), func(t *testing.T) {
				failures := inARow
				c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
					Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
						return apierrors.NewNotFound(gr, render.PolicyName)
					},
					List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error { return nil },
					Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
						if failures > 0 {
							failures--
							return tc.failure
						}
						return nil
					},
				}).Build()
				recorder := events.NewFakeRecorder(10)
				r := &Reconciler{Client: c, APIReader: c, Recorder: recorder, Rivals: NewRivals(c), Applied: &AppliedSpecs{}}
				mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName, UID: "mesh-uid"}}
				desired := render.PeerAuthentication("shop", meshv1alpha1.MTLSStrict)
				for range inARow {
					if err := r.reconcileKind(t.Context(), mesh, "shop", render.PeerAuthenticationKind, desired.DeepCopy()); err == nil {
						t.Fatal("reconcileKind = nil, want the write's error, which the reconcile retries")
					}
				}
				if err := r.reconcileKind(t.Context(), mesh, "shop", render.PeerAuthenticationKind, desired.DeepCopy()); err != nil {
					t.Fatalf("reconcileKind once the API server answers = %v", err)
				}
				close(recorder.Events)
				var warnings []string
				for e := range recorder.Events {
					if strings.HasPrefix(e, "Warning") {
						warnings = append(warnings, e)
					}
				}
				switch {
				case tc.wantEvent && len(warnings) != 1:
					t.Errorf("Warnings %q, want one %s for the refusal, recorded once", warnings, ReasonApplyFailed)
				case !tc.wantEvent && inARow == 1 && len(warnings) != 0:
					t.Errorf("Warnings %q, want none for a write the API server could not answer for a moment", warnings)
				case !tc.wantEvent && inARow > 1 && len(warnings) != 1:
					t.Errorf("Warnings %q, want one %s for a write that failed %d times in a row, recorded once", warnings,
						ReasonApplyFailed, inARow)
				}
			})
		}
	}
}
