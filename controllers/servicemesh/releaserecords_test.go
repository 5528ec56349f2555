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
	"slices"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// countingCharts is a chart manager that counts its record writes as the test says it wrote them.
type countingCharts struct {
	fakeCharts
	writes uint64
}

func (c *countingCharts) RecordWrites(string) uint64 { return c.writes }

// countingReader counts the lists it serves.
type countingReader struct {
	client.Reader
	lists *int
}

func (c countingReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	*c.lists++
	return c.Reader.List(ctx, list, opts...)
}

// Release Secrets are not cached: the revisions are found from istiod's Deployments in the cache, and
// from the release records (a revision whose install failed before it made a Deployment, one the status
// lists whose Deployment was deleted) read around the cache only when they may have changed: once per
// process, after the chart manager wrote one, and whenever the status lists a revision without its
// Deployment.
func TestObserveRevisionsReadsTheReleaseRecordsOnlyWhenTheyMayHaveChanged(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased}
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true}}
	record := func(release, status string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: "sh.helm.release.v1." + release + ".v1",
			Labels: map[string]string{"owner": "helm", "name": release, "status": status, "version": "1", helm.DigestLabel: "d"}}}
	}
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: "istiod-1-31-0",
		Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod", policy.LabelIstioRevision: "1-31-0"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: mesh.UID}}}}
	charts := &countingCharts{}
	tr := newTestReconciler(t, mesh, charts)
	for _, obj := range []client.Object{istiod, record("istiod-1-31-0", "deployed"), record("istiod-1-31-1", "failed")} {
		if err := tr.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	lists := 0
	reader := countingReader{Reader: tr.APIReader, lists: &lists}
	observe := func(r *Reconciler, m *meshv1alpha1.ServiceMesh, wantLists int, want ...string) {
		t.Helper()
		lists = 0
		found, _, err := r.observeRevisions(t.Context(), m)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range found {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("revisions = %v, want %v", names, want)
		}
		if lists != wantLists {
			t.Errorf("release records listed %d times, want %d", lists, wantLists)
		}
	}
	tr.APIReader = reader

	// The first reconcile of the process reads them: the failed install is a revision.
	observe(tr.Reconciler, mesh, 1, "1-31-0", "1-31-1")
	// Nothing wrote a record since: the reconciles that follow read none.
	observe(tr.Reconciler, mesh, 0, "1-31-0", "1-31-1")
	observe(tr.Reconciler, mesh, 0, "1-31-0", "1-31-1")

	// The chart manager removed the failed revision's record: the next reconcile reads them again.
	if err := tr.Delete(t.Context(), record("istiod-1-31-1", "failed")); err != nil {
		t.Fatal(err)
	}
	charts.writes++
	observe(tr.Reconciler, mesh, 1, "1-31-0")
	observe(tr.Reconciler, mesh, 0, "1-31-0")

	// A manager started again knows nothing of them: it reads them once.
	if err := tr.Create(t.Context(), record("istiod-1-31-1", "pending-install")); err != nil {
		t.Fatal(err)
	}
	restarted := &Reconciler{Client: tr.Client, APIReader: reader, Charts: charts}
	observe(restarted, mesh, 1, "1-31-0", "1-31-1")
	observe(restarted, mesh, 0, "1-31-0", "1-31-1")

	// The status lists a revision whose Deployment is gone: its release is read as it is now, on every
	// reconcile while it lasts (someone may uninstall it by hand).
	listed := mesh.DeepCopy()
	listed.Status.Revisions = append(listed.Status.Revisions, meshv1alpha1.RevisionStatus{Name: "1-30-0", Version: "1.30.0"})
	if err := tr.Create(t.Context(), record("istiod-1-30-0", "deployed")); err != nil {
		t.Fatal(err)
	}
	observe(restarted, listed, 1, "1-31-0", "1-30-0", "1-31-1")
	if err := tr.Delete(t.Context(), record("istiod-1-30-0", "deployed")); err != nil {
		t.Fatal(err)
	}
	observe(restarted, listed, 1, "1-31-0", "1-31-1")
}

// Records changed by someone else alone, which move no count of the chart manager's (a release uninstalled
// by hand, a record forged), are seen once the last list is helm.RecordsRecheck old, as the chart manager
// sees them: without that bound, a revision the status does not list yet whose failed install someone
// uninstalled with helm stays a revision, and one a restored or forged record names stays unseen, for as
// long as meshkeeper writes no record (in a settled mesh, never).
func TestObserveRevisionsReadsTheReleaseRecordsAgainAfterTheRecheck(t *testing.T) {
	mesh := testMesh()
	mesh.Spec.UpdateStrategy = meshv1alpha1.UpdateStrategySpec{Type: meshv1alpha1.UpdateRevisionBased}
	mesh.Status.Revisions = []meshv1alpha1.RevisionStatus{{Name: "1-31-0", Version: "1.31.0", State: meshv1alpha1.RevisionActive, Ready: true}}
	record := func(release, status string) *corev1.Secret {
		return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: "sh.helm.release.v1." + release + ".v1",
			Labels: map[string]string{"owner": "helm", "name": release, "status": status, "version": "1", helm.DigestLabel: "d"}}}
	}
	istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: "istiod-1-31-0",
		Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod", policy.LabelIstioRevision: "1-31-0"},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: mesh.UID}}}}
	tr := newTestReconciler(t, mesh, &countingCharts{})
	for _, obj := range []client.Object{istiod, record("istiod-1-31-0", "deployed"), record("istiod-1-31-1", "failed")} {
		if err := tr.Create(t.Context(), obj); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tr.releaseRecords.now = func() time.Time { return now }
	lists := 0
	tr.APIReader = countingReader{Reader: tr.APIReader, lists: &lists}
	observe := func(wantLists int, want ...string) {
		t.Helper()
		lists = 0
		found, _, err := tr.observeRevisions(t.Context(), mesh)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range found {
			names = append(names, f.Name)
		}
		if !slices.Equal(names, want) {
			t.Errorf("revisions = %v, want %v", names, want)
		}
		if lists != wantLists {
			t.Errorf("release records listed %d times, want %d", lists, wantLists)
		}
	}
	observe(1, "1-31-0", "1-31-1")

	// Someone uninstalls the failed revision by hand: the chart manager wrote nothing.
	if err := tr.Delete(t.Context(), record("istiod-1-31-1", "failed")); err != nil {
		t.Fatal(err)
	}
	now = now.Add(helm.RecordsRecheck - time.Second)
	observe(0, "1-31-0", "1-31-1")
	now = now.Add(time.Second)
	observe(1, "1-31-0")
	observe(0, "1-31-0")

	// Someone writes a record of a failed install of another revision: seen within the recheck too.
	if err := tr.Create(t.Context(), record("istiod-1-31-2", "failed")); err != nil {
		t.Fatal(err)
	}
	observe(0, "1-31-0")
	now = now.Add(helm.RecordsRecheck)
	observe(1, "1-31-0", "1-31-2")
}
