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

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// When the named controller can no longer be configured (its pod template now asks for the host's
// network), meshkeeper's write of its pod template takes the sidecar settings back; the Warning for a
// refusal of that write says they could not be taken back, not that they could not be put on.
func TestRefusedReleaseOfTheNamedControllerSaysSo(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	controller := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "ingress-nginx-controller",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: "apps/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(
				`{"f:spec":{"f:template":{"f:metadata":{"f:labels":{"f:sidecar.istio.io/inject":{}}}}}}`)}},
	}}
	controller.Spec.Template.Labels = map[string]string{policy.SidecarInject: "true"}
	controller.Spec.Template.Spec.HostNetwork = true
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	mesh.Spec.IngressNginx.Enabled = new(true)
	mesh.Spec.IngressNginx.ServiceCIDRs = []string{"10.96.0.0/12"}
	mesh.Spec.IngressNginx.Controller = meshv1alpha1.WorkloadReference{Kind: "Deployment", Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}
	freeze := apierrors.NewForbidden(schema.GroupResource{Group: "apps", Resource: "deployments"}, "ingress-nginx-controller",
		errors.New("ValidatingAdmissionPolicy 'change-freeze' denied request: pod templates are frozen"))
	// The writes never reach the fake client, so the Deployment keeps what there is to take back. The
	// fake client answers no SubjectAccessReview: the API server's answer is that the controller may
	// list IngressClasses.
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(mesh, controller).WithReturnManagedFields().WithInterceptorFuncs(interceptor.Funcs{
		Patch: func(context.Context, client.WithWatch, client.Object, client.Patch, ...client.PatchOption) error {
			return freeze
		},
		Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			if review, ok := obj.(*authorizationv1.SubjectAccessReview); ok {
				review.Status.Allowed = true
				return nil
			}
			return c.Create(ctx, obj, opts...)
		},
	}).Build()
	recorder := events.NewFakeRecorder(10)
	r := &WorkloadReconciler{Client: c, APIReader: c, Workloads: readerCache{reader: c}, Recorder: recorder, Report: NewWorkloadReport()}

	if _, err := r.Reconcile(context.Background(), ingressNginxRequest); err == nil {
		t.Fatal("the reconcile of a refused write returned no error, so it is not retried")
	}
	var refusals []string
	for _, e := range received(recorder) {
		if strings.Contains(e, "Warning "+ReasonWorkloadApplyFailed) {
			refusals = append(refusals, e)
		}
	}
	if len(refusals) != 2 {
		t.Fatalf("want a %s Warning on the Deployment and on the ServiceMesh, got %q", ReasonWorkloadApplyFailed, refusals)
	}
	for _, e := range refusals {
		if !strings.Contains(e, "take its sidecar settings back from the pod template of Deployment ingress-nginx/ingress-nginx-controller") {
			t.Errorf("want the Warning to say the sidecar settings could not be taken back, got %q", e)
		}
	}
}
