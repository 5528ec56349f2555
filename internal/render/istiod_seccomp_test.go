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
	"encoding/json"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"text/template"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// istiod's container runs with the seccomp profile RuntimeDefault unless spec.values sets the chart's
// seccompProfile: the Pod Security level restricted asks for RuntimeDefault or Localhost, and the chart
// renders none by default. A profile of the user's own replaces it, null takes it out, and neither is
// an override of a field of the spec.
func TestIstiodSeccompProfile(t *testing.T) {
	for name, tc := range map[string]struct {
		values string // spec.values; "" for none
		want   any    // the discovery container's securityContext.seccompProfile; nil for none
	}{
		"without spec.values": {want: map[string]any{"type": "RuntimeDefault"}},
		"a Localhost profile in spec.values": {
			values: `{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/istiod.json"}}`,
			want:   map[string]any{"type": "Localhost", "localhostProfile": "profiles/istiod.json"},
		},
		"RuntimeDefault in spec.values": {
			values: `{"seccompProfile":{"type":"RuntimeDefault"}}`,
			want:   map[string]any{"type": "RuntimeDefault"},
		},
		"null in spec.values": {values: `{"seccompProfile":null}`},
	} {
		t.Run(name, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			spec.Values = nil
			if tc.values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(tc.values)}
			}
			var got any
			found := false
			for _, u := range objects(t, renderIstiod(t, spec)) {
				if u.GetKind() != "Deployment" || u.GetName() != "istiod" {
					continue
				}
				containers, _, _ := unstructured.NestedSlice(u.Object, "spec", "template", "spec", "containers")
				for _, c := range containers {
					if c, ok := c.(map[string]any); ok && c["name"] == "discovery" {
						found = true
						got, _, _ = unstructured.NestedFieldCopy(c, "securityContext", "seccompProfile")
					}
				}
			}
			if !found {
				t.Fatal("the istiod chart rendered no istiod Deployment with a discovery container")
			}
			if !reflect.DeepEqual(got, tc.want) {
				gotJSON, _ := json.Marshal(got)
				wantJSON, _ := json.Marshal(tc.want)
				t.Errorf("discovery's seccompProfile = %s, want %s", gotJSON, wantJSON)
			}
			if overrides := render.ValuesOverrides(spec, charts.BuiltinVersion); len(overrides) > 0 {
				t.Errorf("ValuesOverrides = %q, want none: seccompProfile is no field of the spec", overrides)
			}
		})
	}
}

// The Pod Security check of enrollment (policy.PrivilegeOf) reads from spec.values whether the
// sidecar's containers get a seccomp profile that the level restricted admits, and whether they get
// Unconfined, which baseline rejects too. Here the istiod chart is rendered with each value, and the
// parts of the sidecar injection template that write the profile of istio-proxy and its init
// container are run with the values the injector reads: the check must agree with what they render.
// null, or a type that is null or empty, leaves the containers without a usable profile; {} keeps
// meshkeeper's RuntimeDefault.
func TestSidecarSeccompProfileIsWhatThePodSecurityCheckReads(t *testing.T) {
	for _, values := range []string{
		``,
		`{"global":{"proxy":{"seccompProfile":null}}}`,
		`{"global":{"proxy":{"seccompProfile":{"type":null}}}}`,
		`{"global":{"proxy":{"seccompProfile":{"type":""}}}}`,
		`{"global":{"proxy":{"seccompProfile":""}}}`,
		`{"global":{"proxy":{"seccompProfile":{}}}}`,
		`{"global":{"proxy":{"seccompProfile":{"type":"RuntimeDefault"}}}}`,
		`{"global":{"proxy":{"seccompProfile":{"type":"Localhost","localhostProfile":"profiles/proxy.json"}}}}`,
		`{"global":{"proxy":{"seccompProfile":{"type":"Unconfined"}}}}`,
	} {
		t.Run(values, func(t *testing.T) {
			spec := specFrom(t, filepath.Join("testdata", "sample.yaml"))
			spec.Values = nil
			if values != "" {
				spec.Values = &meshv1alpha1.IstiodValues{Raw: []byte(values)}
			}
			profiles := injectedSeccompProfiles(t, renderIstiod(t, spec))
			privilege := policy.PrivilegeOf(spec)
			for i, profile := range profiles {
				restrictedAdmits := profile != nil &&
					(profile.Type == corev1.SeccompProfileTypeRuntimeDefault || profile.Type == corev1.SeccompProfileTypeLocalhost)
				baselineAdmits := profile == nil || profile.Type != corev1.SeccompProfileTypeUnconfined
				for level, admits := range map[string]bool{"restricted": restrictedAdmits, "baseline": baselineAdmits} {
					_, rejected, rejects := privilege.RejectedBy(map[string]string{policy.LabelPodSecurityEnforce: level})
					if rejects == admits {
						rendered, _ := json.Marshal(profile)
						t.Errorf("the template's seccomp profile #%d is %s, which %s admits: %t; the Pod Security check says it rejects: %t (%s)",
							i+1, rendered, level, admits, rejects, rejected.What)
					}
				}
			}
		})
	}
}

// seccompPart is a part of Istio's injection template that writes a container's seccomp profile from
// global.proxy.seccompProfile.
var seccompPart = regexp.MustCompile(`(?s)\{\{-? *if \.Values\.global\.proxy\.seccompProfile *\}\}.*?\{\{-? *end *\}\}`)

// injectedSeccompProfiles runs each part of the sidecar injection template of manifest's injector
// ConfigMap that writes a seccomp profile with the values of that ConfigMap, as istiod does (with the
// functions those parts call), and returns the profiles they write, nil for none.
func injectedSeccompProfiles(t *testing.T, manifest []byte) []*corev1.SeccompProfile {
	t.Helper()
	for _, u := range objects(t, manifest) {
		if u.GetKind() != "ConfigMap" || u.GetName() != "istio-sidecar-injector" {
			continue
		}
		data, _, _ := unstructured.NestedStringMap(u.Object, "data")
		var config struct {
			Templates map[string]string `json:"templates"`
		}
		if err := yaml.Unmarshal([]byte(data["config"]), &config); err != nil {
			t.Fatal(err)
		}
		var values map[string]any
		if err := json.Unmarshal([]byte(data["values"]), &values); err != nil {
			t.Fatal(err)
		}
		parts := seccompPart.FindAllString(config.Templates["sidecar"], -1)
		if len(parts) < 2 {
			t.Fatalf("the sidecar template has %d parts that write global.proxy.seccompProfile, want one for istio-proxy and one for its init container", len(parts))
		}
		funcs := template.FuncMap{
			"toYaml": func(v any) string {
				text, err := yaml.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				return strings.TrimSuffix(string(text), "\n")
			},
			"nindent": func(n int, s string) string {
				pad := strings.Repeat(" ", n)
				return "\n" + pad + strings.ReplaceAll(s, "\n", "\n"+pad)
			},
		}
		var profiles []*corev1.SeccompProfile
		for _, part := range parts {
			tmpl, err := template.New("seccomp").Funcs(funcs).Parse(part)
			if err != nil {
				t.Fatal(err)
			}
			var out strings.Builder
			if err := tmpl.Execute(&out, map[string]any{"Values": values}); err != nil {
				t.Fatal(err)
			}
			var securityContext corev1.SecurityContext
			if err := yaml.Unmarshal([]byte(dedent(out.String())), &securityContext); err != nil {
				t.Fatalf("%v in %q", err, out.String())
			}
			profiles = append(profiles, securityContext.SeccompProfile)
		}
		return profiles
	}
	t.Fatal("the istiod chart rendered no istio-sidecar-injector ConfigMap")
	return nil
}

// dedent takes the indentation of text's first line that is not blank off every line.
func dedent(text string) string {
	lines := strings.Split(text, "\n")
	indent := -1
	for _, line := range lines {
		if strings.TrimSpace(line) != "" {
			indent = len(line) - len(strings.TrimLeft(line, " "))
			break
		}
	}
	if indent < 0 {
		return ""
	}
	for i, line := range lines {
		lines[i] = strings.TrimPrefix(line, strings.Repeat(" ", indent))
	}
	return strings.Join(lines, "\n")
}
