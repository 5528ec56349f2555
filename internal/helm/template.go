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
	"fmt"
	"strings"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Template renders a chart offline, as `helm template` does: every object the chart would install,
// in template-file order, as one multi-document YAML manifest. What it renders passes the chart guard
// as a release's objects do (but for the images, which the caller checks of what it applies): the
// default revision tag's webhook, which meshkeeper applies with its own rights, is rendered so.
func Template(chart *chartv2.Chart, values map[string]any, releaseName, namespace string) ([]byte, error) {
	options := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	renderValues, err := toRenderValues(chart, values, options, common.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("preparing values of chart %s: %w", chart.Name(), err)
	}
	files, err := engine.Render(chart, renderValues)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", chart.Name(), err)
	}
	var out strings.Builder
	var objects []*unstructured.Unstructured
	for _, doc := range splitRendered(files) {
		content := strings.TrimSpace(doc.content)
		if content == "" || isOnlyComments(content) {
			continue
		}
		decoded, err := decodeManifest([]byte(content))
		if err != nil {
			return nil, fmt.Errorf("YAML parse error on %s: %w", doc.path, err)
		}
		objects = append(objects, decoded...)
		out.WriteString("---\n# Source: " + doc.path + "\n" + content + "\n")
	}
	if err := guardObjects(chart.Name(), namespace, objects, nil); err != nil {
		return nil, err
	}
	return []byte(out.String()), nil
}

func isOnlyComments(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
