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

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestServiceAddressChangedPassesExportTo: a change of where Istio exports a Service decides whether
// the controller's sidecar can route to it (ServiceNotExported), so it wakes the Ingresses that send to
// it; a change of any other annotation does not.
func TestServiceAddressChangedPassesExportTo(t *testing.T) {
	service := func(annotations map[string]string) *corev1.Service {
		return &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", Annotations: annotations},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.10.1"}}
	}
	for name, tc := range map[string]struct {
		old, updated map[string]string
		want         bool
	}{
		"exportTo added":          {nil, map[string]string{policy.AnnotationServiceExportTo: "."}, true},
		"exportTo changed":        {map[string]string{policy.AnnotationServiceExportTo: "."}, map[string]string{policy.AnnotationServiceExportTo: "*"}, true},
		"exportTo removed":        {map[string]string{policy.AnnotationServiceExportTo: "."}, nil, true},
		"another annotation only": {nil, map[string]string{"team": "shop"}, false},
	} {
		if got := ServiceAddressChanged.Update(event.UpdateEvent{ObjectOld: service(tc.old), ObjectNew: service(tc.updated)}); got != tc.want {
			t.Errorf("%s: ServiceAddressChanged = %v, want %v", name, got, tc.want)
		}
	}
}
