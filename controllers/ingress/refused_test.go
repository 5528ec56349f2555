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

package ingress

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// refusing is a Reconciler whose Ingress shop/web holds both of meshkeeper's annotations while the
// integration is off, so its reconcile takes them back; every write of it gets *answer from the API
// server.
func refusing(t *testing.T, answer *error) (*Reconciler, *events.FakeRecorder, ctrl.Request) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web",
		Annotations: map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "web.shop.svc"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: "networking.k8s.io/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(
				`{"f:metadata":{"f:annotations":{"f:nginx.ingress.kubernetes.io/service-upstream":{},"f:nginx.ingress.kubernetes.io/upstream-vhost":{}}}}`)}},
	}}
	// The writes never reach the fake client, so the Ingress keeps what there is to take back.
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(mesh, ing).WithReturnManagedFields().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
			return *answer
		},
	}).Build()
	recorder := events.NewFakeRecorder(100)
	return &Reconciler{Client: c, Recorder: recorder}, recorder, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)}
}

// received returns the Events recorder holds.
func received(recorder *events.FakeRecorder) []string {
	var got []string
	for {
		select {
		case e := <-recorder.Events:
			got = append(got, e)
		case <-time.After(10 * time.Millisecond):
			return got
		}
	}
}

var denied = apierrors.NewForbidden(schema.GroupResource{Group: "networking.k8s.io", Resource: "ingresses"}, "web",
	errors.New("ValidatingAdmissionPolicy 'ingress-annotations' with binding 'ingress-annotations' denied request: upstream-vhost is not allowed"))

// A write of an Ingress's annotations that the API server refuses is reported on the Ingress, once per
// change of the API server's answer and not on every retry; a failure only of the API server's making
// (a 503) only when the attempt after it fails too; and again after a write went through and the next
// one is refused.
func TestRefusedWriteIsReportedOncePerChange(t *testing.T) {
	unavailable := apierrors.NewServiceUnavailable("the server is currently unable to handle the request")
	webhookDown := apierrors.NewInternalError(errors.New(`failed calling webhook "validate.nginx.ingress.kubernetes.io": ` +
		`failed to call webhook: Post "https://ingress-nginx-controller-admission.ingress-nginx.svc:443/networking/v1/ingresses?timeout=10s": ` +
		`no endpoints available for service "ingress-nginx-controller-admission"`))
	var answer error
	r, recorder, req := refusing(t, &answer)
	for _, step := range []struct {
		name   string
		answer error
		want   string
	}{
		{name: "a first 503", answer: unavailable},
		{name: "a second 503 in a row", answer: unavailable, want: "the server is currently unable to handle the request"},
		{name: "a third 503 in a row", answer: unavailable},
		{name: "ingress-nginx's webhook without endpoints", answer: webhookDown, want: "no endpoints available"},
		{name: "ingress-nginx's webhook without endpoints again", answer: webhookDown},
		{name: "an admission policy's denial", answer: denied, want: "upstream-vhost is not allowed"},
		{name: "the same denial again", answer: denied},
		{name: "the write going through", answer: nil},
		{name: "the same denial after a write went through", answer: denied, want: "upstream-vhost is not allowed"},
	} {
		answer = step.answer
		_, err := r.Reconcile(context.Background(), req)
		if (err != nil) != (step.answer != nil) {
			t.Fatalf("%s: reconcile returned %v, want the API server's answer %v", step.name, err, step.answer)
		}
		got := received(recorder)
		switch {
		case step.want == "" && len(got) > 0:
			t.Errorf("%s: want no Event, got %q", step.name, got)
		case step.want != "" && len(got) != 1:
			t.Errorf("%s: want one Warning saying %q, got %q", step.name, step.want, got)
		case step.want != "" && (!strings.Contains(got[0], "Warning "+ReasonApplyFailed) || !strings.Contains(got[0], step.want) ||
			!strings.Contains(got[0], "take its nginx.ingress.kubernetes.io/service-upstream and upstream-vhost back")):
			t.Errorf("%s: want a %s Warning that says the annotations could not be taken back and %q, got %q",
				step.name, ReasonApplyFailed, step.want, got[0])
		}
	}
}

// A refusal that is no blip (an admission policy's denial) is reported on its first occurrence.
func TestRefusalIsReportedAtOnce(t *testing.T) {
	answer := error(denied)
	r, recorder, req := refusing(t, &answer)
	if _, err := r.Reconcile(context.Background(), req); err == nil {
		t.Fatal("the reconcile of a refused write returned no error, so it is not retried")
	}
	got := received(recorder)
	if len(got) != 1 || !strings.Contains(got[0], "Warning "+ReasonApplyFailed) || !strings.Contains(got[0], "upstream-vhost is not allowed") {
		t.Errorf("want one %s Warning with the API server's answer on the first refusal, got %q", ReasonApplyFailed, got)
	}
}
