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

package helm

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// schemaChart is a chart from a repository with one ConfigMap and values.schema.json schema.
func schemaChart(schema string) *chartv2.Chart {
	chart := attackChartOf("schema", yamlObject("v1", "ConfigMap", "", "settings", "data:\n  level: {{ .Values.level | quote }}\n"))
	chart.Schema = []byte(schema)
	return chart
}

// attackChartOf is a chart from a repository whose content no one vetted, with one template.
func attackChartOf(name, template string) *chartv2.Chart {
	return &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: name, Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/" + name + ".yaml", Data: []byte(template)}},
	}
}

// TestAChartSchemaReachesNothingOutsideTheChart: a chart's values.schema.json may refer to other
// schemas by URL, and Helm's validation loads them, over plain http, from any host (the cloud's metadata
// service, the cluster's Services) and from the manager's own files, with no bound on what it reads.
// meshkeeper validates the values against the chart's schemas and what they hold alone: a schema that
// refers to anything else is refused, nothing is requested or read, and both renders, a release's and
// the default revision tag's (Template), say which chart's schema it is.
func TestAChartSchemaReachesNothingOutsideTheChart(t *testing.T) {
	var requests atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		requests.Add(1)
		_, _ = w.Write([]byte(`{"type": "object"}`))
	}))
	defer server.Close()
	local := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(local, []byte(`{"type": "object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"level": "info"}
	for name, schema := range map[string]string{
		"a URL":                 `{"$ref": "` + server.URL + `/schema.json"}`,
		"a URL's definition":    `{"properties": {"level": {"$ref": "` + server.URL + `/defs.json#/level"}}}`,
		"a meta-schema by URL":  `{"$schema": "` + server.URL + `/meta.json", "type": "object"}`,
		"a file of the manager": `{"$ref": "file://` + local + `"}`,
	} {
		t.Run(name, func(t *testing.T) {
			chart := schemaChart(schema)
			_, _, err := renderChart(context.Background(), chart, values, common.ReleaseOptions{Name: "schema", Namespace: guardNamespace,
				Revision: 1, IsInstall: true}, common.DefaultCapabilities)
			if err == nil || !strings.Contains(err.Error(), "schema") {
				t.Errorf("the release's render was not refused for its schema: %v", err)
			}
			if _, err := Template(chart, values, "schema", guardNamespace); err == nil || !strings.Contains(err.Error(), "schema") {
				t.Errorf("Template was not refused for the schema: %v", err)
			}
			if n := requests.Swap(0); n != 0 {
				t.Errorf("the render made %d request(s) for the chart's schema", n)
			}
		})
	}
}

// TestAChartSchemaStillValidatesTheValues: a schema that holds all it refers to validates the values
// as Helm validates them, its own definitions included.
func TestAChartSchemaStillValidatesTheValues(t *testing.T) {
	chart := schemaChart(`{"$schema": "https://json-schema.org/draft/2020-12/schema", "properties": {"level": {"$ref": "#/$defs/level"}},
		"$defs": {"level": {"enum": ["info", "debug"]}}}`)
	options := common.ReleaseOptions{Name: "schema", Namespace: guardNamespace, Revision: 1, IsInstall: true}
	if _, _, err := renderChart(context.Background(), chart, map[string]any{"level": "info"}, options, common.DefaultCapabilities); err != nil {
		t.Errorf("valid values were refused: %v", err)
	}
	_, _, err := renderChart(context.Background(), chart, map[string]any{"level": "verbose"}, options, common.DefaultCapabilities)
	if err == nil || !strings.Contains(err.Error(), "values don't meet the specifications of the schema(s) in the following chart(s):\nschema:") {
		t.Errorf("values the schema refuses were not refused as Helm refuses them: %v", err)
	}
	if _, err := Template(chart, map[string]any{"level": "verbose"}, "schema", guardNamespace); err == nil {
		t.Error("Template accepted values the schema refuses")
	}
}

// TestTheDefaultTagPassesTheChartGuard: the default revision tag's webhook is rendered by the
// revision's istiod chart, which may come from a repository no one vetted, and meshkeeper applies it
// with its own rights (TemplateGuarded is that render). Like every object of a release, what it renders
// passes the chart guard: a tag that would send every pod of the namespaces it selects to a URL, or to
// another namespace's Service, is refused.
func TestTheDefaultTagPassesTheChartGuard(t *testing.T) {
	tag := func(clientConfig string) *chartv2.Chart {
		return attackChartOf("istiod", `{{- if .Values.revisionTags }}
apiVersion: admissionregistration.k8s.io/v1
kind: MutatingWebhookConfiguration
metadata:
  name: istio-revision-tag-default
webhooks:
- name: rev.namespace.sidecar-injector.istio.io
  admissionReviewVersions: [v1]
  sideEffects: None
  clientConfig:
`+clientConfig+`{{- end }}
`)
	}
	values := map[string]any{"revisionTags": []any{"default"}}
	// The built-in istiod chart's tag, rendered as meshkeeper renders it for a revision, passes.
	istiod, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	rev := revision.Name(charts.BuiltinVersion)
	for _, release := range builtinReleases(t) {
		if release.name != "istiod-"+rev {
			continue
		}
		manifest, err := TemplateGuarded(istiod, render.Merge(release.values, render.Values{"revisionTags": []any{"default"}}), release.name, release.namespace)
		if err != nil || !strings.Contains(string(manifest), "name: istio-revision-tag-default") {
			t.Errorf("the built-in chart's tag was not rendered: %v", err)
		}
	}
	for _, tc := range []struct{ name, clientConfig, refused string }{
		{"a URL", "    url: https://collector.example.com/inject\n",
			"MutatingWebhookConfiguration istio-revision-tag-default, which sends webhook rev.namespace.sidecar-injector.istio.io to a URL rather than a Service"},
		{"a Service in another namespace", "    service: {name: collector, namespace: team-a}\n",
			"sends webhook rev.namespace.sidecar-injector.istio.io to Service team-a/collector, outside the release namespace"},
		{"the revision's istiod", "    service: {name: istiod-1-31, namespace: " + guardNamespace + "}\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest, err := TemplateGuarded(tag(tc.clientConfig), values, "istiod-1-31", guardNamespace)
			if tc.refused == "" {
				if err != nil || !strings.Contains(string(manifest), "istio-revision-tag-default") {
					t.Errorf("the tag was not rendered: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrRefusedObject) || !strings.Contains(err.Error(), tc.refused) {
				t.Errorf("want the tag refused (%s), got %v; rendered:\n%s", tc.refused, err, manifest)
			}
		})
	}
}
