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

package namespace

import (
	"context"
	"fmt"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// labelsEntry is a managed-fields entry of manager's that owns the given label keys.
func labelsEntry(manager string, op metav1.ManagedFieldsOperationType, keys ...string) metav1.ManagedFieldsEntry {
	fields := make([]string, 0, len(keys))
	for _, key := range keys {
		fields = append(fields, fmt.Sprintf("%q:{}", "f:"+key))
	}
	raw := fmt.Sprintf(`{"f:metadata":{"f:labels":{%s}}}`, strings.Join(fields, ","))
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, APIVersion: "v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(raw)}
}

// reconcileOnce reconciles ns once against mesh (nil: there is none) and returns the label sets
// meshkeeper applied to the namespace and the Events it recorded. The namespace is served as given,
// managed fields included, and no apply reaches a store.
func reconcileOnce(t *testing.T, mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace) (applied []string, recorded []string) {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := meshv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	builder := fake.NewClientBuilder().WithScheme(scheme)
	if mesh != nil {
		builder = builder.WithObjects(mesh)
	}
	c := builder.WithInterceptorFuncs(interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if into, ok := obj.(*corev1.Namespace); ok {
				if key.Name != ns.Name {
					return c.Get(ctx, key, obj, opts...)
				}
				ns.DeepCopyInto(into)
				return nil
			}
			return c.Get(ctx, key, obj, opts...)
		},
		Patch: func(_ context.Context, _ client.WithWatch, obj client.Object, patch client.Patch, _ ...client.PatchOption) error {
			data, err := patch.Data(obj)
			if err != nil {
				return err
			}
			applied = append(applied, string(data))
			return nil
		},
	}).Build()
	recorder := events.NewFakeRecorder(20)
	r := &Reconciler{Client: c, Recorder: recorder}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Name: ns.Name}}); err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	close(recorder.Events)
	for e := range recorder.Events {
		recorded = append(recorded, e)
	}
	return applied, recorded
}

// A namespace being deleted is written to by no one: with no live ServiceMesh (deleted with the
// namespaces, a whole environment torn down at once) meshkeeper would otherwise take its label back
// from a namespace that is going anyway, and say so in an Unenrolled Event, as UnenrollAll does not.
func TestTerminatingNamespaceIsLeftAloneWithoutServiceMesh(t *testing.T) {
	deleting := metav1.Now()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "ns-uid",
		DeletionTimestamp: &deleting, Finalizers: []string{"kubernetes"},
		Labels:        map[string]string{policy.LabelIstioInjection: "enabled"},
		ManagedFields: []metav1.ManagedFieldsEntry{labelsEntry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection)},
	}}
	for name, mesh := range map[string]*meshv1alpha1.ServiceMesh{
		"no ServiceMesh": nil,
		"the ServiceMesh is being deleted": {ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName,
			DeletionTimestamp: &deleting, Finalizers: []string{meshv1alpha1.Finalizer}}},
	} {
		t.Run(name, func(t *testing.T) {
			applied, recorded := reconcileOnce(t, mesh, ns)
			if len(applied) != 0 || len(recorded) != 0 {
				t.Errorf("a terminating namespace was written to: applied %v, Events %v", applied, recorded)
			}
		})
	}
}

// canaryMesh is a RevisionBased mesh whose ready canary revision 1-31-1 serves the namespace shop.
func canaryMesh() *meshv1alpha1.ServiceMesh {
	mesh := &meshv1alpha1.ServiceMesh{ObjectMeta: metav1.ObjectMeta{Name: meshv1alpha1.ServiceMeshName}}
	mesh.Spec.Namespace = "istio-system"
	mesh.Spec.Injection.Namespaces = []string{"shop"}
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}
	mesh.Status.Version = "1.31.0"
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: "1-31-1", State: meshv1alpha1.RevisionCanary, Ready: true},
	}
	return mesh
}

// An injection label meshkeeper applied and the namespace's owner applied too (its manifest, applied
// server-side by Flux or Argo CD, says istio-injection: enabled) is the owner's as well: meshkeeper
// giving it up leaves it in place. Moving such a namespace to the canary would leave istio-injection
// beside istio.io/rev, and Istio's istio-injection wins: the pods would get the active revision while
// meshkeeper says Enrolled onto the canary. It is the owner's label, reported as a conflict, and
// meshkeeper writes no istio.io/rev.
func TestCanaryDoesNotGoBesideAnInjectionLabelAnotherManagerKeeps(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "ns-uid",
		Labels: map[string]string{policy.LabelIstioInjection: "enabled", "team": "shop"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			labelsEntry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection),
			labelsEntry("kustomize-controller", metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection, "team"),
		},
	}}
	applied, recorded := reconcileOnce(t, canaryMesh(), ns)
	for _, patch := range applied {
		if strings.Contains(patch, policy.LabelIstioRevision) {
			t.Errorf("meshkeeper applied %s beside the owner's istio-injection=enabled, which Istio gives precedence", patch)
		}
	}
	var conflict bool
	for _, e := range recorded {
		if strings.Contains(e, "Enrolled") || strings.Contains(e, "Unenrolled") {
			t.Errorf("misleading Event: %s", e)
		}
		conflict = conflict || strings.Contains(e, policy.InjectionLabelConflict)
	}
	if !conflict {
		t.Errorf("no %s Warning; Events: %v", policy.InjectionLabelConflict, recorded)
	}
}

// The same label, the namespace not a canary one: meshkeeper keeps its share and writes nothing.
func TestSharedInjectionLabelIsNotRewritten(t *testing.T) {
	mesh := canaryMesh()
	mesh.Spec.UpdateStrategy.Canary.Namespaces = []string{"checkout"}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "ns-uid",
		Labels: map[string]string{policy.LabelIstioInjection: "enabled"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			labelsEntry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection),
			labelsEntry("kustomize-controller", metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection),
		},
	}}
	applied, recorded := reconcileOnce(t, mesh, ns)
	if len(applied) != 0 || len(recorded) != 0 {
		t.Errorf("steady namespace written to: applied %v, Events %v", applied, recorded)
	}
}

// Out of the selection, meshkeeper gives up its share of a label the owner keeps: the namespace stays
// injected by the owner's label, so no Unenrolled Event says otherwise.
func TestGivingUpASharedLabelIsNoUnenrollment(t *testing.T) {
	mesh := canaryMesh()
	mesh.Spec.Injection.Namespaces = []string{"checkout"}
	mesh.Spec.UpdateStrategy.Canary = nil
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "ns-uid",
		Labels: map[string]string{policy.LabelIstioInjection: "enabled"},
		ManagedFields: []metav1.ManagedFieldsEntry{
			labelsEntry(meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection),
			labelsEntry("kustomize-controller", metav1.ManagedFieldsOperationApply, policy.LabelIstioInjection),
		},
	}}
	applied, recorded := reconcileOnce(t, mesh, ns)
	if len(applied) != 1 || strings.Contains(applied[0], policy.LabelIstioInjection) {
		t.Errorf("meshkeeper did not give up its share of the label: applied %v", applied)
	}
	if len(recorded) != 0 {
		t.Errorf("Events for a namespace whose injection did not change: %v", recorded)
	}
}
