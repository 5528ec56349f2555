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
	"errors"
	"fmt"
	"io"
	"net/url"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	"github.com/meshkeeper/meshkeeper/internal/apply"
)

var configMaps = schema.GroupResource{Resource: "configmaps"}

func objectMeta(name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: "ns", Name: name} }

func TestTransient(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewInternalError(errors.New("etcd leader changed")), true},
		{apierrors.NewTooManyRequests("slow down", 1), true},
		{apierrors.NewServerTimeout(configMaps, "get", 1), true},
		{apierrors.NewTimeoutError("took too long", 1), true},
		{apierrors.NewServiceUnavailable("restarting"), true},
		{&url.Error{Op: "Get", URL: "https://api", Err: io.ErrUnexpectedEOF}, true},
		{&url.Error{Op: "Get", URL: "https://api", Err: syscall.ECONNRESET}, true},
		{&url.Error{Op: "Get", URL: "https://api", Err: syscall.ECONNREFUSED}, true},
		{fmt.Errorf(`Get "https://api/version": %w`, errors.New("stream error: stream ID 1179; INTERNAL_ERROR; received from peer")), true},
		{apierrors.NewNotFound(configMaps, "x"), false},
		{apierrors.NewForbidden(configMaps, "x", errors.New("no")), false},
		{apierrors.NewConflict(configMaps, "x", errors.New("modified")), false},
		{apierrors.NewInvalid(schema.GroupKind{Kind: "ConfigMap"}, "x", nil), false},
		{apierrors.NewAlreadyExists(configMaps, "x"), false},
		{context.Canceled, false},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%v) = %t, want %t", tc.err, got, tc.want)
		}
	}
}

// fastRetries shortens the backoff for a test.
func fastRetries(t *testing.T) {
	saved := requestBackoff
	requestBackoff = wait.Backoff{Steps: saved.Steps, Duration: time.Millisecond, Factor: 1}
	t.Cleanup(func() { requestBackoff = saved })
}

// failing is a client whose every request of a kind fails with the next of errs, then succeeds; calls
// counts the requests of each verb.
func failing(t *testing.T, errs []error) (client.Client, map[string]int) {
	t.Helper()
	calls := map[string]int{}
	next := func(verb string) error {
		calls[verb]++
		if calls[verb] <= len(errs) {
			return errs[calls[verb]-1]
		}
		return nil
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&corev1.ConfigMap{ObjectMeta: objectMeta("present")},
	).WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if err := next("get"); err != nil {
				return err
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Update: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.UpdateOption) error {
			if err := next("update"); err != nil {
				return err
			}
			return c.Update(ctx, obj, opts...)
		},
		Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
			return next("apply")
		},
		Patch: func(_ context.Context, _ client.WithWatch, _ client.Object, patch client.Patch, _ ...client.PatchOption) error {
			return next(string(patch.Type()))
		},
	}).Build()
	return retryingClient{c}, calls
}

func TestTransientErrorsAreRetried(t *testing.T) {
	fastRetries(t)
	internal := apierrors.NewInternalError(errors.New("injected"))
	c, calls := failing(t, []error{internal, internal})
	cm := &corev1.ConfigMap{}
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "present"}, cm); err != nil {
		t.Fatalf("a read that failed twice with a transient error was not retried: %v", err)
	}
	if calls["get"] != 3 || cm.Name != "present" {
		t.Errorf("got %d reads and %q, want 3 and the ConfigMap", calls["get"], cm.Name)
	}
}

func TestRetriesEnd(t *testing.T) {
	fastRetries(t)
	internal := apierrors.NewInternalError(errors.New("injected"))
	c, calls := failing(t, []error{internal, internal, internal, internal, internal})
	err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "present"}, &corev1.ConfigMap{})
	if !apierrors.IsInternalError(err) {
		t.Fatalf("got %v, want the last internal error", err)
	}
	if calls["get"] != requestBackoff.Steps {
		t.Errorf("got %d reads, want %d", calls["get"], requestBackoff.Steps)
	}
}

func TestRefusalsAreNotRetried(t *testing.T) {
	fastRetries(t)
	forbidden := apierrors.NewForbidden(configMaps, "present", errors.New("no"))
	c, calls := failing(t, []error{forbidden})
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "present"}, &corev1.ConfigMap{}); !apierrors.IsForbidden(err) {
		t.Fatalf("got %v, want forbidden", err)
	}
	if calls["get"] != 1 {
		t.Errorf("a refused read was made %d times", calls["get"])
	}
}

// An apply has no resource version: a conflict is retried. An update's conflict says the object changed
// since it was read, and another try cannot succeed.
func TestConflictsAreRetriedForAppliesOnly(t *testing.T) {
	fastRetries(t)
	conflict := apierrors.NewConflict(configMaps, "present", errors.New("modified"))
	c, calls := failing(t, []error{conflict})
	cm := &corev1.ConfigMap{ObjectMeta: objectMeta("present")}
	if err := c.Update(context.Background(), cm); !apierrors.IsConflict(err) {
		t.Fatalf("got %v, want the update's conflict", err)
	}
	if calls["update"] != 1 {
		t.Errorf("a conflicting update was made %d times", calls["update"])
	}
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("v1")
	u.SetKind("ConfigMap")
	u.SetNamespace("ns")
	u.SetName("present")
	if err := c.Apply(context.Background(), client.ApplyConfigurationFromUnstructured(u)); err != nil {
		t.Fatalf("an apply that conflicted once was not retried: %v", err)
	}
	if calls["apply"] != 2 {
		t.Errorf("got %d applies, want 2", calls["apply"])
	}

	// The same for an apply sent as a patch (apply.Object's), and not for any other patch.
	c, calls = failing(t, []error{conflict})
	if _, err := apply.Object(context.Background(), c, u); err != nil {
		t.Fatalf("an apply patch that conflicted once was not retried: %v", err)
	}
	if n := calls[string(types.ApplyPatchType)]; n != 2 {
		t.Errorf("got %d apply patches, want 2", n)
	}
	c, calls = failing(t, []error{conflict})
	if err := c.Patch(context.Background(), cm, client.RawPatch(types.MergePatchType, []byte(`{}`))); !apierrors.IsConflict(err) {
		t.Fatalf("got %v, want the merge patch's conflict", err)
	}
	if n := calls[string(types.MergePatchType)]; n != 1 {
		t.Errorf("a conflicting merge patch was made %d times", n)
	}
}

func TestRetriesStopWithTheContext(t *testing.T) {
	saved := requestBackoff
	requestBackoff = wait.Backoff{Steps: 4, Duration: time.Hour}
	t.Cleanup(func() { requestBackoff = saved })
	ctx, cancel := context.WithCancel(context.Background())
	c, calls := failing(t, []error{apierrors.NewInternalError(errors.New("injected"))})
	time.AfterFunc(20*time.Millisecond, cancel)
	done := make(chan error)
	go func() { done <- c.Get(ctx, client.ObjectKey{Namespace: "ns", Name: "present"}, &corev1.ConfigMap{}) }()
	select {
	case err := <-done:
		if !apierrors.IsInternalError(err) || calls["get"] != 1 {
			t.Errorf("got %v after %d reads, want the internal error after 1", err, calls["get"])
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the retry went on after its context ended")
	}
}
