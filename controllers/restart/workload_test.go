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

package restart

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

func TestHeld(t *testing.T) {
	rolling := func(partition *int32) appsv1.StatefulSetUpdateStrategy {
		return appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
			RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}}
	}
	for _, tc := range []struct {
		name string
		obj  client.Object
		want string
	}{
		{"Deployment", &appsv1.Deployment{}, ""},
		{"paused Deployment", &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Paused: true}}, "paused"},
		{"StatefulSet", &appsv1.StatefulSet{}, ""},
		{"StatefulSet with partition 0", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: rolling(ptr.To[int32](0))}}, ""},
		{"StatefulSet without partition", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: rolling(nil)}}, ""},
		{"StatefulSet with partition 3", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{UpdateStrategy: rolling(ptr.To[int32](3))}},
			"partition 3"},
		{"StatefulSet OnDelete", &appsv1.StatefulSet{Spec: appsv1.StatefulSetSpec{
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}}}, "updateStrategy OnDelete"},
		{"DaemonSet", &appsv1.DaemonSet{}, ""},
		{"DaemonSet RollingUpdate", &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}}}, ""},
		{"DaemonSet OnDelete", &appsv1.DaemonSet{Spec: appsv1.DaemonSetSpec{
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}}, "updateStrategy OnDelete"},
		// Another controller writes its pod template: a Knative Revision's Deployment.
		{"Deployment of a controller", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "hello-00001", UID: "r1", Controller: ptr.To(true)}}}},
			"controlled by Revision hello-00001"},
		{"StatefulSet of a controller", &appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "kafka.strimzi.io/v1beta2", Kind: "StrimziPodSet", Name: "my-cluster", UID: "k1", Controller: ptr.To(true)}}}},
			"controlled by StrimziPodSet my-cluster"},
		// Its controller leaves a workload being deleted alone: a change of its pod template rolls nothing out.
		{"DaemonSet being deleted", &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{},
			Finalizers: []string{"example.com/protect"}}}, "being deleted"},
		{"paused Deployment being deleted", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &metav1.Time{}},
			Spec: appsv1.DeploymentSpec{Paused: true}}, "being deleted"},
		// An owner that is not its controller (kept for garbage collection alone) writes nothing of it.
		{"Deployment with an owner", &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{
			{APIVersion: "v1", Kind: "ConfigMap", Name: "bundle", UID: "c1"}}}}, ""},
	} {
		if got := asWorkload(tc.obj).held; got != tc.want {
			t.Errorf("%s: held = %q, want %q", tc.name, got, tc.want)
		}
	}
}
