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

package servicemesh

import (
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"
)

// The watch of istiod's webhook configurations lets istiod's own rewrites pass silently (its CA bundle,
// its switch of the validator to fail closed once it serves), but wakes meshkeeper when someone else
// switches a webhook to fail open: istiod never does, and drift repair puts back the Fail the release
// sets. Without the wake-up, the repair waited for the next unrelated reconcile.
func TestWebhookWatchWakesOnAWebhookSwitchedToFailOpen(t *testing.T) {
	var kind ChartKind
	for _, k := range ChartKinds {
		if _, ok := k.Object.(*admissionregistrationv1.ValidatingWebhookConfiguration); ok {
			kind = k
		}
	}
	validator := func(policy admissionregistrationv1.FailurePolicyType, caBundle string) *admissionregistrationv1.ValidatingWebhookConfiguration {
		return &admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: "istio-validator-istio-system"},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "rev.validation.istio.io", FailurePolicy: ptr.To(policy),
				ClientConfig: admissionregistrationv1.WebhookClientConfig{CABundle: []byte(caBundle)}}}}
	}
	tests := map[string]struct {
		old, new *admissionregistrationv1.ValidatingWebhookConfiguration
		want     bool
	}{
		"istiod switches the validator to fail closed": {validator(admissionregistrationv1.Ignore, ""), validator(admissionregistrationv1.Fail, ""), false},
		"istiod writes its CA bundle":                  {validator(admissionregistrationv1.Fail, ""), validator(admissionregistrationv1.Fail, "ca"), false},
		"someone switches it to fail open":             {validator(admissionregistrationv1.Fail, "ca"), validator(admissionregistrationv1.Ignore, "ca"), true},
	}
	predicate := changedPredicate(kind)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := predicate.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.new}); got != tc.want {
				t.Errorf("the watch passes the update: %v, want %v", got, tc.want)
			}
		})
	}
}
