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

package bundle

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// catalogTemplate is an opm basic catalog template (schema olm.template.basic): file-based catalog
// entries of the schemas olm.package, olm.channel and olm.bundle.
type catalogTemplate struct {
	Schema  string `json:"schema"`
	Entries []struct {
		Schema         string `json:"schema"`
		Name           string `json:"name,omitempty"`
		Package        string `json:"package,omitempty"`
		DefaultChannel string `json:"defaultChannel,omitempty"`
		Description    string `json:"description,omitempty"`
		Image          string `json:"image,omitempty"`
		Entries        []struct {
			Name     string   `json:"name"`
			Replaces string   `json:"replaces,omitempty"`
			Skips    []string `json:"skips,omitempty"`
		} `json:"entries,omitempty"`
	} `json:"entries"`
}

// checkCatalog: the template is of meshkeeper's package, its default channel is the bundle's, the
// bundle is in every channel it names and its image is in the template, and the upgrade graph names
// only bundles the channel has.
func checkCatalog(b *bundle, data []byte) []error {
	var tmpl catalogTemplate
	if err := yaml.UnmarshalStrict(data, &tmpl); err != nil {
		return []error{errorf("catalog/template.yaml: %w", err)}
	}
	var errs []error
	if tmpl.Schema != "olm.template.basic" {
		errs = append(errs, errorf("catalog/template.yaml has the schema %q, want olm.template.basic", tmpl.Schema))
	}
	version := b.csv.Spec.Version.String()
	channels := map[string][]string{}
	var packages, images []string
	for _, e := range tmpl.Entries {
		switch e.Schema {
		case "olm.package":
			packages = append(packages, e.Name)
			if e.DefaultChannel != b.annotations[generator.ChannelDefaultLabel] {
				errs = append(errs, errorf("the catalog's default channel is %q, the bundle's %q", e.DefaultChannel, b.annotations[generator.ChannelDefaultLabel]))
			}
		case "olm.channel":
			if e.Package != generator.PackageName {
				errs = append(errs, errorf("channel %s is of the package %q", e.Name, e.Package))
			}
			for _, entry := range e.Entries {
				channels[e.Name] = append(channels[e.Name], entry.Name)
			}
			for _, entry := range e.Entries {
				for _, ref := range append(slices.Clone(entry.Skips), entry.Replaces) {
					if ref != "" && !slices.Contains(channels[e.Name], ref) {
						errs = append(errs, errorf("channel %s: %s replaces or skips %s, which the channel does not have", e.Name, entry.Name, ref))
					}
				}
			}
		case "olm.bundle":
			images = append(images, e.Image)
		default:
			errs = append(errs, errorf("catalog/template.yaml has an entry of the schema %q", e.Schema))
		}
	}
	if !slices.Equal(packages, []string{generator.PackageName}) {
		errs = append(errs, errorf("catalog/template.yaml has the packages %v, want %s", packages, generator.PackageName))
	}
	for _, c := range strings.Split(b.annotations[generator.ChannelsLabel], ",") {
		if !slices.Contains(channels[c], b.csv.Name) {
			errs = append(errs, errorf("channel %s of catalog/template.yaml does not have %s", c, b.csv.Name))
		}
	}
	if !slices.ContainsFunc(images, func(image string) bool { return strings.HasSuffix(image, "-bundle:v"+version) }) {
		errs = append(errs, errorf("catalog/template.yaml has no bundle image of version %s: %v", version, images))
	}
	return errs
}

// TestCatalogTemplate holds catalog/template.yaml to checkCatalog, and shows that it can fail.
func TestCatalogTemplate(t *testing.T) {
	b := committedBundle(t)
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "catalog", "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range checkCatalog(b, data) {
		t.Error(err)
	}
	version := b.csv.Spec.Version.String()
	for name, broken := range map[string]string{
		"the bundle left out of its channel": strings.Replace(string(data), "- name: "+b.csv.Name, "- name: meshkeeper.v0.0.9", 1),
		"the bundle image left out":          strings.Replace(string(data), "-bundle:v"+version, "-bundle:v0.0.9", 1),
		"another default channel":            strings.Replace(string(data), "defaultChannel: alpha", "defaultChannel: stable", 1),
		"a replaced bundle the channel lacks": strings.Replace(string(data), "- name: "+b.csv.Name,
			"- name: "+b.csv.Name+"\n    replaces: meshkeeper.v0.0.9", 1),
	} {
		if len(checkCatalog(b, []byte(broken))) == 0 {
			t.Errorf("a template with %s passes", name)
		}
	}
}
