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
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// A ServiceCIDR update brings the controller's pod template back only when the ranges that count
// change: a range added or removed, or a ServiceCIDR becoming Ready or no longer Ready.
func TestServiceCIDRChanged(t *testing.T) {
	tests := map[string]struct {
		old, new networkingv1.ServiceCIDR
		want     bool
	}{
		"a range added":       {old: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16"), new: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16", "fd00::/108"), want: true},
		"becoming Ready":      {old: serviceCIDR("a", metav1.ConditionFalse, "10.96.0.0/16"), new: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16"), want: true},
		"no longer Ready":     {old: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16"), new: serviceCIDR("a", metav1.ConditionFalse, "10.96.0.0/16"), want: true},
		"nothing that counts": {old: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16"), new: serviceCIDR("a", metav1.ConditionTrue, "10.96.0.0/16"), want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			e := event.TypedUpdateEvent[*networkingv1.ServiceCIDR]{ObjectOld: &tt.old, ObjectNew: &tt.new}
			if got := serviceCIDRChanged.Update(e); got != tt.want {
				t.Errorf("serviceCIDRChanged.Update() = %v, want %v", got, tt.want)
			}
		})
	}
}
