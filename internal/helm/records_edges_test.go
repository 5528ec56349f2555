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

package helm

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// TestNewestReadableReturnsAnAPIError: an error of the API server reading a record is returned, never
// taken for an unreadable record and passed over. (TestNewestReadablePassesOverForgedRecords, on a real
// API server, holds the records it passes over.)
func TestNewestReadableReturnsAnAPIError(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	unavailable := recordName("istiod", 6)
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithInterceptorFuncs(interceptor.Funcs{
			Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
				if key.Name == unavailable {
					return apierrors.NewServiceUnavailable("the server is restarting")
				}
				return c.Get(ctx, key, obj, opts...)
			},
		}).Build()
	m := NewChartManager(&rest.Config{}, c, c)
	heads := []Head{{Version: 1}, {Version: 2}, {Version: 3}, {Version: 4}, {Version: 5}, {Version: 6}}
	if rel, err := m.newestReadable(t.Context(), "ns", "istiod", heads, 5); !apierrors.IsServiceUnavailable(err) || errors.Is(err, errUnreadable) {
		t.Errorf("newestReadable with the API server unavailable = %v, %v, want its error", rel, err)
	}
}

// TestRecordsKeepTheirStatusAndTheOldestFormat: a record's status label (what the release's state is
// read from, without decoding it) is the release's own; a record as the oldest Helm 3 wrote it, not
// compressed, is read. (That deleting a record gone already is no error is
// TestDeletingARecordGoneAlreadyIsNoError, on a real API server.)
func TestRecordsKeepTheirStatusAndTheOldestFormat(t *testing.T) {
	for _, status := range []rcommon.Status{rcommon.StatusPendingUpgrade, rcommon.StatusFailed, rcommon.StatusDeployed} {
		rel := &releasev1.Release{Name: "istiod", Namespace: "ns", Version: 2, Info: &releasev1.Info{Status: status}}
		secret, err := recordSecret(rel, "createdAt", nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := secret.Labels["status"]; got != status.String() {
			t.Errorf("a %s record is labelled status %q", status, got)
		}
	}
	rel, err := decodeRecord([]byte(base64.StdEncoding.EncodeToString([]byte(`{"name":"istiod","version":1,"info":{"status":"deployed"}}`))))
	if err != nil || rel.Name != "istiod" || rel.Info.Status != rcommon.StatusDeployed {
		t.Errorf("an uncompressed record decoded as %v, %v", rel, err)
	}
}
