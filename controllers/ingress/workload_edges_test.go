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

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// A workload holds sidecar settings when meshkeeper applied any of its pod-template keys, label or
// annotation; the chart's own workloads never count.
func TestHoldsSidecarKeys(t *testing.T) {
	applied := func(fields string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Name: "controller", Namespace: "ingress-nginx", ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsType: "FieldsV1",
			FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:template":{"f:metadata":{` + fields + `}}}}`)}}}
	}
	chart := applied(`"f:labels":{"f:sidecar.istio.io/inject":{}}`)
	chart.Labels = map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}
	// The chart's istiod after someone removed meshkeeper's label (kubectl edit): its owner reference
	// to the ServiceMesh still says whose it is.
	unlabelled := applied(`"f:labels":{"f:sidecar.istio.io/inject":{}}`)
	unlabelled.OwnerReferences = []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(),
		Kind: "ServiceMesh", Name: meshv1alpha1.ServiceMeshName, UID: "mesh-uid"}}
	tests := map[string]struct {
		meta metav1.ObjectMeta
		want bool
	}{
		"an applied label":                                   {meta: applied(`"f:labels":{"f:sidecar.istio.io/inject":{}}`), want: true},
		"an applied annotation":                              {meta: applied(`"f:annotations":{"f:traffic.sidecar.istio.io/includeOutboundIPRanges":{}}`), want: true},
		"another applied key":                                {meta: applied(`"f:labels":{"f:app":{}}`), want: false},
		"a workload of meshkeeper's chart":                   {meta: chart, want: false},
		"a workload of meshkeeper's chart without its label": {meta: unlabelled, want: false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if got := holdsSidecarKeys(&metav1.PartialObjectMetadata{ObjectMeta: tt.meta}); got != tt.want {
				t.Errorf("holdsSidecarKeys() = %v, want %v", got, tt.want)
			}
		})
	}
}
