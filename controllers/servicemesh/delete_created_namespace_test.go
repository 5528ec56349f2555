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
	"errors"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// createdNamespace is a control-plane namespace as meshkeeper's create leaves it: the created-by label,
// written by meshkeeper's Update entry stamped at the creation, followed by the entries of others.
func createdNamespace(others ...metav1.ManagedFieldsEntry) *corev1.Namespace {
	created := metav1.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	entries := []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "v1", Time: &created, FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:kubernetes.io/metadata.name":{},"f:mesh.meshkeeper.io/created-by":{}}}}`)}}
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system", UID: "ns-uid", CreationTimestamp: created,
		Labels:        map[string]string{createdNamespaceLabel: meshv1alpha1.FieldManager, "kubernetes.io/metadata.name": "istio-system"},
		ManagedFields: append(entries, others...)}}
}

// namespaceDeleter is a Reconciler that looks into and deletes ns through a fake API server, with
// del standing in for the API server's answer to the namespace's deletion when it is not nil.
func namespaceDeleter(t *testing.T, ns *corev1.Namespace, del func(client.Object, ...client.DeleteOption) error) (*Reconciler, *events.FakeRecorder, client.Client) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(ns).WithReturnManagedFields().
		WithInterceptorFuncs(interceptor.Funcs{
			Delete: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.DeleteOption) error {
				if _, isNamespace := obj.(*corev1.Namespace); isNamespace && del != nil {
					if err := del(obj, opts...); err != nil {
						return err
					}
				}
				return c.Delete(ctx, obj, opts...)
			},
		}).Build()
	recorder := events.NewFakeRecorder(10)
	r := &Reconciler{Client: c, APIReader: c, Recorder: recorder}
	r.revisionState.discovery = fakeResourceDiscovery{lists: servedLists()}
	return r, recorder, c
}

// namespaceGone tells whether the namespace was deleted.
func namespaceGone(t *testing.T, c client.Client, name string) bool {
	t.Helper()
	err := c.Get(t.Context(), client.ObjectKey{Name: name}, &corev1.Namespace{})
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	return apierrors.IsNotFound(err)
}

// recorded drains the Events recorded so far.
func recorded(recorder *events.FakeRecorder) []string {
	var got []string
	for {
		select {
		case e := <-recorder.Events:
			got = append(got, e)
		default:
			return got
		}
	}
}

// TestDeleteCreatedNamespaceRefused: an admission policy or webhook that forbids deleting namespaces
// (a common guard against deleting them by mistake), or RBAC without delete on namespaces, refuses the
// deletion of the empty namespace meshkeeper created. Keeping a namespace loses nothing, and retrying
// cannot change the answer: the namespace is kept and named, and the uninstall finishes instead of
// keeping the ServiceMesh Terminating for ever.
func TestDeleteCreatedNamespaceRefused(t *testing.T) {
	nsResource := schema.GroupResource{Resource: "namespaces"}
	tests := map[string]error{
		"an admission policy forbids it": apierrors.NewForbidden(nsResource, "istio-system",
			errors.New(`ValidatingAdmissionPolicy 'protect-namespaces' with binding 'protect-namespaces' denied request: namespaces are not deleted`)),
		"an admission webhook denies it": apierrors.NewBadRequest(`admission webhook "validate.kyverno.svc" denied the request: namespaces are not deleted`),
		"RBAC does not allow it":         apierrors.NewForbidden(nsResource, "istio-system", errors.New(`User "system:serviceaccount:meshkeeper-system:meshkeeper" cannot delete resource`)),
	}
	for name, refusal := range tests {
		t.Run(name, func(t *testing.T) {
			r, recorder, c := namespaceDeleter(t, createdNamespace(), func(client.Object, ...client.DeleteOption) error { return refusal })
			mesh := testMesh()
			if err := r.deleteCreatedNamespace(t.Context(), mesh, "istio-system"); err != nil {
				t.Fatalf("deleteCreatedNamespace = %v, want the namespace kept and the uninstall finished", err)
			}
			if namespaceGone(t, c, "istio-system") {
				t.Fatal("the namespace is gone")
			}
			got := strings.Join(recorded(recorder), "\n")
			if !strings.Contains(got, "NamespaceKept") || !strings.Contains(got, "denied") && !strings.Contains(got, "cannot delete") {
				t.Errorf("Events = %q, want NamespaceKept naming the refusal", got)
			}
		})
	}

	t.Run("a failure for now is retried", func(t *testing.T) {
		r, _, c := namespaceDeleter(t, createdNamespace(), func(client.Object, ...client.DeleteOption) error {
			return apierrors.NewServiceUnavailable("etcd is unavailable")
		})
		if err := r.deleteCreatedNamespace(t.Context(), testMesh(), "istio-system"); err == nil {
			t.Error("deleteCreatedNamespace = nil, want the failure retried")
		}
		if namespaceGone(t, c, "istio-system") {
			t.Error("the namespace is gone")
		}
	})
}

// TestDeleteCreatedNamespaceWrittenByOthers: a namespace meshkeeper created is no longer meshkeeper's
// alone once another field manager wrote on it: a label of the user's (the network of a multi-network
// mesh, a Pod Security level), a GitOps tool that took it over from a manifest of its own. Deleting it
// would delete what they wrote, and a GitOps tool would see its namespace vanish. Only what the
// namespace controller writes in the status subresource does not count.
func TestDeleteCreatedNamespaceWrittenByOthers(t *testing.T) {
	later := metav1.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	entry := func(manager string, op metav1.ManagedFieldsOperationType, subresource, fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", Time: &later,
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields), Subresource: subresource}
	}
	tests := map[string]struct {
		others   []metav1.ManagedFieldsEntry
		wantKept bool
	}{
		"meshkeeper's alone": {},
		"the namespace controller's status": {others: []metav1.ManagedFieldsEntry{
			entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", `{"f:status":{"f:conditions":{}}}`)}},
		"a label of the user's": {others: []metav1.ManagedFieldsEntry{
			entry("kubectl-label", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{"f:topology.istio.io/network":{}}}}`)},
			wantKept: true},
		"a Pod Security level": {others: []metav1.ManagedFieldsEntry{
			entry("kubectl-label", metav1.ManagedFieldsOperationUpdate, "", `{"f:metadata":{"f:labels":{"f:pod-security.kubernetes.io/enforce":{}}}}`)},
			wantKept: true},
		"taken over by Argo CD": {others: []metav1.ManagedFieldsEntry{
			entry("argocd-controller", metav1.ManagedFieldsOperationApply, "", `{"f:metadata":{"f:annotations":{"f:argocd.argoproj.io/tracking-id":{}},"f:labels":{"f:team":{}}}}`)},
			wantKept: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r, recorder, c := namespaceDeleter(t, createdNamespace(tc.others...), nil)
			if err := r.deleteCreatedNamespace(t.Context(), testMesh(), "istio-system"); err != nil {
				t.Fatal(err)
			}
			if kept := !namespaceGone(t, c, "istio-system"); kept != tc.wantKept {
				t.Fatalf("namespace kept = %v, want %v", kept, tc.wantKept)
			}
			if tc.wantKept {
				got := strings.Join(recorded(recorder), "\n")
				if !strings.Contains(got, "NamespaceKept") || !strings.Contains(got, tc.others[0].Manager) {
					t.Errorf("Events = %q, want NamespaceKept naming %s", got, tc.others[0].Manager)
				}
			}
		})
	}
}

// TestDeleteCreatedNamespaceChangedMeanwhile: looking into every kind the API server serves takes a
// request per kind. A tool that labels the namespace meanwhile (or deletes it and creates its own of
// the same name) makes what was looked at stale: the deletion must not go through on it.
func TestDeleteCreatedNamespaceChangedMeanwhile(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	labelled := false
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(createdNamespace()).WithReturnManagedFields().
		WithInterceptorFuncs(interceptor.Funcs{
			List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
				if !labelled {
					labelled = true
					ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system"}}
					if err := c.Patch(ctx, ns, client.RawPatch(types.MergePatchType,
						[]byte(`{"metadata":{"labels":{"topology.istio.io/network":"net1"}}}`)), client.FieldOwner("kubectl-label")); err != nil {
						return err
					}
				}
				return c.List(ctx, list, opts...)
			},
		}).Build()
	r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(10)}
	r.revisionState.discovery = fakeResourceDiscovery{lists: servedLists()}
	err := r.deleteCreatedNamespace(t.Context(), testMesh(), "istio-system")
	if namespaceGone(t, c, "istio-system") {
		t.Fatalf("the namespace was deleted although it was labelled after it was looked at (deleteCreatedNamespace = %v)", err)
	}
	if err == nil {
		t.Error("deleteCreatedNamespace = nil, want a retry that looks at the namespace as it is now")
	}
	// The retry sees the label, and keeps the namespace for good.
	if err := r.deleteCreatedNamespace(t.Context(), testMesh(), "istio-system"); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if namespaceGone(t, c, "istio-system") {
		t.Fatal("the retry deleted the namespace another manager labelled")
	}
}
