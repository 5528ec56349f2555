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

// TestNewestReadablePassesOverForgedRecords: the record an upgrade deletes objects by, or an uninstall
// removes them by, is the newest one at or before the revision asked for that holds that revision of
// that release. A record named for one revision that holds another release, or another revision, is
// passed over as unreadable; the first and last records of the range are read; an error of the API
// server is returned, never taken for an unreadable record.
func TestNewestReadablePassesOverForgedRecords(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	record := func(stored string, version int, holds string, holdsVersion int) client.Object {
		rel := &releasev1.Release{Name: holds, Namespace: "elsewhere", Version: holdsVersion,
			Info:   &releasev1.Info{Status: rcommon.StatusSuperseded},
			Labels: map[string]string{DigestLabel: "d1"}}
		secret, err := recordSecret(rel, "createdAt", nil)
		if err != nil {
			t.Fatal(err)
		}
		secret.Namespace, secret.Name = "ns", recordName(stored, version)
		return secret
	}
	unavailable := recordName("istiod", 6)
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(
			record("istiod", 1, "istiod", 1),
			record("istiod", 2, "istiod", 2),
			record("istiod", 3, "istio-base", 3), // another release's record under this one's name
			record("istiod", 4, "istiod", 2),     // another revision's record
			record("istiod", 5, "istiod", 5),
		).
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

	for _, tc := range []struct {
		upTo int
		want int // 0: none
	}{
		{upTo: 3, want: 2}, // revisions 4 and 3 are forged
		{upTo: 4, want: 5},
		{upTo: 1, want: 2},
		{upTo: 0, want: 1},
	} {
		rel, err := m.newestReadable(t.Context(), "ns", "istiod", heads, tc.upTo)
		if err != nil {
			t.Fatalf("newestReadable(up to revision %d): %v", heads[tc.upTo].Version, err)
		}
		if rel == nil || rel.Version != tc.want || rel.Name != "istiod" {
			t.Errorf("newestReadable(up to revision %d) = %v, want revision %d of istiod", heads[tc.upTo].Version, rel, tc.want)
			continue
		}
		if rel.Namespace != "ns" || rel.Labels[DigestLabel] != "d1" {
			t.Errorf("revision %d read in namespace %q with labels %v, want namespace ns and the digest label of its Secret",
				rel.Version, rel.Namespace, rel.Labels)
		}
	}
	if rel, err := m.newestReadable(t.Context(), "ns", "istiod", heads[2:4], 1); err != nil || rel != nil {
		t.Errorf("newestReadable of forged records alone = %v, %v, want none", rel, err)
	}
	if rel, err := m.newestReadable(t.Context(), "ns", "istiod", heads, 5); !apierrors.IsServiceUnavailable(err) || errors.Is(err, errUnreadable) {
		t.Errorf("newestReadable with the API server unavailable = %v, %v, want its error", rel, err)
	}
}

// TestRecordsKeepTheirStatusAndTheOldestFormat: a record's status label (what the release's state is
// read from, without decoding it) is the release's own; a record as the oldest Helm 3 wrote it, not
// compressed, is read; and deleting a record gone already is no error.
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

	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).Build()
	if err := NewChartManager(&rest.Config{}, c, c).deleteRecord(t.Context(), "ns", "istiod", 1); err != nil {
		t.Errorf("deleting a record gone already: %v", err)
	}
}
