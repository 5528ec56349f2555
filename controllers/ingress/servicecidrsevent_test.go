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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// readerCache is a workload cache that only reads: the reconcile under test starts no informer.
type readerCache struct {
	cache.Cache
	reader client.Reader
}

func (c readerCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.reader.Get(ctx, key, obj, opts...)
}

func (c readerCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.reader.List(ctx, list, opts...)
}

// When the Service ranges are unknown, the Warning goes to the ingress-nginx controller's workload
// too, as it does for every other reason the controller cannot be configured: whoever describes the
// workload sees why it has no sidecar.
func TestServiceCIDRsUnknownIsReportedOnTheWorkload(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	controller := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}}
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	mesh.Spec.IngressNginx.Enabled = new(true)
	mesh.Spec.IngressNginx.Controller = meshv1alpha1.WorkloadReference{Kind: "Deployment", Namespace: "ingress-nginx", Name: "ingress-nginx-controller"}
	// No ServiceCIDR is Ready (none at all) and spec.ingressNginx.serviceCIDRs is unset.
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(mesh, controller).Build()
	recorder := events.NewFakeRecorder(10)
	recorder.Verbose = true
	r := &WorkloadReconciler{Client: c, APIReader: c, Workloads: readerCache{reader: c}, Recorder: recorder}

	if _, err := r.Reconcile(context.Background(), ingressNginxRequest); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	close(recorder.Events)
	var onWorkload, all []string
	for e := range recorder.Events {
		all = append(all, e)
		if strings.Contains(e, meshv1alpha1.ReasonServiceCIDRsUnknown) && strings.Contains(e, "{kind=Deployment,") {
			onWorkload = append(onWorkload, e)
		}
	}
	if len(onWorkload) != 1 {
		t.Errorf("want one %s Warning on the controller's Deployment, got the events %q", meshv1alpha1.ReasonServiceCIDRsUnknown, all)
	}
	if len(all) != 2 {
		t.Errorf("want the Warning on the Deployment and on the ServiceMesh, got %q", all)
	}
}
