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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// meshkeeper asks the API server whether the service account of the controller's pods may list
// IngressClasses, as ingress-nginx asks as it starts; the API server's answers a test cluster does not
// give (meshkeeper may not ask, an outage) are injected.
func TestIngressClassesForbiddenAsksForTheControllersServiceAccount(t *testing.T) {
	outage := apierrors.NewServiceUnavailable("etcd is down")
	mayNotAsk := apierrors.NewForbidden(schema.GroupResource{Group: "authorization.k8s.io", Resource: "subjectaccessreviews"}, "", errors.New("no"))
	tests := map[string]struct {
		args    []string
		allowed bool
		err     error
		want    bool
		wantErr bool
		asked   bool
	}{
		"allowed":                  {allowed: true, asked: true},
		"not allowed":              {want: true, asked: true},
		"meshkeeper may not ask":   {err: mayNotAsk, asked: true},
		"the API server is down":   {err: outage, wantErr: true, asked: true},
		"with a kubeconfig's user": {args: []string{"--kubeconfig=/etc/kube/config"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var asked *authorizationv1.SubjectAccessReview
			c := fake.NewClientBuilder().WithInterceptorFuncs(interceptor.Funcs{
				Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
					review := obj.(*authorizationv1.SubjectAccessReview)
					asked = review.DeepCopy()
					review.Status.Allowed = tc.allowed
					return tc.err
				},
			}).Build()
			template := &corev1.PodTemplateSpec{Spec: corev1.PodSpec{ServiceAccountName: "ingress-nginx",
				Containers: []corev1.Container{{Name: "controller", Args: append([]string{"/nginx-ingress-controller"}, tc.args...)}}}}
			got, err := ingressClassesForbidden(context.Background(), c, "edge", template)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Fatalf("ingressClassesForbidden() = %v, %v; want %v, an error: %v", got, err, tc.want, tc.wantErr)
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
