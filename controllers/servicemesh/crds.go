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
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// versionLabel is the label Istio's charts give what they render (each Istio CRD, istiod's pod
// template and so each ReplicaSet of istiod): its Istio version (the chart's appVersion).
const versionLabel = restart.VersionLabel

// installedCRDsVersion is the newest Istio version of the CRDs meshkeeper's base charts installed, read
// from their labels by metadata; "" when there are none. The CRDs outlive every ServiceMesh (they hold
// the users' Istio objects), and they only move forward: a control plane serves CRDs up to two minor
// versions newer than itself, while CRDs of an older version could drop what the stored objects use.
func (r *Reconciler) installedCRDsVersion(ctx context.Context) (string, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinitionList"})
	if err := r.List(ctx, list, client.MatchingLabels{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}); err != nil {
		return "", fmt.Errorf("listing the Istio CRDs: %w", err)
	}
	newest := ""
	for i := range list.Items {
		crd := &list.Items[i]
		if !strings.HasSuffix(crd.Name, ".istio.io") {
			continue
		}
		v := crd.Labels[versionLabel]
		if _, ok := revision.Parse(v); ok && revision.CompareStrings(v, newest) > 0 {
			newest = v
		}
	}
	return newest, nil
}

// forwardBase is the charts whose base chart installs the Istio CRDs when set is the newest version
// that runs: set itself, unless the CRDs installed (of version installed, installedCRDsVersion) are of
// a newer version, which are kept by installing that version's base chart (found as a running
// version's charts are, see resolveRunning) rather than the older one. The charts found for installed
// may still be older: the built-in charts serve every patch release of their minor version, with the
// base chart, and CRDs, of the built-in version. CRDs of a later patch release, installed from a
// repository's charts, are then reported like charts not found, and the base release is left as it is
// until spec.charts.repository has that release's charts again.
func (r *Reconciler) forwardBase(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, set charts.Set, installed string) (charts.Set, error) {
	if installed == "" || revision.CompareStrings(installed, set.Version) <= 0 {
		return set, nil
	}
	newer, err := r.findRunning(ctx, mesh, installed)
	if err == nil && revision.CompareStrings(installed, newer.set.Version) > 0 {
		return set, r.chartUnavailable(mesh, fmt.Errorf("%w: the Istio CRDs installed are of Istio %s and are never downgraded, "+
			"and the charts at hand are the built-in ones of Istio %s; set spec.charts.repository to a repository that has "+
			"the charts of Istio %s", charts.ErrChartNotFound, installed, newer.set.Version, installed))
	}
	if errors.Is(err, errCharts) {
		return set, r.chartUnavailable(mesh, fmt.Errorf("the Istio CRDs installed are of Istio %s and are never downgraded, "+
			"so Istio %s runs with the base chart of %s: %w", installed, set.Version, installed, err))
	}
	if err != nil {
		return set, err
	}
	return newer.set, nil
}
