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
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// TestTheWorkloadCacheKeepsOfMeshkeepersEntriesTheSidecarSettings: the workload cache holds every
// Deployment and DaemonSet of the cluster, and whoever may update one may write an entry of managed
// fields in meshkeeper's name, of any size. The cache keeps of meshkeeper's entries the sidecar settings
// they own in the pod template, which is what holdsSidecarKeys reads, and the status pass compares the
// workload reconciler's whole read with the cache's copy cut alike.
func TestTheWorkloadCacheKeepsOfMeshkeepersEntriesTheSidecarSettings(t *testing.T) {
	at := metav1.NewTime(time.Date(2026, 12, 7, 1, 0, 0, 0, time.UTC))
	entry := func(fields string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: meshv1alpha1.FieldManager, Operation: metav1.ManagedFieldsOperationApply,
			APIVersion: "apps/v1", Time: &at, FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
	}
	template := func(maps string) string { return `{"f:spec":{"f:template":{"f:metadata":{` + maps + `}}}}` }
	// As meshkeeper applies its settings to the ingress-nginx controller.
	applied := template(`"f:annotations":{"f:proxy.istio.io/config":{},"f:traffic.sidecar.istio.io/includeInboundPorts":{},` +
		`"f:traffic.sidecar.istio.io/includeOutboundIPRanges":{}},"f:labels":{"f:sidecar.istio.io/inject":{}}`)
	// Written by hand in meshkeeper's name: a mebibyte of keys and fields besides one sidecar setting,
	// under which it holds more.
	var forged strings.Builder
	forged.WriteString(`{"f:metadata":{"f:annotations":{`)
	for i := range 20000 {
		fmt.Fprintf(&forged, `"f:filler-%d":{},`, i)
	}
	forged.WriteString(`"f:last":{}}},"f:spec":{"f:template":{"f:metadata":{"f:labels":{"f:sidecar.istio.io/inject":{"f:x":"` +
		strings.Repeat("y", 1<<20) + `"}}}}}}`)
	for name, tc := range map[string]struct {
		entries []metav1.ManagedFieldsEntry
		holds   bool
		owned   []string
	}{
		"the settings as meshkeeper applies them": {[]metav1.ManagedFieldsEntry{entry(applied)}, true,
			[]string{policy.SidecarInject, policy.AnnotationProxyConfig, policy.AnnotationIncludeInboundPorts, policy.AnnotationIncludeOutboundIPRanges}},
		"an entry without them": {[]metav1.ManagedFieldsEntry{entry(template(`"f:labels":{"f:app":{}}`))}, false, nil},
		"another manager's":     {[]metav1.ManagedFieldsEntry{{Manager: "kubectl", FieldsV1: metav1.NewFieldsV1(applied)}}, false, nil},
		"an entry forged":       {[]metav1.ManagedFieldsEntry{entry(forged.String())}, true, []string{policy.SidecarInject}},
	} {
		whole := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: "ingress-nginx", Name: "controller",
			ManagedFields: tc.entries}}
		cached := whole.DeepCopy()
		cached.ManagedFields = meshkeepersFields(cached.ManagedFields)
		size := 0
		for _, e := range cached.ManagedFields {
			size += len(e.FieldsV1.GetRawBytes()) + len(e.APIVersion)
		}
		if size > 512 {
			t.Errorf("%s: the cache keeps %d bytes of meshkeeper's entries; want at most 512", name, size)
		}
		if got := holdsSidecarKeys(cached); got != tc.holds || holdsSidecarKeys(whole) != tc.holds {
			t.Errorf("%s: holdsSidecarKeys = %v of the cache's copy, %v of the whole workload; want %v", name, got, holdsSidecarKeys(whole), tc.holds)
		}
		owned := apply.OwnedPodTemplateKeys(cached, "labels").Union(apply.OwnedPodTemplateKeys(cached, "annotations"))
		if !owned.Equal(sets.New(tc.owned...)) {
			t.Errorf("%s: meshkeeper owns %v in the cache's copy; want %v", name, sets.List(owned), tc.owned)
		}
		// The status pass compares what the reconciler read whole with the cache's copy.
		if again := meshkeepersFields(cached.ManagedFields); !equality.Semantic.DeepEqual(again, cached.ManagedFields) {
			t.Errorf("%s: the cache's entries cut again differ from the reconciler's:\n%v\n%v", name, again, cached.ManagedFields)
		}
		if len(cached.ManagedFields) > 0 && !cached.ManagedFields[0].Time.Equal(&at) {
			t.Errorf("%s: the time of meshkeeper's entry is not kept", name)
		}
	}
}
