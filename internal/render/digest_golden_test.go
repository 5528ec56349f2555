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

package render_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestReleaseDigestGolden records the digest each release of the built-in charts gets for the sample
// and maximal specs. A release whose digest differs from the one on its record is upgraded, so a new
// meshkeeper that computes another digest from the same spec and charts upgrades that release of every
// mesh the moment it starts (an upgrade of istiod rolls istiod out): this fails whenever a change of the
// digest's formula, of the values meshkeeper adds, or of the built-in charts would do that. If the
// change is intended, run 'make test-update-golden' and say in CHANGELOG.md what a meshkeeper upgrade
// then does to a running mesh.
func TestReleaseDigestGolden(t *testing.T) {
	var out strings.Builder
	for _, fixture := range []string{"sample.yaml", "maximal.yaml"} {
		spec := specFrom(t, filepath.Join("testdata", fixture))
		istiodValues, err := render.IstiodValues(spec, charts.BuiltinVersion)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			chart   string
			release helm.Release
		}{
			{chart: charts.Base, release: helm.Release{Name: "istio-base", Namespace: spec.Namespace, Values: render.BaseValues(spec)}},
			{chart: charts.Istiod, release: helm.Release{Name: "istiod", Namespace: spec.Namespace, Values: istiodValues}},
			{chart: charts.CNI, release: helm.Release{Name: "istio-cni", Namespace: spec.CNINamespace(),
				Values:      render.CNIValues(spec, charts.BuiltinVersion),
				PodPriority: &helm.PodPriority{DaemonSet: render.CNIDaemonSet, ClassName: render.CNIPriorityClassName(spec)}}},
		} {
			chart, err := charts.Builtin(r.chart)
			if err != nil {
				t.Fatal(err)
			}
			release := r.release
			release.ChartDigest, release.Owner = charts.Digest(chart), owner
			digest, err := release.Digest()
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&out, "%s %s %s\n", fixture, release.Name, digest)
		}
	}
	compareGolden(t, "release-digests.golden.txt", []byte(out.String()))
}
