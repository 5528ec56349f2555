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
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// TestValuesThatOverrideTheSpecAreReported: spec.values is merged last and wins, also over the keys the
// typed fields render (controlPlane.pushTuning's istiod environment, proxy's mesh config). A platform
// engineer who tunes controlPlane.pushTuning.debounceAfter while an older spec.values still sets
// PILOT_DEBOUNCE_AFTER sees the field in the spec, in `kubectl explain` and in Argo CD, and istiod runs
// with the other value. The install or upgrade that renders such values says so in a Warning Event that
// names the key and the field it overrides; values that agree with the fields, or set keys no field
// renders, bring no Warning.
func TestValuesThatOverrideTheSpecAreReported(t *testing.T) {
	upgraded := func(desired helm.Release) (helm.Result, error) {
		if desired.Name == istiodRelease {
			return helm.Result{State: helm.StateOutOfSync, Action: helm.ActionUpgraded}, nil
		}
		return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
	}
	for name, tc := range map[string]struct {
		values   string
		want     []string // in the Warning's message
		wantNone bool
	}{
		"a debounce in spec.values over pushTuning.debounceAfter": {
			values: `{"env":{"PILOT_DEBOUNCE_AFTER":"5s"}}`,
			want:   []string{"env.PILOT_DEBOUNCE_AFTER", "controlPlane.pushTuning.debounceAfter"},
		},
		"delta xDS turned off in spec.values over proxy.deltaXDS": {
			values: `{"meshConfig":{"defaultConfig":{"proxyMetadata":{"ISTIO_DELTA_XDS":"false"}}}}`,
			want:   []string{"meshConfig.defaultConfig.proxyMetadata.ISTIO_DELTA_XDS", "proxy.deltaXDS"},
		},
		"the chart's own switch that holds every application over proxy.holdApplicationUntilProxyStarts false": {
			values: `{"global":{"proxy":{"holdApplicationUntilProxyStarts":true}}}`,
			want:   []string{"global.proxy.holdApplicationUntilProxyStarts", "proxy.holdApplicationUntilProxyStarts"},
		},
		"a push throttle in spec.values equal to the field's, written as a number": {
			values: `{"env":{"PILOT_PUSH_THROTTLE":100}}`, wantNone: true,
		},
		"keys no field renders": {
			values: `{"env":{"PILOT_ENABLE_STATUS":"true"},"meshConfig":{"accessLogFile":"/dev/stdout"}}`, wantNone: true,
		},
	} {
		t.Run(name, func(t *testing.T) {
			mesh := testMesh()
			mesh.Spec.ControlPlane.PushTuning = meshv1alpha1.PushTuningSpec{
				DebounceAfter: &metav1.Duration{Duration: 100 * time.Millisecond},
				DebounceMax:   &metav1.Duration{Duration: 10 * time.Second},
				PushThrottle:  ptr.To[int32](100),
			}
			mesh.Spec.Proxy.HoldApplicationUntilProxyStarts = ptr.To(false)
			mesh.Spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			_, _, recorded, _, _ := reconcileWith(t, mesh, &fakeCharts{ensure: upgraded})
			var warnings []string
			for _, e := range recorded {
				if strings.HasPrefix(e, "Warning ValuesOverrideSpec") {
					warnings = append(warnings, e)
				}
			}
			if tc.wantNone {
				if len(warnings) > 0 {
					t.Errorf("Warnings %q for spec.values that override no field", warnings)
				}
				return
			}
			if len(warnings) != 1 {
				t.Fatalf("Events %q, want one Warning ValuesOverrideSpec naming %q", recorded, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(warnings[0], w) {
					t.Errorf("Warning %q does not name %s", warnings[0], w)
				}
			}
		})
	}
}
