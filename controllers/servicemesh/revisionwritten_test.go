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
	"testing"

	chartcommon "helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// taggingResolver serves, for each version, an istiod chart that renders the default tag's webhook
// when asked (revisionTags), as Istio's does, and nothing else.
type taggingResolver struct{ versionedResolver }

func (v taggingResolver) Resolve(ctx context.Context, source charts.Source) (charts.Set, error) {
	set, err := v.versionedResolver.Resolve(ctx, source)
	if err != nil {
		return set, err
	}
	set.Istiod.Templates = []*chartcommon.File{{Name: "templates/tag.yaml", Data: []byte(`{{- range .Values.revisionTags }}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-revision-tag-{{ . }}
  labels:
    istio.io/rev: {{ $.Values.revision }}
{{- end }}
`)}}
	set.Istiod.Metadata.APIVersion = chartv2.APIVersionV2
	return set, nil
}

// With revisions, the istiod read as written is the target revision's: the status pass reads it from
// the API server when this reconcile wrote its release, and not for a write of another revision's
// release or of the base chart, whose Deployments the status pass does not judge.
func TestRevisionsTellWhetherTheTargetsIstiodWasWritten(t *testing.T) {
	for name, tc := range map[string]struct {
		written string
		want    bool
	}{
		"the target revision's release": {written: revisionReleasePrefix + "1-31-0", want: true},
		"another revision's release":    {written: revisionReleasePrefix + "1-30-0", want: false},
		"the base chart's release":      {written: baseRelease, want: false},
		"nothing":                       {want: false},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := revisionBasedMesh()
			mesh.Spec.Version = "1.31.0"
			r, _ := revisionChartsReconciler(t, mesh, []string{"1.30.0", "1.31.0"},
				revisionIstiod(mesh, "1-30-0", "docker.io/istio/pilot:1.30.0"),
				revisionIstiod(mesh, "1-31-0", "docker.io/istio/pilot:1.31.0"))
			r.Resolver = taggingResolver{versionedResolver{versions: []string{"1.30.0", "1.31.0"}}}
			r.Charts = &fakeCharts{ensure: func(desired helm.Release) (helm.Result, error) {
				if desired.Name == tc.written {
					return helm.Result{State: helm.StateOutOfSync, Action: helm.ActionUpgraded, Revision: 2}, nil
				}
				return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
			}}
			installed, err := r.reconcileRevisions(t.Context(), mesh, "1.31.0")
			if err != nil {
				t.Fatalf("reconcileRevisions: %v", err)
			}
			if installed.deployment != revisionDeployment("1-31-0") {
				t.Fatalf("the istiod judged is %s, want the target revision's", installed.deployment)
			}
			if installed.deploymentWritten != tc.want {
				t.Errorf("deploymentWritten = %t after a write of %q, want %t", installed.deploymentWritten, tc.written, tc.want)
			}
		})
	}
}
