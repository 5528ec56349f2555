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

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestSharingChanged: an Ingress change wakes the Ingresses that share an upstream with it when it may
// change their decision (its spec, its deletion, annotations someone else wrote), and meshkeeper's own
// writes of its two annotations do not, or each write would wake every Ingress of a group.
func TestSharingChanged(t *testing.T) {
	owner := func(manager string, keys ...string) metav1.ManagedFieldsEntry {
		fields := ""
		for i, key := range keys {
			if i > 0 {
				fields += ","
			}
			fields += `"f:` + key + `":{}`
		}
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: metav1.ManagedFieldsOperationApply, APIVersion: "networking.k8s.io/v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{` + fields + `}}}`)}
	}
	ing := func(generation int64, annotations map[string]string, managers ...metav1.ManagedFieldsEntry) *networkingv1.Ingress {
		return &networkingv1.Ingress{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Generation: generation,
			Annotations: annotations, ManagedFields: managers}}
	}
	meshed := map[string]string{"owner": "web", policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "web.shop.svc"}
	mine := owner(meshv1alpha1.FieldManager, policy.AnnotationServiceUpstream, policy.AnnotationUpstreamVhost)
	written := map[string]string{"owner": "web"}
	for name, tc := range map[string]struct {
		old, updated *networkingv1.Ingress
		want         bool
	}{
		"meshkeeper puts its annotations on":    {ing(1, written), ing(1, meshed, mine), false},
		"meshkeeper takes its annotations back": {ing(1, meshed, mine), ing(1, written), false},
		"the spec changes":                      {ing(1, meshed, mine), ing(2, meshed, mine), true},
		"the owner marks it a canary": {ing(1, meshed, mine),
			ing(1, map[string]string{"owner": "web", policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "web.shop.svc",
				policy.AnnotationCanary: "true"}, mine), true},
		"the owner sets service-upstream itself": {ing(1, written),
			ing(1, map[string]string{"owner": "web", policy.AnnotationServiceUpstream: "false"}, owner("kubectl-edit", policy.AnnotationServiceUpstream)), true},
		"the owner overwrites meshkeeper's upstream-vhost": {ing(1, meshed, mine),
			ing(1, map[string]string{"owner": "web", policy.AnnotationServiceUpstream: "true", policy.AnnotationUpstreamVhost: "shop.example.com"},
				owner(meshv1alpha1.FieldManager, policy.AnnotationServiceUpstream), owner("kubectl-edit", policy.AnnotationUpstreamVhost)), true},
		"the owner removes its own service-upstream": {
			ing(1, map[string]string{"owner": "web", policy.AnnotationServiceUpstream: "false"}, owner("kubectl-edit", policy.AnnotationServiceUpstream)),
			ing(1, written), true},
		"nothing the decisions read changes": {ing(1, meshed, mine), ing(1, meshed, mine), false},
	} {
		if got := SharingChanged.Update(event.UpdateEvent{ObjectOld: tc.old, ObjectNew: tc.updated}); got != tc.want {
			t.Errorf("%s: SharingChanged = %v, want %v", name, got, tc.want)
		}
	}
	deleting := ing(1, meshed, mine)
	deleting.DeletionTimestamp = &metav1.Time{}
	if !SharingChanged.Update(event.UpdateEvent{ObjectOld: ing(1, meshed, mine), ObjectNew: deleting}) {
		t.Error("SharingChanged does not pass the deletion of an Ingress")
	}
}
