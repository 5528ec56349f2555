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

package policy

import (
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
)

// A rule without paths (a host with no http) does not hide the backends of the rules after it.
func TestBackendServicesAfterARuleWithoutPaths(t *testing.T) {
	ing := &networkingv1.Ingress{Spec: networkingv1.IngressSpec{Rules: []networkingv1.IngressRule{
		{Host: "bare.example.com"},
		{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
			Paths: []networkingv1.HTTPIngressPath{{Backend: networkingv1.IngressBackend{
				Service: &networkingv1.IngressServiceBackend{Name: "shop"}}}}}}},
	}}}
	if got := BackendServices(ing); len(got) != 1 || got[0] != "shop" {
		t.Errorf("BackendServices() = %v, want [shop]", got)
	}
}
