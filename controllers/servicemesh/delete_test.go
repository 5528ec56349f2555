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
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestClusterKept: only what the cluster and istiod put in every namespace, or what is already going,
// lets meshkeeper delete the control-plane namespace; istiod's CA and anything of a user's keep it.
func TestClusterKept(t *testing.T) {
	now := metav1.Now()
	meta := func(name string, annotations map[string]string) *metav1.PartialObjectMetadata {
		return &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	}
	going := meta("istiod-abc", nil)
	going.DeletionTimestamp = &now
	tests := map[string]struct {
		kind string
		obj  *metav1.PartialObjectMetadata
		want bool
	}{
		"istiod's CA":                     {"Secret", meta("istio-ca-secret", nil), false},
		"a user's cacerts":                {"Secret", meta("cacerts", nil), false},
		"the default account's token":     {"Secret", meta("default-token-x", map[string]string{corev1.ServiceAccountNameKey: "default"}), true},
		"another account's token":         {"Secret", meta("app-token-x", map[string]string{corev1.ServiceAccountNameKey: "app"}), false},
		"the default ServiceAccount":      {"ServiceAccount", meta("default", nil), true},
		"a user's ServiceAccount":         {"ServiceAccount", meta("app", nil), false},
		"the cluster's root CA ConfigMap": {"ConfigMap", meta("kube-root-ca.crt", nil), true},
		"istiod's root cert ConfigMap":    {"ConfigMap", meta("istio-ca-root-cert", nil), true},
		"a leader-election ConfigMap":     {"ConfigMap", meta("istio-leader", map[string]string{"control-plane.alpha.kubernetes.io/leader": "{}"}), true},
		"a user's ConfigMap":              {"ConfigMap", meta("settings", nil), false},
		"a user's Deployment":             {"Deployment", meta("default", nil), false},
		"an object already being deleted": {"Service", going, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := clusterKept(tc.kind, tc.obj); got != tc.want {
				t.Errorf("clusterKept(%s %s) = %v, want %v", tc.kind, tc.obj.Name, got, tc.want)
			}
		})
	}
}

func TestDescribeKept(t *testing.T) {
	if got, want := describeKept([]string{"Secret/a", "Secret/b"}), "Secret/a, Secret/b"; got != want {
		t.Errorf("describeKept = %q, want %q", got, want)
	}
	seven := []string{"S/1", "S/2", "S/3", "S/4", "S/5", "S/6", "S/7"}
	if got, want := describeKept(seven), "S/1, S/2, S/3, S/4, S/5 and 2 more"; got != want {
		t.Errorf("describeKept = %q, want %q", got, want)
	}
}

// TestCreatedByMeshkeeper: the namespace is meshkeeper's only when the entry of meshkeeper's create holds
// the created-by label and dates from the creation (to the second either way, as the API server stamps
// them); a label written later under meshkeeper's name, or by an apply, is not meshkeeper's creation.
func TestCreatedByMeshkeeper(t *testing.T) {
	created := metav1.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)
	labelFields := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:mesh.meshkeeper.io/created-by":{}}}}`)
	otherFields := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:team":{}}}}`)
	entry := func(op metav1.ManagedFieldsOperationType, after time.Duration, fields *metav1.FieldsV1) metav1.ManagedFieldsEntry {
		at := metav1.NewTime(created.Add(after))
		return metav1.ManagedFieldsEntry{Manager: "meshkeeper", Operation: op, APIVersion: "v1", Time: &at,
			FieldsType: "FieldsV1", FieldsV1: fields}
	}
	tests := map[string]struct {
		label   string
		entries []metav1.ManagedFieldsEntry
		want    bool
	}{
		"created by meshkeeper":           {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, labelFields)}, true},
		"entry stamped a second before":   {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, -time.Second, labelFields)}, true},
		"labelled two seconds later":      {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 2*time.Second, labelFields)}, false},
		"labelled by an apply":            {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationApply, 0, labelFields)}, false},
		"meshkeeper's entry, other label": {"meshkeeper", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, otherFields)}, false},
		"label of another value":          {"someone", []metav1.ManagedFieldsEntry{entry(metav1.ManagedFieldsOperationUpdate, 0, labelFields)}, false},
		"no entry of meshkeeper's":        {"meshkeeper", nil, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "istio-system", CreationTimestamp: created,
				Labels: map[string]string{createdNamespaceLabel: tc.label}, ManagedFields: tc.entries}}
			if got := createdByMeshkeeper(ns); got != tc.want {
				t.Errorf("createdByMeshkeeper = %v, want %v", got, tc.want)
			}
		})
	}
}
