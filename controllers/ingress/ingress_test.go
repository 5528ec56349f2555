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
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// A spec whose namespace selector the API server accepted but no selector can be made of is the
// ServiceMesh's to report; the Ingress controller leaves every Ingress as it is, as the namespace and
// policy controllers do, instead of taking its annotations back as if the integration were off.
func TestInvalidSelectorLeavesIngressesAlone(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	mesh := &meshv1alpha1.ServiceMesh{
		ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName},
		Spec: meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
			IngressNginx: meshv1alpha1.IngressNginxSpec{Enabled: ptr.To(true)},
			Injection: meshv1alpha1.InjectionSpec{NamespaceSelector: &metav1.LabelSelector{
				MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "mesh", Operator: metav1.LabelSelectorOpIn}}}}},
	}
	// meshkeeper's annotations, owned by its field manager as the API server records them.
	ing := &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web",
		Annotations: map[string]string{policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "web.shop.svc"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: "networking.k8s.io/v1", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(
				`{"f:metadata":{"f:annotations":{"f:` + policy.AnnotationServiceUpstream + `":{},"f:` + policy.AnnotationUpstreamVhost + `":{}}}}`)}}}}
	writes := 0
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(mesh, ing).WithReturnManagedFields().
		WithInterceptorFuncs(interceptor.Funcs{
			Apply: func(context.Context, client.WithWatch, runtime.ApplyConfiguration, ...client.ApplyOption) error {
				writes++
				return nil
			},
		}).Build()

	if _, err := NewView(context.Background(), c, mesh); !meshctx.IsTerminal(err) {
		t.Fatalf("NewView error = %v, want a terminal InvalidSpec failure", err)
	}
	r := &Reconciler{Client: c, Recorder: events.NewFakeRecorder(10)}
	result, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)})
	if err != nil || result != (ctrl.Result{}) {
		t.Errorf("Reconcile = %+v, %v; want nothing to retry", result, err)
	}
	if writes != 0 {
		t.Errorf("%d write(s) to an Ingress under a spec that cannot be carried out", writes)
	}

	// The same Ingress without a ServiceMesh gives meshkeeper's annotations back: the fake records them
	// as meshkeeper's, so the test above would see a write if the invalid spec counted as "no mesh".
	if err := c.Delete(context.Background(), mesh); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKeyFromObject(ing)}); err != nil {
		t.Fatal(err)
	}
	if writes != 1 {
		t.Errorf("%d write(s) without a ServiceMesh, want meshkeeper's annotations taken back once", writes)
	}
}
