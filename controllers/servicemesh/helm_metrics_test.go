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
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// helmOperations is the value of one series of meshkeeper_helm_operations_total.
func helmOperations(release, action, result string) float64 {
	return testutil.ToFloat64(metrics.HelmOperations.WithLabelValues(release, action, result))
}

// createReleaseRecord stores a record of meshkeeper's of a release, as the chart manager labels it.
func createReleaseRecord(t *testing.T, c client.Client, namespace, release string) {
	t.Helper()
	record := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "sh.helm.release.v1." + release + ".v1",
		Labels: map[string]string{"owner": "helm", "name": release, "version": "1", "status": "deployed", helm.DigestLabel: "d1"}}}
	if err := c.Create(t.Context(), record); err != nil {
		t.Fatal(err)
	}
}

// deleteReleaseRecords is what an uninstall does to the records of a release; it tells, as the chart
// manager's Uninstall does, whether there was a record of meshkeeper's to remove.
func deleteReleaseRecords(c client.Client, namespace, release string) (bool, error) {
	records := &corev1.SecretList{}
	if err := c.List(context.Background(), records, client.InNamespace(namespace),
		client.MatchingLabels{"owner": "helm", "name": release}, client.HasLabels{helm.DigestLabel}); err != nil {
		return false, err
	}
	return len(records.Items) > 0, c.DeleteAllOf(context.Background(), &corev1.Secret{}, client.InNamespace(namespace),
		client.MatchingLabels{"owner": "helm", "name": release})
}

// A revision that is pruned is uninstalled, and counted so: the dashboard's Helm operations and the
// alerts on result="error" see it as they see the uninstall of a deleted ServiceMesh.
func TestPruneCountsTheUninstall(t *testing.T) {
	target, old := revision.Name(charts.BuiltinVersion), "1-31-0"
	mesh := testMesh()
	mesh.Spec.Version = charts.BuiltinVersion
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased,
		InactiveRevisionDeletionGracePeriod: &metav1.Duration{Duration: time.Minute}}
	mesh.Status.ActiveRevision = target
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{
		{Name: target, Version: charts.BuiltinVersion, State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: old, Version: "1.31.0", State: meshv1alpha1.RevisionDraining, Ready: true,
			UnusedSince: &metav1.Time{Time: time.Now().Add(-time.Hour)}},
	}
	var pruned []string
	tr := newTestReconciler(t, mesh, nil)
	tr.Charts = &fakeCharts{
		ensure: func(helm.Release) (helm.Result, error) {
			return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
		},
		uninstall: func(namespace, name string) (bool, error) {
			pruned = append(pruned, name)
			return deleteReleaseRecords(tr.Client, namespace, name)
		},
	}
	for _, rev := range []string{target, old} {
		createIstiod(t, tr.Client, mesh, rev)
		createReleaseRecord(t, tr.Client, mesh.Spec.Namespace, revisionReleasePrefix+rev)
	}
	release := revisionReleasePrefix + old
	before := helmOperations(release, "uninstalled", "success")

	if _, err := tr.reconcile(t); err != nil {
		t.Fatalf("Reconcile: %v", err)
	}
	if len(pruned) != 1 || pruned[0] != release {
		t.Fatalf("uninstalled %v, want the pruned revision's release %s", pruned, release)
	}
	if got := helmOperations(release, "uninstalled", "success") - before; got != 1 {
		t.Errorf(`%s{release=%q, action="uninstalled", result="success"} rose by %v with the prune, want 1`,
			metrics.HelmOperationsName, release, got)
	}
}

// createIstiod stores a ready istiod Deployment of revision rev, owned by mesh.
func createIstiod(t *testing.T, c client.Client, mesh *meshv1alpha1.ServiceMesh, rev string) {
	t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: revisionDeployment(rev), Generation: 1,
			Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod",
				policy.LabelIstioRevision: rev},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
				Name: mesh.Name, UID: mesh.UID, Controller: ptr.To(true)}}},
		Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1), Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			Containers: []corev1.Container{{Name: "discovery", Image: "docker.io/istio/pilot:" + revisionVersion(rev)}}}}},
	}
	if err := c.Create(t.Context(), d); err != nil {
		t.Fatal(err)
	}
	d.Status = appsv1.DeploymentStatus{ObservedGeneration: 1, Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	if err := c.Status().Update(t.Context(), d); err != nil {
		t.Fatal(err)
	}
}

func revisionVersion(rev string) string {
	v := []byte(rev)
	for i, n := 0, 0; i < len(v) && n < 2; i++ {
		if v[i] == '-' {
			v[i], n = '.', n+1
		}
	}
	return string(v)
}

// The uninstall of a deleted ServiceMesh counts the releases it removed, not those that never existed
// (istio-cni of a mesh without the agent), and not again when the uninstall is retried after some of
// its releases went: the dashboard would show uninstalls that never happened.
func TestDeleteCountsOnlyReleasesThatExisted(t *testing.T) {
	mesh := testMesh()
	now := metav1.Now()
	mesh.DeletionTimestamp = &now
	var tr *testReconciler
	baseFails := true
	tr = newTestReconciler(t, mesh, &fakeCharts{uninstall: func(namespace, name string) (bool, error) {
		if name == baseRelease && baseFails {
			baseFails = false
			return false, errors.New("uninstalling release istio-base: the server is shutting down")
		}
		return deleteReleaseRecords(tr.Client, namespace, name)
	}})
	for _, release := range []string{istiodRelease, baseRelease} {
		createReleaseRecord(t, tr.Client, mesh.Spec.Namespace, release)
	}
	series := map[string][]string{
		"istio-cni success":  {cniRelease, "uninstalled", "success"},
		"istio-cni error":    {cniRelease, "uninstalled", "error"},
		"istiod success":     {istiodRelease, "uninstalled", "success"},
		"istio-base error":   {baseRelease, "uninstalled", "error"},
		"istio-base success": {baseRelease, "uninstalled", "success"},
	}
	before := map[string]float64{}
	for name, labels := range series {
		before[name] = helmOperations(labels[0], labels[1], labels[2])
	}

	if err := tr.reconcileDelete(t.Context(), mesh); err == nil {
		t.Fatal("the first uninstall succeeded, want istio-base's failure")
	}
	if err := tr.reconcileDelete(t.Context(), mesh); err != nil {
		t.Fatalf("the retried uninstall: %v", err)
	}
	want := map[string]float64{"istio-cni success": 0, "istio-cni error": 0, "istiod success": 1, "istio-base error": 1, "istio-base success": 1}
	for name, labels := range series {
		if got := helmOperations(labels[0], labels[1], labels[2]) - before[name]; got != want[name] {
			t.Errorf(`%s{release=%q, action=%q, result=%q} rose by %v over an uninstall and its retry without CNI, want %v`,
				metrics.HelmOperationsName, labels[0], labels[1], labels[2], got, want[name])
		}
	}
}

// A failure before Ensure ran any Helm action is counted under the action it meant to run, one of those
// the documentation lists: the drift repair of a release in sync, the install of a release another
// installation holds. Only a failure to read the release, before any action could be chosen, is
// counted as none.
func TestFailureBeforeAnyActionCountsTheIntendedAction(t *testing.T) {
	tests := map[string]struct {
		state      helm.State
		wantAction string
	}{
		"the drift repair's first object fails":               {state: helm.StateInSync, wantAction: "repaired"},
		"a release of the same name that is not meshkeeper's": {state: helm.StateOutOfSync, wantAction: "installed"},
		"the release's records cannot be read":                {state: "", wantAction: "none"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ensure := func(desired helm.Release) (helm.Result, error) {
				if desired.Name != istiodRelease {
					return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
				}
				return helm.Result{State: tc.state, Action: helm.ActionNone}, errors.New("release istio-system/istiod: refused")
			}
			before := helmOperations(istiodRelease, tc.wantAction, "error")
			noneBefore := helmOperations(istiodRelease, "none", "error")
			if _, _, _, _, err := reconcileWith(t, testMesh(), &fakeCharts{ensure: ensure}); err == nil {
				t.Fatal("Reconcile succeeded, want the istiod failure")
			}
			if got := helmOperations(istiodRelease, tc.wantAction, "error") - before; got != 1 {
				t.Errorf(`%s{release="istiod", action=%q, result="error"} rose by %v, want 1`, metrics.HelmOperationsName, tc.wantAction, got)
			}
			if got := helmOperations(istiodRelease, "none", "error") - noneBefore; tc.wantAction != "none" && got != 0 {
				t.Errorf(`%s{release="istiod", action="none", result="error"} rose by %v, want 0`, metrics.HelmOperationsName, got)
			}
		})
	}
}

// The uninstall of a release reads its records as the chart manager reads every release, retrying what
// the API server could not answer (a restart, a throttled request): a single 503 while a revision is
// pruned, or a deleted ServiceMesh uninstalled, must not fail it, with a Warning and a result="error"
// for an uninstall that never ran.
func TestUninstallRetriesATransientFailureToListTheRelease(t *testing.T) {
	mesh := testMesh()
	release := revisionReleasePrefix + "1-31-0"
	tr := newTestReconciler(t, mesh, nil)
	createReleaseRecord(t, tr.Client, mesh.Spec.Namespace, release)
	lists := 0
	reader := interceptor.NewClient(tr.Client.(client.WithWatch), interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if list.GetObjectKind().GroupVersionKind().Kind == "SecretList" {
				if lists++; lists == 1 {
					return apierrors.NewServiceUnavailable("the server is restarting")
				}
			}
			return c.List(ctx, list, opts...)
		},
	})
	tr.APIReader = reader
	tr.Charts = helm.NewChartManager(&rest.Config{}, tr.Client, reader)
	successBefore := helmOperations(release, "uninstalled", "success")
	errorBefore := helmOperations(release, "uninstalled", "error")

	if err := tr.uninstallRelease(t.Context(), mesh, mesh.Spec.Namespace, release); err != nil {
		t.Fatalf("an uninstall whose first read of the release got a 503 failed: %v", err)
	}
	records := &corev1.SecretList{}
	if err := tr.List(t.Context(), records, client.InNamespace(mesh.Spec.Namespace)); err != nil {
		t.Fatal(err)
	}
	if len(records.Items) != 0 {
		t.Errorf("the release's records are left: %d", len(records.Items))
	}
	if lists != 2 {
		t.Errorf("the release's records were listed %d times, want 2: the 503 and its retry", lists)
	}
	if got := helmOperations(release, "uninstalled", "success") - successBefore; got != 1 {
		t.Errorf(`%s{release=%q, action="uninstalled", result="success"} rose by %v, want 1`, metrics.HelmOperationsName, release, got)
	}
	if got := helmOperations(release, "uninstalled", "error") - errorBefore; got != 0 {
		t.Errorf(`%s{release=%q, action="uninstalled", result="error"} rose by %v, want 0`, metrics.HelmOperationsName, release, got)
	}
	close(tr.recorder.Events)
	for e := range tr.recorder.Events {
		t.Errorf("unexpected Event %q", e)
	}
}
