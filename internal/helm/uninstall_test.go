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
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// Uninstall tells whether it removed a release, so that its caller counts only the uninstalls that
// happened: not that of a release without a record of meshkeeper's (none at all, or another
// installation's of the same name), and not that of a release whose first read the API server could
// not answer, which is retried.
func TestUninstallTellsWhetherItRemovedTheRelease(t *testing.T) {
	fastRetries(t)
	record := func(release, digest string) *corev1.Secret {
		labels := map[string]string{"owner": "helm", "name": release, "version": "1", "status": "deployed"}
		if digest != "" {
			labels[DigestLabel] = digest
		}
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: recordName(release, 1), Labels: labels}}
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	lists := 0
	c := fake.NewClientBuilder().WithScheme(scheme).
		WithObjects(record("istiod", "d1"), record("istio-base", "")).
		WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				if lists++; lists == 1 {
					return apierrors.NewServiceUnavailable("the server is restarting")
				}
				return c.List(ctx, list, opts...)
			},
		}).Build()
	m := NewChartManager(&rest.Config{}, c, c)

	for _, tc := range []struct {
		release     string
		wantRemoved bool
		wantRecord  bool
	}{
		{release: "istiod", wantRemoved: true},
		{release: "istio-base", wantRecord: true}, // another installation's
		{release: "istio-cni"},
	} {
		removed, err := m.Uninstall(t.Context(), "ns", tc.release, Owner{UID: "uid"})
		if err != nil {
			t.Fatalf("Uninstall(%s): %v", tc.release, err)
		}
		if removed != tc.wantRemoved {
			t.Errorf("Uninstall(%s) removed = %t, want %t", tc.release, removed, tc.wantRemoved)
		}
		err = c.Get(t.Context(), client.ObjectKey{Namespace: "ns", Name: recordName(tc.release, 1)}, &corev1.Secret{})
		if tc.wantRecord != (err == nil) {
			t.Errorf("Uninstall(%s) left its record: %t, want %t (%v)", tc.release, err == nil, tc.wantRecord, err)
		}
	}
	if lists != 4 {
		t.Errorf("the releases' records were listed %d times, want 4: the 503 and its retry, then one a release", lists)
	}
}
