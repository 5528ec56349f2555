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
)

// Template renders a chart offline, as `helm template` does: every object the chart would install,
// in template-file order, as one multi-document YAML manifest. The values are validated against the
// chart's schema as a release's are (loading nothing from outside the chart); what it renders is not
// judged (see TemplateGuarded).
func Template(chart *chartv2.Chart, values map[string]any, releaseName, namespace string) ([]byte, error) {
	options := common.ReleaseOptions{Name: releaseName, Namespace: namespace, Revision: 1, IsInstall: true}
	render := renderFilesInProcess
	if !isTrusted(chart) {
		render = renderFilesSandboxed // see sandbox.go
	}
	files, err := render(chart, values, options, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	var out strings.Builder
	for _, doc := range splitRendered(files) {
		content := strings.TrimSpace(doc.content)
		if content == "" || isOnlyComments(content) {
			continue
		}
		out.WriteString("---\n# Source: " + doc.path + "\n" + content + "\n")
	}
	return []byte(out.String()), nil
}

// TemplateGuarded renders as Template does, for objects meshkeeper applies with its own rights outside
// a release (the default revision tag's webhook, which the revision's istiod chart renders): what it
// renders passes the chart guard as a release's objects do, but for the images, which the caller checks
// of what it applies.
func TemplateGuarded(chart *chartv2.Chart, values map[string]any, releaseName, namespace string) ([]byte, error) {
	manifest, err := Template(chart, values, releaseName, namespace)
	if err != nil {
		return nil, err
	}
	objects, err := decodeManifest(manifest)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", chart.Name(), err)
	}
	if err := guardObjects(chart.Name(), namespace, objects, nil); err != nil {
		return nil, err
	}
	return manifest, nil
}

func isOnlyComments(doc string) bool {
	for _, line := range strings.Split(doc, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			return false
		}
	}
	return true
}
