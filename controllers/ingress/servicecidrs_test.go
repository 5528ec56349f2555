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
	"slices"
	"strings"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

func serviceCIDR(name string, readyStatus metav1.ConditionStatus, cidrs ...string) networkingv1.ServiceCIDR {
	s := networkingv1.ServiceCIDR{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: networkingv1.ServiceCIDRSpec{CIDRs: cidrs}}
	if readyStatus != "" {
		s.Status.Conditions = []metav1.Condition{{Type: networkingv1.ServiceCIDRConditionReady, Status: readyStatus, Reason: "Test"}}
	}
	return s
}

func TestServiceCIDRs(t *testing.T) {
	terminating := serviceCIDR("old", metav1.ConditionFalse, "10.200.0.0/16")
	terminating.DeletionTimestamp = new(metav1.Now())
	for name, tc := range map[string]struct {
		served  bool
		items   []networkingv1.ServiceCIDR
		want    []string
		message string // a part of the message, when want is empty
	}{
		"the default ServiceCIDR of a single-stack cluster": {
			served: true,
			items:  []networkingv1.ServiceCIDR{serviceCIDR("kubernetes", metav1.ConditionTrue, "10.96.0.0/12")},
			want:   []string{"10.96.0.0/12"},
		},
		"a dual-stack ServiceCIDR, IPv6 listed first, gives IPv4 first": {
			served: true,
			items:  []networkingv1.ServiceCIDR{serviceCIDR("kubernetes", metav1.ConditionTrue, "fd00:10:96::/112", "10.96.0.0/12")},
			want:   []string{"10.96.0.0/12", "fd00:10:96::/112"},
		},
		"every Ready ServiceCIDR counts, in address order whatever the order of the list": {
			served: true,
			items: []networkingv1.ServiceCIDR{
				serviceCIDR("extra", metav1.ConditionTrue, "10.100.0.0/16"),
				serviceCIDR("kubernetes", metav1.ConditionTrue, "10.96.0.0/12"),
			},
			want: []string{"10.96.0.0/12", "10.100.0.0/16"},
		},
		"a range listed twice counts once, in its canonical form": {
			served: true,
			items: []networkingv1.ServiceCIDR{
				serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/12"),
				serviceCIDR("b", metav1.ConditionTrue, "10.96.0.1/12"),
			},
			want: []string{"10.96.0.0/12"},
		},
		"ServiceCIDRs that are not Ready or have no status yet do not count": {
			served: true,
			items: []networkingv1.ServiceCIDR{
				serviceCIDR("kubernetes", metav1.ConditionTrue, "10.96.0.0/12"),
				serviceCIDR("pending", "", "10.101.0.0/16"),
				serviceCIDR("failing", metav1.ConditionFalse, "10.102.0.0/16"),
			},
			want: []string{"10.96.0.0/12"},
		},
		// The API server keeps a ServiceCIDR being deleted, Ready False, while Services still hold
		// ClusterIPs of it (the range moved to a new ServiceCIDR, the old one deleted): their traffic
		// stays captured until it is gone.
		"a ServiceCIDR being deleted counts": {
			served: true,
			items: []networkingv1.ServiceCIDR{
				serviceCIDR("kubernetes", metav1.ConditionTrue, "10.96.0.0/12"),
				terminating,
			},
			want: []string{"10.96.0.0/12", "10.200.0.0/16"},
		},
		"a range that is no CIDR is left out": {
			served: true,
			items:  []networkingv1.ServiceCIDR{serviceCIDR("kubernetes", metav1.ConditionTrue, "10.96.0.0/12", "services")},
			want:   []string{"10.96.0.0/12"},
		},
		"no Ready ServiceCIDR tells nothing": {
			served:  true,
			items:   []networkingv1.ServiceCIDR{serviceCIDR("pending", metav1.ConditionFalse, "10.96.0.0/12")},
			message: "no Ready ServiceCIDR",
		},
		"a cluster without the API tells nothing, and the message says what to set": {
			served:  false,
			message: "set spec.ingressNginx.serviceCIDRs",
		},
	} {
		t.Run(name, func(t *testing.T) {
			got, message := ServiceCIDRs(tc.served, tc.items)
			if !slices.Equal(got, tc.want) {
				t.Errorf("ServiceCIDRs = %q, want %q", got, tc.want)
			}
			if len(tc.want) == 0 && !strings.Contains(message, tc.message) {
				t.Errorf("message %q does not say %q", message, tc.message)
			}
			if len(tc.want) > 0 && message != "" {
				t.Errorf("message %q along with ranges", message)
			}
		})
	}
}

func TestServiceCIDRsServed(t *testing.T) {
	without := meta.NewDefaultRESTMapper([]schema.GroupVersion{networkingv1.SchemeGroupVersion})
	without.Add(networkingv1.SchemeGroupVersion.WithKind("Ingress"), meta.RESTScopeNamespace)
	with := meta.NewDefaultRESTMapper([]schema.GroupVersion{networkingv1.SchemeGroupVersion})
	with.Add(serviceCIDRKind, meta.RESTScopeRoot)
	if served, err := ServiceCIDRsServed(without); served || err != nil {
		t.Errorf("without the kind: served = %v, %v; want false, nil", served, err)
	}
	if served, err := ServiceCIDRsServed(with); !served || err != nil {
		t.Errorf("with the kind: served = %v, %v; want true, nil", served, err)
	}
}

// The explicit field wins without a read; a cluster that does not serve the API (which the envtest API
// server, serving it, cannot show) is the terminal ServiceCIDRsUnknown failure, not an error to retry.
func TestWithServiceCIDRs(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	lists := 0
	notServed := fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
		List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
			lists++
			return &meta.NoKindMatchError{GroupKind: serviceCIDRKind.GroupKind(), SearchedVersions: []string{"v1"}}
		},
	}).Build()

	explicit := meshv1alpha1.IngressNginxSpec{ServiceCIDRs: []string{"10.0.0.0/16"}}
	got, err := WithServiceCIDRs(context.Background(), notServed, explicit)
	if err != nil || !slices.Equal(got.ServiceCIDRs, explicit.ServiceCIDRs) || lists != 0 {
		t.Errorf("explicit field: %q, %v after %d list(s); want the spec's ranges without a read", got.ServiceCIDRs, err, lists)
	}

	_, err = WithServiceCIDRs(context.Background(), notServed, meshv1alpha1.IngressNginxSpec{})
	e := meshctx.Classify(err)
	if e == nil || !e.Terminal || e.Reason != meshv1alpha1.ReasonServiceCIDRsUnknown {
		t.Fatalf("API not served: error %v, want the terminal %s failure", err, meshv1alpha1.ReasonServiceCIDRsUnknown)
	}
	if !strings.Contains(e.Error(), "set spec.ingressNginx.serviceCIDRs") {
		t.Errorf("message %q does not tell the user to set serviceCIDRs", e.Error())
	}
}
