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
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"istio.io/istio/manifests"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// TestEveryProfileOfTheChartInstalls: istiod installs with each profile, platform and compatibility
// version the built-in istiod chart ships that the CRD admits (all but remote), chosen at the top of
// spec.values or under global, with the sample spec: its render passes the chart guard, as the
// install's does. The chart merges a profile file under spec.values, so a key the file sets that
// meshkeeper leaves to the chart's default comes from the file: the OpenShift platform's
// trustedZtunnelNamespace kube-system had istiod trust kube-system's ztunnel, the guard refused the
// Deployment, and the install failed on every retry, naming a variable the user never set.
func TestEveryProfileOfTheChartInstalls(t *testing.T) {
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := fs.ReadDir(manifests.FS, "charts/istio-control/istio-discovery/files")
	if err != nil {
		t.Fatal(err)
	}
	var selections []string
	for _, e := range entries {
		name, ok := strings.CutPrefix(strings.TrimSuffix(e.Name(), ".yaml"), "profile-")
		switch {
		case !ok || name == "remote":
		case strings.HasPrefix(name, "platform-"):
			platform := strings.TrimPrefix(name, "platform-")
			selections = append(selections, fmt.Sprintf(`{"global":{"platform":%q}}`, platform),
				fmt.Sprintf(`{"platform":%q,"trustedZtunnelNamespace":""}`, platform))
		case strings.HasPrefix(name, "compatibility-version-"):
			selections = append(selections, fmt.Sprintf(`{"compatibilityVersion":%q}`, strings.TrimPrefix(name, "compatibility-version-")))
		default:
			selections = append(selections, fmt.Sprintf(`{"profile":%q}`, name), fmt.Sprintf(`{"global":{"profile":%q}}`, name))
		}
	}
	if len(selections) < 10 {
		t.Fatalf("found only %v in the chart's profiles: its layout changed", selections)
	}
	for _, raw := range selections {
		t.Run(raw, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			// As the CRD admits the demo profile: without resources of the spec's own.
			spec.ControlPlane.Resources, spec.Proxy.Resources = corev1.ResourceRequirements{}, corev1.ResourceRequirements{}
			spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(raw)}
			values, err := render.IstiodValues(spec, charts.BuiltinVersion)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := helm.TemplateGuarded(chart, values, charts.Istiod, spec.Namespace); err != nil {
				t.Errorf("istiod does not install with spec.values %s: %v", raw, err)
			}
		})
	}
}

// TestAProfileDecidesNothingOfTheCNIInjection: with any profile, platform or compatibility version of the
// chart selected, the injector istiod gets injects for a CNI plugin exactly when meshkeeper takes it to
// (policy.InjectsForCNI, which the Pod Security check of enrollment, the proxy counts and the restarts
// read): with meshkeeper's agent, without it, and with spec.values cni.enabled of a CNI installed by hand.
// The OpenShift platform's pilot.cni.enabled once won, unseen, and its pods got istio-validation where
// meshkeeper counted istio-init.
func TestAProfileDecidesNothingOfTheCNIInjection(t *testing.T) {
	chart, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	for _, selection := range []string{`"global":{"platform":"openshift"}`, `"platform":"openshift"`, `"profile":"ambient"`,
		`"profile":"demo"`, `"compatibilityVersion":"1.29"`, `"global":{"platform":"gke"}`} {
		for _, agent := range []bool{true, false} {
			for _, own := range []string{"", `,"cni":{"enabled":true}`, `,"cni":{"enabled":false}`} {
				raw := "{" + selection + own + "}"
				t.Run(fmt.Sprintf("%s agent=%t", raw, agent), func(t *testing.T) {
					spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
					spec.ControlPlane.Resources, spec.Proxy.Resources = corev1.ResourceRequirements{}, corev1.ResourceRequirements{}
					spec.CNI.Enabled = &agent
					spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(raw)}
					values, err := render.IstiodValues(spec, charts.BuiltinVersion)
					if err != nil {
						t.Fatal(err)
					}
					manifest, err := helm.TemplateGuarded(chart, values, charts.Istiod, spec.Namespace)
					if err != nil {
						t.Fatal(err)
					}
					if got, want := injectsForCNI(t, manifest), policy.InjectsForCNI(spec); got != want {
						t.Errorf("the injector injects for a CNI plugin: %t; meshkeeper takes it to: %t", got, want)
					}
				})
			}
		}
	}
}

// injectsForCNI reads pilot.cni.enabled from the values of the injector ConfigMap in manifest, which
// the injection template reads.
func injectsForCNI(t *testing.T, manifest []byte) bool {
	t.Helper()
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		var cm corev1.ConfigMap
		if err := decoder.Decode(&cm); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if cm.Kind != "ConfigMap" || !strings.HasPrefix(cm.Name, "istio-sidecar-injector") {
			continue
		}
		var values struct {
			Pilot struct {
				CNI struct {
					Enabled bool `json:"enabled"`
				} `json:"cni"`
			} `json:"pilot"`
		}
		if err := json.Unmarshal([]byte(cm.Data["values"]), &values); err != nil {
			t.Fatal(err)
		}
		return values.Pilot.CNI.Enabled
	}
	t.Fatal("no injector ConfigMap in the manifest")
	return false
}
