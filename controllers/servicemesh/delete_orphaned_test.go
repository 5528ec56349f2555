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
	"slices"
	"strings"
	"testing"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// labelledWebhook is a MutatingWebhookConfiguration with meshkeeper's label and no owner reference,
// which meshkeeper's apply labelled when byMeshkeeper (the default tag's, orphaned by the garbage
// collector) and someone else otherwise.
func labelledWebhook(name string, byMeshkeeper bool) *admissionregistrationv1.MutatingWebhookConfiguration {
	entry := metav1.ManagedFieldsEntry{Manager: "kubectl-create", Operation: metav1.ManagedFieldsOperationUpdate,
		APIVersion: "admissionregistration.k8s.io/v1", FieldsType: "FieldsV1",
		FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{".":{},"f:mesh.meshkeeper.io/managed-by":{}}}}`)}
	if byMeshkeeper {
		entry.Manager, entry.Operation = meshv1alpha1.FieldManager, metav1.ManagedFieldsOperationApply
	}
	return &admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels:        map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
		ManagedFields: []metav1.ManagedFieldsEntry{entry}}}
}

// releaseRecord is the metadata of revision 1 of a release of meshkeeper's in namespace.
func releaseRecord(namespace, release string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "sh.helm.release.v1." + release + ".v1",
		Labels: map[string]string{"owner": "helm", "name": release, "version": "1", "status": "deployed", helm.DigestLabel: "d"}}}
}

// A ServiceMesh deleted with orphan propagation (kubectl delete --cascade=orphan, Argo CD's
// PrunePropagationPolicy=orphan) asks to keep what it owns. Whether meshkeeper sees the orphan finalizer
// before the garbage collector acts, or finds the owner references already taken off, it leaves the
// control plane running, with the release records that let helm uninstall remove it, and says so in a
// Warning naming the releases, the webhook configuration of no release, and the commands, instead of
// Uninstalled. It used to skip what it no longer owned, delete every record and say Uninstalled. The
// ServiceMesh goes all the same, and the orphan finalizer stays for the garbage collector.
func TestADeletionWithOrphanPropagationLeavesTheControlPlaneRunning(t *testing.T) {
	orphans := func(namespace, release string) error {
		return &helm.OrphanedError{Namespace: namespace, Release: release, Objects: []string{"Deployment " + namespace + "/" + release}}
	}
	tests := map[string]struct {
		finalizers []string
		objects    []client.Object
		// uninstall answers for each release, as the chart manager does; nil fails the test when called.
		uninstall func(namespace, name string) (bool, error)
		// wantFinalizers are the ServiceMesh's finalizers after the reconcile; nil when it is gone.
		wantFinalizers []string
		wantNote       []string
		// wantWebhooks is how many webhook configurations stay.
		wantWebhooks int
	}{
		"the garbage collector took the owner references off before meshkeeper looked": {
			finalizers: []string{meshv1alpha1.Finalizer},
			objects: []client.Object{labelledWebhook("istio-revision-tag-default", true),
				labelledWebhook("team-labelled", false)},
			uninstall: func(namespace, name string) (bool, error) {
				if name == istiodRelease || name == baseRelease {
					return false, orphans(namespace, name)
				}
				return false, nil
			},
			wantNote: []string{"Helm releases istio-system/istio-base, istio-system/istiod; MutatingWebhookConfiguration istio-revision-tag-default.",
				"helm uninstall -n istio-system istio-base istiod; kubectl delete mutatingwebhookconfiguration istio-revision-tag-default,"},
			wantWebhooks: 2,
		},
		"meshkeeper saw the orphan finalizer first": {
			finalizers: []string{meshv1alpha1.Finalizer, metav1.FinalizerOrphanDependents},
			objects: []client.Object{releaseRecord("istio-system", istiodRelease), releaseRecord("istio-system", baseRelease),
				releaseRecord("istio-system", cniRelease)},
			wantFinalizers: []string{metav1.FinalizerOrphanDependents},
			wantNote: []string{"Helm releases istio-system/istio-base, istio-system/istio-cni, istio-system/istiod.",
				"helm uninstall -n istio-system istio-base istio-cni istiod,"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			now := metav1.Now()
			mesh.DeletionTimestamp, mesh.Finalizers = &now, tc.finalizers
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			if err := meshv1alpha1.AddToScheme(scheme); err != nil {
				t.Fatal(err)
			}
			c := fake.NewClientBuilder().WithScheme(scheme).WithReturnManagedFields().
				WithObjects(append(tc.objects, mesh, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.Spec.Namespace}})...).Build()
			var uninstalled []string
			chartManager := &fakeCharts{uninstall: func(namespace, name string) (bool, error) {
				uninstalled = append(uninstalled, name)
				if tc.uninstall == nil {
					t.Errorf("release %s/%s uninstalled, want none touched", namespace, name)
					return false, nil
				}
				return tc.uninstall(namespace, name)
			}}
			recorder := events.NewFakeRecorder(100)
			r := &Reconciler{Client: c, APIReader: c, Recorder: recorder, Charts: chartManager, Resolver: &charts.CachingResolver{}}

			if _, err := r.Reconcile(t.Context(), ctrl.Request{NamespacedName: client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}}); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			close(recorder.Events)
			var recorded []string
			for e := range recorder.Events {
				recorded = append(recorded, e)
			}
			if i := slices.IndexFunc(recorded, func(e string) bool { return strings.HasPrefix(e, "Warning Orphaned ") }); i < 0 {
				t.Errorf("Events %q, want a Warning Orphaned", recorded)
			} else {
				for _, want := range tc.wantNote {
					if !strings.Contains(recorded[i], want) {
						t.Errorf("the Orphaned Warning %q does not say %q", recorded[i], want)
					}
				}
				if strings.Contains(recorded[i], "team-labelled") {
					t.Errorf("the Orphaned Warning %q names someone else's webhook configuration", recorded[i])
				}
			}
			for _, e := range recorded {
				if strings.HasPrefix(e, "Normal Uninstalled") || strings.HasPrefix(e, "Warning UninstallFailed") {
					t.Errorf("Event %q: nothing was uninstalled, and nothing failed", e)
				}
			}
			live := &meshv1alpha1.ServiceMesh{}
			err := c.Get(t.Context(), client.ObjectKeyFromObject(mesh), live)
			switch {
			case tc.wantFinalizers == nil && !apierrors.IsNotFound(err):
				t.Errorf("the ServiceMesh after the reconcile: %v, finalizers %q; want it gone", err, live.Finalizers)
			case tc.wantFinalizers != nil && (err != nil || !slices.Equal(live.Finalizers, tc.wantFinalizers)):
				t.Errorf("the ServiceMesh's finalizers after the reconcile: %q, %v; want %q", live.Finalizers, err, tc.wantFinalizers)
			}
			webhooks := &admissionregistrationv1.MutatingWebhookConfigurationList{}
			if err := c.List(t.Context(), webhooks); err != nil {
				t.Fatal(err)
			}
			if len(webhooks.Items) != tc.wantWebhooks {
				t.Errorf("%d webhook configurations after the reconcile, want %d kept", len(webhooks.Items), tc.wantWebhooks)
			}
		})
	}
}
