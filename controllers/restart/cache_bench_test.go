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
	"encoding/json"
	"fmt"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/meshkeeper/meshkeeper/internal/testutil"
)

// servedDeployment is a Deployment as the API server sends it in protobuf: installed by a Helm chart
// with kubectl's help (the chart's labels, Helm's annotations and kubectl's last-applied-configuration),
// a pod template with its own labels and annotations and one container, rolled out, with the managed
// fields of its installer and of the Deployment controller.
func servedDeployment(b *testing.B, namespace string, i int) []byte {
	b.Helper()
	name := fmt.Sprintf("web-%d", i)
	at := metav1.NewTime(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	labels := map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace,
		"app.kubernetes.io/version": "1.4.2", "app.kubernetes.io/component": "api", "app.kubernetes.io/part-of": "shop",
		"app.kubernetes.io/managed-by": "Helm", "helm.sh/chart": "shop-0.9.1"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, UID: "5b2d7c4e-1a3f-4e6b-8c9d-0e1f2a3b4c5d",
			ResourceVersion: fmt.Sprint(300000 + i), Generation: 3, CreationTimestamp: at, Labels: labels,
			Annotations: map[string]string{"deployment.kubernetes.io/revision": "3",
				"meta.helm.sh/release-name": namespace, "meta.helm.sh/release-namespace": namespace}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2), RevisionHistoryLimit: ptr.To[int32](10),
			ProgressDeadlineSeconds: ptr.To[int32](600),
			Selector:                &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxUnavailable: ptr.To(intstr.FromString("25%")), MaxSurge: ptr.To(intstr.FromString("25%"))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app.kubernetes.io/name": name, "app.kubernetes.io/instance": namespace},
					Annotations: map[string]string{"checksum/config": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
						"prometheus.io/scrape": "true", "prometheus.io/port": "9090",
						"mesh.meshkeeper.io/restarted-at": "2026-12-02T10:00:00Z", "mesh.meshkeeper.io/restarted-onto": "1-31-1",
						"mesh.meshkeeper.io/restarted-for": "0123456789abcdef"}},
				Spec: corev1.PodSpec{ServiceAccountName: name, Containers: []corev1.Container{{
					Name: "api", Image: "registry.example.com/shop/api:1.4.2", ImagePullPolicy: corev1.PullIfNotPresent,
					Ports: []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP},
						{Name: "metrics", ContainerPort: 9090, Protocol: corev1.ProtocolTCP}},
					Env: []corev1.EnvVar{{Name: "LOG_LEVEL", Value: "info"}, {Name: "DATABASE_URL", Value: "postgres://db." + namespace + ":5432/shop"}},
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("128Mi")}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{
						Path: "/healthz", Port: intstr.FromString("http")}}, PeriodSeconds: 10},
				}}}},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
			Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable",
					Message: "Deployment has minimum availability.", LastUpdateTime: at, LastTransitionTime: at},
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable",
					Message: fmt.Sprintf("ReplicaSet %q has successfully progressed.", name+"-7d9c5b8f6d"), LastUpdateTime: at, LastTransitionTime: at},
			}},
	}
	// kubectl apply records the object it applied, as JSON, in an annotation of the object.
	applied, err := json.Marshal(&appsv1.Deployment{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name, Labels: labels}, Spec: d.Spec})
	if err != nil {
		b.Fatal(err)
	}
	d.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = string(applied)
	d.ManagedFields = []metav1.ManagedFieldsEntry{
		{Manager: "kubectl-client-side-apply", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", Time: &at,
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{".":{},"f:kubectl.kubernetes.io/last-applied-configuration":{}},` +
				`"f:labels":{".":{}}},"f:spec":{"f:progressDeadlineSeconds":{},"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{},"f:spec":{}}}}`)},
		{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "apps/v1", Time: &at,
			Subresource: "status", FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:status":{"f:availableReplicas":{},"f:conditions":{},` +
				`"f:observedGeneration":{},"f:readyReplicas":{},"f:replicas":{},"f:updatedReplicas":{}}}`)},
	}
	data, err := d.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkCachedWorkload measures what the restarts' workload cache holds for each of 5,000
// Deployments: decoded as an informer decodes them, then stored whole or through the cache's transform
// (workloadFields). It reports the heap they keep after a collection, per Deployment.
func BenchmarkCachedWorkload(b *testing.B) {
	testutil.BenchmarkCached(b, "deployment", func(i int) []byte { return servedDeployment(b, fmt.Sprintf("scale-%04d", i/5), i%5) },
		func(data []byte) (any, error) { d := &appsv1.Deployment{}; return d, d.Unmarshal(data) }, workloadFields)
}
