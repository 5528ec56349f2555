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

package meshctx

import (
	"context"
	"errors"
	"fmt"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// An error is transient when the API server could not answer for a moment, wherever it is wrapped; a
// refusal is not, nor is an error that joins a refusal to transient ones.
func TestTransient(t *testing.T) {
	gr := schema.GroupResource{Resource: "secrets"}
	unavailable := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	denied := apierrors.NewForbidden(gr, "sh.helm.release.v1.istiod.v2", errors.New("admission webhook denied the request"))
	fieldConflict := apierrors.NewApplyConflict([]metav1.StatusCause{{Type: metav1.CauseTypeFieldManagerConflict,
		Message: `conflict with "helm"`, Field: ".spec.replicas"}}, "Apply failed with 1 conflict")
	for name, tc := range map[string]struct {
		err  error
		want bool
	}{
		"nil":                    {err: nil},
		"unavailable":            {err: unavailable, want: true},
		"throttled":              {err: apierrors.NewTooManyRequests("slow down", 1), want: true},
		"internal":               {err: apierrors.NewInternalError(errors.New("etcdserver: leader changed")), want: true},
		"a server timeout":       {err: apierrors.NewServerTimeout(gr, "list", 1), want: true},
		"a request timeout":      {err: apierrors.NewTimeoutError("request did not complete", 0), want: true},
		"a client deadline":      {err: fmt.Errorf("listing namespaces: %w", context.DeadlineExceeded), want: true},
		"a stale resource":       {err: apierrors.NewConflict(gr, "x", errors.New("the object has been modified")), want: true},
		"a reset stream":         {err: errors.New("stream error: stream ID 7; INTERNAL_ERROR; received from peer"), want: true},
		"canceled":               {err: context.Canceled},
		"forbidden":              {err: denied},
		"not found":              {err: apierrors.NewNotFound(gr, "x")},
		"a field manager owns":   {err: fieldConflict},
		"a plain error":          {err: errors.New("chart istiod 9.9.9 not found")},
		"classified and wrapped": {err: Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("upgrading release istio-system/istiod: %w", unavailable)), want: true},
		"joined, all transient":  {err: Retry(meshv1alpha1.ReasonInstallFailed, errors.Join(unavailable, apierrors.NewTooManyRequests("slow down", 1))), want: true},
		"joined with a refusal":  {err: Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("ensuring: %w", errors.Join(unavailable, denied)))},
	} {
		if got := Transient(tc.err); got != tc.want {
			t.Errorf("%s: Transient(%v) = %t, want %t", name, tc.err, got, tc.want)
		}
	}
}
