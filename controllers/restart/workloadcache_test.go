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
	"reflect"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// cached is obj as the workload cache stores it.
func cached(t *testing.T, obj client.Object) client.Object {
	t.Helper()
	stored, err := workloadFields(obj.DeepCopyObject())
	if err != nil {
		t.Fatal(err)
	}
	return stored.(client.Object)
}

// unread is what a workload carries that no restart reads, as real ones do: the chart's labels, kubectl's
// last-applied-configuration (here 200 KiB), annotations and labels of the pod template, and owners
// besides the controller.
func unread(m *metav1.ObjectMeta, template *metav1.ObjectMeta) {
	big := strings.Repeat("x", 200<<10)
	m.Labels = map[string]string{"app.kubernetes.io/name": "web", "helm.sh/chart": "web-1.0.0"}
	if m.Annotations == nil {
		m.Annotations = map[string]string{}
	}
	m.Annotations["kubectl.kubernetes.io/last-applied-configuration"] = big
	m.Annotations["deployment.kubernetes.io/revision"] = "7"
	m.Finalizers = []string{"example.com/protect"}
	m.OwnerReferences = append(m.OwnerReferences, metav1.OwnerReference{APIVersion: "v1", Kind: "ConfigMap", Name: big, UID: "c1"})
	m.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationUpdate,
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{}}}`)}}
	if template.Labels == nil {
		template.Labels = map[string]string{}
	}
	template.Labels["app.kubernetes.io/name"] = "web"
	if template.Annotations == nil {
		template.Annotations = map[string]string{}
	}
	template.Annotations["checksum/config"] = big
	template.Annotations["prometheus.io/scrape"] = "true"
}

// TestTheWorkloadCacheKeepsWhatTheRestartsRead: every reader of a cached workload judges the cache's copy
// as it judges the whole workload, for each field and key it reads.
func TestTheWorkloadCacheKeepsWhatTheRestartsRead(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	deleted := metav1.NewTime(at.Add(time.Hour))
	restarted := map[string]string{meshv1alpha1.RestartedAtAnnotation: at.Format(time.RFC3339),
		meshv1alpha1.RestartedOntoAnnotation: "1-31-1", meshv1alpha1.RestartedForAnnotation: "0123456789abcdef"}
	meta := func(name string) metav1.ObjectMeta {
		return metav1.ObjectMeta{Namespace: "shop", Name: name, UID: types.UID("u-" + name), ResourceVersion: "42", Generation: 3,
			CreationTimestamp: metav1.NewTime(at.Add(-time.Hour))}
	}
	controlled := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		m.OwnerReferences = []metav1.OwnerReference{{APIVersion: "serving.knative.dev/v1", Kind: "Revision", Name: "hello-00001",
			UID: "r1", Controller: ptr.To(true)}}
		return m
	}
	optedOut := func(m metav1.ObjectMeta) metav1.ObjectMeta {
		m.Annotations = map[string]string{meshv1alpha1.RestartAnnotation: meshv1alpha1.RestartNever}
		return m
	}
	being := func(m metav1.ObjectMeta) metav1.ObjectMeta { m.DeletionTimestamp = &deleted; return m }
	template := func(inject string, annotations map[string]string) corev1.PodTemplateSpec {
		t := corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{}}}
		if inject != "" {
			t.Labels = map[string]string{policy.SidecarInject: inject}
		}
		for k, v := range annotations {
			t.Annotations[k] = v
		}
		t.Spec.Containers = []corev1.Container{{Name: "web", Image: "example.com/web:1"}}
		return t
	}
	progressing := func(status corev1.ConditionStatus, reason string) []appsv1.DeploymentCondition {
		return []appsv1.DeploymentCondition{
			{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
			{Type: appsv1.DeploymentProgressing, Status: status, Reason: reason, Message: "ReplicaSet web-1 has timed out progressing.",
				LastUpdateTime: metav1.NewTime(at), LastTransitionTime: metav1.NewTime(at)}}
	}
	workloads := []client.Object{
		&appsv1.Deployment{ObjectMeta: meta("rolled-out"), Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](2),
			ProgressDeadlineSeconds: ptr.To[int32](120), Template: template("true", restarted)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2,
				Conditions: progressing(corev1.ConditionTrue, meshctx.NewReplicaSetAvailable)}},
		&appsv1.Deployment{ObjectMeta: meta("stalled"), Spec: appsv1.DeploymentSpec{Template: template("", restarted)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 3, Replicas: 2, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				Conditions: progressing(corev1.ConditionFalse, meshctx.ProgressDeadlineExceeded)}},
		&appsv1.Deployment{ObjectMeta: optedOut(meta("opted-out")), Spec: appsv1.DeploymentSpec{Paused: true, Template: template("false", nil)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: 2}},
		&appsv1.Deployment{ObjectMeta: controlled(meta("knative")), Spec: appsv1.DeploymentSpec{Template: template("true", nil)}},
		&appsv1.Deployment{ObjectMeta: being(meta("deleted")), Spec: appsv1.DeploymentSpec{Template: template("true", restarted)}},
		&appsv1.StatefulSet{ObjectMeta: meta("db"), Spec: appsv1.StatefulSetSpec{Replicas: ptr.To[int32](3), Template: template("", restarted),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr.To[int32](1), MaxUnavailable: ptr.To(intstr.FromInt32(1))}}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 3, UpdatedReplicas: 2, ReadyReplicas: 3, AvailableReplicas: 2,
				CurrentRevision: "db-1", UpdateRevision: "db-2"}},
		&appsv1.StatefulSet{ObjectMeta: meta("cache"), Spec: appsv1.StatefulSetSpec{Template: template("", nil),
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: 3, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1,
				CurrentRevision: "cache-2", UpdateRevision: "cache-2"}},
		&appsv1.DaemonSet{ObjectMeta: meta("agent"), Spec: appsv1.DaemonSetSpec{Template: template("true", restarted)},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: 3, DesiredNumberScheduled: 4, UpdatedNumberScheduled: 4, NumberReady: 3, NumberAvailable: 2}},
		&appsv1.DaemonSet{ObjectMeta: meta("logs"), Spec: appsv1.DaemonSetSpec{Template: template("", nil),
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}}},
	}
	for _, whole := range workloads {
		if d, ok := whole.(*appsv1.Deployment); ok {
			unread(&d.ObjectMeta, &d.Spec.Template.ObjectMeta)
		}
		if s, ok := whole.(*appsv1.StatefulSet); ok {
			unread(&s.ObjectMeta, &s.Spec.Template.ObjectMeta)
		}
		if d, ok := whole.(*appsv1.DaemonSet); ok {
			unread(&d.ObjectMeta, &d.Spec.Template.ObjectMeta)
		}
		copied := cached(t, whole)
		want, got := asWorkload(whole), asWorkload(copied)
		name := want.key()
		if got.key() != name {
			t.Errorf("%s: the cache's copy is %s", name, got.key())
		}
		wantFields, gotFields := *want, *got
		wantFields.obj, gotFields.obj = nil, nil
		if !reflect.DeepEqual(gotFields, wantFields) {
			t.Errorf("%s: the restarts read the cache's copy as\n%+v\nand the whole workload as\n%+v", name, gotFields, wantFields)
		}
		ref := &meshv1alpha1.WorkloadReference{Kind: want.kind, Namespace: "shop", Name: whole.GetName()}
		wantCounts, wantOK := countsOf(whole)
		gotCounts, gotOK := countsOf(copied)
		for _, check := range []struct {
			what      string
			got, want any
		}{
			{"optedOut", got.optedOut(), want.optedOut()},
			{"controllerPod", controllerPod(ref, got), controllerPod(ref, want)},
			{"countsOf", []any{gotCounts, gotOK}, []any{wantCounts, wantOK}},
			{"coolOff", got.coolOff(), want.coolOff()},
			{"progressing", verdict(progressingOf(copied)), verdict(progressingOf(whole))},
			{"ProgressDeadlinePassed", deadlinePassed(copied), deadlinePassed(whole)},
			{"UID", copied.GetUID(), whole.GetUID()},
			{"resourceVersion", copied.GetResourceVersion(), whole.GetResourceVersion()},
			{"generation", copied.GetGeneration(), whole.GetGeneration()},
			{"creationTimestamp", copied.GetCreationTimestamp(), whole.GetCreationTimestamp()},
			{"deletionTimestamp", copied.GetDeletionTimestamp(), whole.GetDeletionTimestamp()},
		} {
			if !reflect.DeepEqual(check.got, check.want) {
				t.Errorf("%s: %s of the cache's copy is %v; of the whole workload %v", name, check.what, check.got, check.want)
			}
		}
	}
}

func progressingOf(obj client.Object) *appsv1.DeploymentCondition { return progressing(obj) }

// verdict is what the restarts read of a Progressing condition.
func verdict(c *appsv1.DeploymentCondition) []string {
	if c == nil {
		return nil
	}
	return []string{string(c.Type), string(c.Status), c.Reason}
}

func deadlinePassed(obj client.Object) bool {
	d, ok := obj.(*appsv1.Deployment)
	return ok && meshctx.ProgressDeadlinePassed(d)
}

// TestTheWorkloadCacheKeepsNothingElse: a namespace owner writes their workloads' labels and annotations
// and their pod templates', up to the API server's limit on an object; the cache holds every workload of
// the cluster, so it keeps of each only the few bytes the restarts read, and a value they read that is
// longer than any valid one is cut and still read as invalid.
func TestTheWorkloadCacheKeepsNothingElse(t *testing.T) {
	long := strings.Repeat("a", 100<<10)
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "u1",
		Annotations: map[string]string{meshv1alpha1.RestartAnnotation: meshv1alpha1.RestartNever + long},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "example.com/v1", Kind: "Web" + long, Name: "web" + long, UID: "w1",
			Controller: ptr.To(true)}}},
		Spec: appsv1.DeploymentSpec{Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
			Labels: map[string]string{policy.SidecarInject: "true" + long},
			Annotations: map[string]string{meshv1alpha1.RestartedAtAnnotation: "2026-12-06T10:00:00Z" + long,
				meshv1alpha1.RestartedOntoAnnotation: "1-31-1" + long, meshv1alpha1.RestartedForAnnotation: "0123456789abcdef" + long}}}}}
	unread(&d.ObjectMeta, &d.Spec.Template.ObjectMeta)

	copied := cached(t, d).(*appsv1.Deployment)
	if n := copied.Size(); n > 2<<10 {
		t.Errorf("the cache keeps %d bytes of a Deployment of %d; want at most 2 KiB", n, d.Size())
	}
	for what, m := range map[string]map[string]string{"labels": copied.Labels, "annotations": copied.Annotations,
		"template labels": copied.Spec.Template.Labels, "template annotations": copied.Spec.Template.Annotations} {
		for key, value := range m {
			if !strings.HasPrefix(key, "mesh.meshkeeper.io/") && key != policy.SidecarInject && key != revisionAnnotation {
				t.Errorf("the cache keeps the %s key %s, which no restart reads", what, key)
			}
			if len(value) > maxValue+1 {
				t.Errorf("the cache keeps %d bytes of the %s key %s", len(value), what, key)
			}
		}
	}
	// A Deployment's revision, the stage of its rollout, is kept while it rolls out alone: a map for it in
	// each Deployment rolled out would hold what no restart reads.
	if got := copied.Annotations[revisionAnnotation]; got != "7" {
		t.Errorf("the cache keeps the revision %q of a Deployment rolling out; want 7", got)
	}
	done := d.DeepCopy()
	done.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if got := cached(t, done).GetAnnotations(); len(got) != 1 {
		t.Errorf("the cache keeps of a Deployment rolled out the annotations %v; want the opt-out alone", got)
	}
	if len(copied.OwnerReferences) != 1 || len(copied.Finalizers) > 0 || len(copied.ManagedFields) > 0 {
		t.Errorf("the cache keeps the owners %d, finalizers %v and managed fields %d; want the controller alone",
			len(copied.OwnerReferences), copied.Finalizers, len(copied.ManagedFields))
	}
	w := asWorkload(copied)
	if w.optedOut() || controllerPod(&meshv1alpha1.WorkloadReference{Kind: "Deployment", Namespace: "shop", Name: "web"}, w) {
		t.Error("an opt-out or sidecar label longer than any valid one reads as valid in the cache")
	}
	if !w.restartedAt.IsZero() || w.restartedOnto == "1-31-1" || !w.restartedOntoRecorded || w.restartedFor == "0123456789abcdef" {
		t.Errorf("restarted-at %v, onto %q (recorded %v), for %q: a value longer than any valid one reads as valid in the cache",
			w.restartedAt, w.restartedOnto, w.restartedOntoRecorded, w.restartedFor)
	}
	if !strings.HasPrefix(w.held, "controlled by Web") {
		t.Errorf("held = %.40q; want it controlled by its controller", w.held)
	}

	// A ReplicaSet keeps what the restarts follow a pod by: its UID and controller, cut to the longest
	// Deployment name and UID and one more byte; and its pods' Istio version, which the in-place upgrade
	// gate reads of istiod's ReplicaSets.
	rs := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "apps/v1", Kind: "ReplicaSet"},
		ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web-7d9c", UID: "rs1"}}
	unread(&rs.ObjectMeta, &metav1.ObjectMeta{})
	rs.OwnerReferences = append(rs.OwnerReferences,
		metav1.OwnerReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web", UID: "u1", Controller: ptr.To(true)})
	withVersion := rs.DeepCopy()
	withVersion.Labels[VersionLabel] = "1.29.3"
	if got := cached(t, withVersion).(*metav1.PartialObjectMetadata); got.Labels[VersionLabel] != "1.29.3" || len(got.Labels) != 1 {
		t.Errorf("the cache keeps of a ReplicaSet's labels %v; want its version label alone", got.Labels)
	}
	got := cached(t, rs).(*metav1.PartialObjectMetadata)
	owner := metav1.GetControllerOf(got)
	if got.UID != "rs1" || owner == nil || owner.APIVersion != "apps/v1" || owner.Kind != "Deployment" || owner.Name != "web" || owner.UID != "u1" {
		t.Errorf("the cache keeps of the ReplicaSet UID %q and controller %+v; want rs1 and the Deployment web", got.UID, owner)
	}
	if n := got.Size(); n > 512 || len(got.Labels) > 0 || len(got.Annotations) > 0 {
		t.Errorf("the cache keeps %d bytes of a ReplicaSet, labels %v and %d annotations; want only what the restarts read", n, got.Labels, len(got.Annotations))
	}
	rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/" + long, Kind: "Deployment", Name: "web" + long, UID: "u1",
		Controller: ptr.To(true)}}
	owner = metav1.GetControllerOf(cached(t, rs))
	if owner == nil || len(owner.Name) != maxName+1 || !strings.HasPrefix(owner.APIVersion, "apps/") || len(owner.APIVersion) != maxName+1 {
		t.Errorf("the cache keeps of a controller reference longer than any valid one %d bytes of its name and %d of its API version; "+
			"want %d of each, the start kept", len(owner.Name), len(owner.APIVersion), maxName+1)
	}
}
