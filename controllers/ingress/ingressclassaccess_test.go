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
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// meshkeeper asks the API server whether the service account of the controller's pods may list
// IngressClasses, as ingress-nginx asks as it starts. A real API server's answers, allowed, denied and
// meshkeeper's own Forbidden, are the envtest tier's (TestIngressClassesForbiddenOnAnAPIServer); the
// answers no test API server gives, an outage and a timeout, are injected here.
func TestIngressClassesForbiddenAsksForTheControllersServiceAccount(t *testing.T) {
	tests := map[string]struct {
		args    []string
		err     error
		wantErr bool
		asked   bool
	}{
		"the API server is down":   {err: apierrors.NewServiceUnavailable("etcd is down"), wantErr: true, asked: true},
		"the question timed out":   {err: context.DeadlineExceeded, wantErr: true, asked: true},
		"with a kubeconfig's user": {args: []string{"--kubeconfig=/etc/kube/config"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var asked *authorizationv1.SubjectAccessReview
			c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
				Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
					asked = obj.(*authorizationv1.SubjectAccessReview).DeepCopy()
					return tc.err
				},
			}).Build()
			template := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "ingress-nginx",
				Containers: []corev1.Container{{Name: "controller", Args: append([]string{"/nginx-ingress-controller"}, tc.args...)}}}}
			got, err := ingressClassesForbidden(context.Background(), c, "edge", template)
			if got || (err != nil) != tc.wantErr {
				t.Fatalf("ingressClassesForbidden() = %v, %v; want false, an error: %v", got, err, tc.wantErr)
			}
			if tc.wantErr && !errors.Is(err, tc.err) {
				t.Errorf("ingressClassesForbidden() = %v, want it to wrap %v", err, tc.err)
			}
			if (asked != nil) != tc.asked {
				t.Fatalf("asked the API server: %v, want %v", asked != nil, tc.asked)
			}
			if asked == nil {
				return
			}
			spec := asked.Spec
			if spec.User != "system:serviceaccount:edge:ingress-nginx" || spec.ResourceAttributes == nil ||
				*spec.ResourceAttributes != (authorizationv1.ResourceAttributes{Verb: "list", Group: "networking.k8s.io", Version: "v1", Resource: "ingressclasses"}) {
				t.Errorf("asked %+v about %+v", spec.User, spec.ResourceAttributes)
			}
		})
	}
	if got, err := ingressClassesForbidden(context.Background(), nil, "edge", &corev1.PodTemplateSpec{}); got || err != nil {
		t.Errorf("without a client: %v, %v; want false, nil", got, err)
	}
}
