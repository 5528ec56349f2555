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
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// A mesh of a later patch release than the built-in charts', installed from spec.charts.repository, has
// the Istio CRDs of that release. The built-in charts serve its minor version, but their base chart
// carries the CRDs of the built-in version: once the repository is cleared, the CRDs were downgraded to
// them, and labelled so, which nothing noticed again. The CRDs are kept: the charts are reported not
// found, and no release is touched.
func TestTheBuiltinChartsDoNotDowngradeNewerCRDs(t *testing.T) {
	const installed = "1.31.5"
	if !charts.HasBuiltin(installed) || revision.CompareStrings(installed, charts.BuiltinVersion) <= 0 {
		t.Fatalf("the built-in charts are of %s: the test needs a later patch release of theirs", charts.BuiltinVersion)
	}
	for name, strategy := range map[string]meshv1alpha1.UpdateStrategyType{
		"in place":     meshv1alpha1.UpdateInPlace,
		"by revisions": meshv1alpha1.UpdateRevisionBased,
	} {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Spec.Version = installed
			mesh.Spec.UpdateStrategy.Type = strategy
			scheme := runtime.NewScheme()
			for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, meshv1alpha1.AddToScheme, apiextensionsv1.AddToScheme} {
				if err := add(scheme); err != nil {
					t.Fatal(err)
				}
			}
			crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "peerauthentications.security.istio.io",
				Labels: map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, versionLabel: installed}}}
			c := fake.NewClientBuilder().WithScheme(scheme).
				WithObjects(mesh, crd, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: mesh.Spec.Namespace}}).Build()
			// The control plane's releases are ensured side by side.
			var mu sync.Mutex
			var ensured []helm.Release
			manager := &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
				mu.Lock()
				defer mu.Unlock()
				ensured = append(ensured, desired)
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			r := &Reconciler{Client: c, APIReader: c, Recorder: events.NewFakeRecorder(100), Charts: manager,
				Resolver: &charts.CachingResolver{}}

			_, err := r.reconcileControlPlane(t.Context(), mesh)
			if got := releaseChart(ensured, baseRelease); got != "" {
				t.Errorf("istio-base ensured with the chart of %s over the Istio CRDs of %s", got, installed)
			}
			if len(ensured) != 0 {
				t.Errorf("%d releases ensured, want none: the running control plane is left as it is", len(ensured))
			}
			if err == nil {
				t.Fatal("the control plane was reconciled with charts older than the Istio CRDs")
			}
			if got := meshctx.Classify(err).Reason; got != meshv1alpha1.ReasonChartNotFound {
				t.Errorf("reason %s (%v), want %s", got, err, meshv1alpha1.ReasonChartNotFound)
			}
			for _, want := range []string{"CRDs installed are of Istio " + installed + " and are never downgraded",
				"built-in ones of Istio " + charts.BuiltinVersion, "the charts of Istio " + installed} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %v does not say %q", err, want)
				}
			}
		})
	}
}
