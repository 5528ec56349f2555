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
	"fmt"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// versionedResolver serves charts of their own for each of its versions, as a repository with
// several releases does; any other version is not found.
type versionedResolver struct{ versions []string }

func (v versionedResolver) Resolve(_ context.Context, source charts.Source) (charts.Set, error) {
	for _, version := range v.versions {
		if version == source.Version {
			chart := func(name string) *chartv2.Chart {
				return &chartv2.Chart{Metadata: &chartv2.Metadata{Name: name, Version: version}}
			}
			return charts.Set{Version: version, Base: chart("base"), BaseDigest: "base-" + version,
				Istiod: chart("istiod"), IstiodDigest: "istiod-" + version}, nil
		}
	}
	return charts.Set{}, fmt.Errorf("%w: no charts of %s", charts.ErrChartNotFound, source.Version)
}

// revisionChartsReconciler is a Reconciler on a fake API server holding mesh, its control-plane
// namespace and istiods, resolving charts of versions, recording the releases it ensures in order.
func revisionChartsReconciler(t *testing.T, mesh *meshv1alpha1.ServiceMesh, versions []string, istiods ...*appsv1.Deployment) (*Reconciler, *[]helm.Release) {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, meshv1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	objects := []client.Object{mesh, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.Spec.Namespace}}}
	for _, d := range istiods {
		objects = append(objects, d)
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objects...).Build()
	var ensured []helm.Release
	manager := &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
		ensured = append(ensured, desired)
		return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
	}}
	return &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Charts: manager,
		Resolver: versionedResolver{versions: versions}}, &ensured
}

// revisionIstiod is the istiod Deployment of a revision of mesh, running image, not yet available.
func revisionIstiod(mesh *meshv1alpha1.ServiceMesh, rev, image string) *appsv1.Deployment {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: revisionDeployment(rev),
		Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod",
			policy.LabelIstioRevision: rev},
		OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
			Name: mesh.Name, UID: mesh.UID}}}}
	d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "discovery", Image: image}}
	return d
}

func revisionBasedMesh() *meshv1alpha1.ServiceMesh {
	mesh := testMesh()
	mesh.Spec.UpdateStrategy.Type = meshv1alpha1.UpdateRevisionBased
	return mesh
}

// releaseChart is the chart version of the release named name among ensured; "" when not ensured.
func releaseChart(ensured []helm.Release, name string) string {
	version := ""
	for _, r := range ensured {
		if r.Name == name {
			version = r.Chart.Metadata.Version
		}
	}
	return version
}

// The base chart installs the Istio CRDs, which serve older control planes but not newer ones: it moves
// to the newest version running as soon as that version's revision is installed, not once the older
// revision is gone.
func TestReconcileRevisionsBaseChartFollowsTheNewestVersion(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.31.1"
	r, ensured := revisionChartsReconciler(t, mesh, []string{"1.30.2", "1.31.1"},
		revisionIstiod(mesh, "1-30-2", "docker.io/istio/pilot:1.30.2"))
	if _, err := r.reconcileRevisions(t.Context(), mesh, "1.31.1"); err != nil {
		t.Logf("reconcileRevisions: %v", err) // istiod not available: what it ensured is what counts
	}
	if got := releaseChart(*ensured, baseRelease); got != "1.31.1" {
		t.Errorf("istio-base ensured with the chart of %q, want 1.31.1 (the newest version running)", got)
	}
	if got := releaseChart(*ensured, revisionReleasePrefix+"1-30-2"); got != "1.30.2" {
		t.Errorf("istiod-1-30-2 ensured with the chart of %q, want its own 1.30.2", got)
	}
}

// spec.values may tag istiod's image as they like (a mirror's "1.31.1-fips"): the revision of
// spec.version keeps the charts of spec.version, though its image's tag names no chart version.
func TestReconcileRevisionsTargetKeepsTheChartsOfSpecVersion(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.31.1"
	r, ensured := revisionChartsReconciler(t, mesh, []string{"1.31.1"},
		revisionIstiod(mesh, "1-31-1", "registry.example.com/istio/pilot:1.31.1-fips"))
	if _, err := r.reconcileRevisions(t.Context(), mesh, "1.31.1"); err != nil && releaseChart(*ensured, baseRelease) == "" {
		t.Fatalf("reconcileRevisions failed before any release: %v", err)
	}
	if got := releaseChart(*ensured, revisionReleasePrefix+"1-31-1"); got != "1.31.1" {
		t.Errorf("istiod-1-31-1 ensured with the chart of %q, want 1.31.1", got)
	}
}

// Switching to RevisionBased together with a version change: until the new revision is available, the
// istiod without a revision stays active at its version, and so does the CNI agent, whose chart and image
// both follow the active revision. With the newest chart and the old image it would roll out on every
// node twice, once with a pairing Istio never shipped.
func TestReconcileRevisionsTheAgentStaysWithTheIstiodWithoutARevision(t *testing.T) {
	mesh := revisionBasedMesh()
	mesh.Spec.Version = "1.31.1"
	mesh.Status.Version = "1.30.2"
	legacy := revisionIstiod(mesh, revision.Legacy, "docker.io/istio/pilot:1.30.2")
	legacy.Status = appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}
	r, _ := revisionChartsReconciler(t, mesh, []string{"1.30.2", "1.31.1"}, legacy)
	installed, err := r.reconcileRevisions(t.Context(), mesh, "1.31.1")
	if err != nil {
		t.Fatalf("reconcileRevisions: %v", err)
	}
	if installed.revision != revision.Legacy || installed.version != "1.30.2" {
		t.Fatalf("active revision %q at %q, want the istiod without a revision at 1.30.2", installed.revision, installed.version)
	}
	if installed.charts.Version != "1.30.2" {
		t.Errorf("the CNI agent gets the charts of %q, want 1.30.2, the active istiod's", installed.charts.Version)
	}
}
