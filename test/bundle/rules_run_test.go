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
	"strings"
	"testing"

	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
)

// TestRules holds the committed bundle to each of meshkeeper's own rules.
func TestRules(t *testing.T) {
	b := committedBundle(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, err := range r.check(b) {
				t.Errorf("%v (rule: %s)", err, r.why)
			}
		})
	}
}

// mutation breaks one thing of the committed bundle; the rule named must then fail, and no other.
type mutation struct {
	name  string
	rule  string
	csv   func(*operatorsv1alpha1.ClusterServiceVersion)
	files func(generator.Files)
}

func ownedServiceMesh(c *operatorsv1alpha1.ClusterServiceVersion) *operatorsv1alpha1.CRDDescription {
	return &c.Spec.CustomResourceDefinitions.Owned[0]
}

var mutations = []mutation{
	{name: "OwnNamespace supported", rule: "install modes", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.InstallModes[0].Supported = true
	}},
	{name: "AllNamespaces not stated", rule: "install modes", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.InstallModes = c.Spec.InstallModes[:3]
	}},
	{name: "the manager image latest", rule: "related images", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Image = "ghcr.io/meshkeeper/meshkeeper:latest"
	}},
	{name: "the manager image not related", rule: "related images", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.RelatedImages = c.Spec.RelatedImages[1:]
	}},
	{name: "a related image unpinned", rule: "related images", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.RelatedImages[2].Image = "docker.io/istio/proxyv2"
	}},
	{name: "the proxy image missing", rule: "related images", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.RelatedImages = c.Spec.RelatedImages[:2]
	}},
	{name: "a related image digest-pinned", rule: "", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Spec.RelatedImages = append(c.Spec.RelatedImages, operatorsv1alpha1.RelatedImage{Name: "x",
			Image: "docker.io/istio/pilot@sha256:0123456789012345678901234567890123456789012345678901234567890123"})
	}},
	{name: "a Dockerfile label differs", rule: "dockerfile", files: func(f generator.Files) {
		f[generator.DockerfilePath] = []byte(strings.Replace(string(f[generator.DockerfilePath]),
			generator.ChannelsLabel+"=alpha", generator.ChannelsLabel+"=alpha,beta", 1))
	}},
	{name: "the Dockerfile without the scorecard tests", rule: "dockerfile", files: func(f generator.Files) {
		f[generator.DockerfilePath] = []byte(strings.Replace(string(f[generator.DockerfilePath]),
			"COPY bundle/tests/scorecard /tests/scorecard/\n", "", 1))
	}},
	{name: "a field without descriptor", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		o := ownedServiceMesh(c)
		o.SpecDescriptors = o.SpecDescriptors[1:]
	}},
	{name: "a top-level field of the example without descriptor", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		o := ownedServiceMesh(c)
		for i, d := range o.SpecDescriptors {
			if d.Path == "mtls" {
				o.SpecDescriptors = append(o.SpecDescriptors[:i], o.SpecDescriptors[i+1:]...)
				break
			}
		}
	}},
	{name: "a status field without descriptor", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		o := ownedServiceMesh(c)
		o.StatusDescriptors = o.StatusDescriptors[:len(o.StatusDescriptors)-1]
	}},
	{name: "a descriptor path that does not exist", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		o := ownedServiceMesh(c)
		o.SpecDescriptors = append(o.SpecDescriptors, operatorsv1alpha1.SpecDescriptor{Path: "istioVersion", DisplayName: "x", Description: "x"})
	}},
	{name: "an unknown x-descriptor", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		d := &ownedServiceMesh(c).SpecDescriptors[0]
		d.XDescriptors = append(d.XDescriptors, "urn:alm:descriptor:com.tectonic.ui:textbox")
	}},
	{name: "a select option the enum lacks", rule: "descriptors", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		for i, d := range ownedServiceMesh(c).SpecDescriptors {
			if d.Path == "mtls.mode" {
				ownedServiceMesh(c).SpecDescriptors[i].XDescriptors = []string{"urn:alm:descriptor:com.tectonic.ui:select:DISABLE"}
			}
		}
	}},
	{name: "no resources", rule: "resources", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		ownedServiceMesh(c).Resources = nil
	}},
	{name: "an initialization resource of another name", rule: "initialization resource", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Annotations[generator.AnnotationInitializationResource] = strings.Replace(
			c.Annotations[generator.AnnotationInitializationResource], `"name":"default"`, `"name":"mesh"`, 1)
	}},
	{name: "no scorecard configuration", rule: "scorecard", files: func(f generator.Files) {
		delete(f, generator.ScorecardConfigPath)
	}},
	{name: "a scorecard test left out", rule: "scorecard", files: func(f generator.Files) {
		f[generator.ScorecardConfigPath] = []byte(strings.Replace(string(f[generator.ScorecardConfigPath]),
			"olm-status-descriptors", "olm-status", 1))
	}},
	{name: "a template of another namespace", rule: "suggested namespace", csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
		c.Annotations[generator.AnnotationSuggestedNamespace] = "istio-system"
	}},
}

// TestRulesCanFail breaks a copy of the committed bundle in the ways mutations list, one at a time, and
// expects the rule each names to fail and every other rule to pass. A mutation naming no rule is one
// that must pass every rule.
func TestRulesCanFail(t *testing.T) {
	committed := committedBundle(t)
	covered := map[string]bool{}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			b := committed
			if m.csv != nil {
				csv := committed.csv.DeepCopy()
				m.csv(csv)
				b = committed.withCSV(t, csv)
			}
			if m.files != nil {
				files := b.clone()
				m.files(files)
				var err error
				if b, err = parse(files); err != nil {
					t.Fatal(err)
				}
			}
			for _, r := range rules {
				errs := r.check(b)
				switch {
				case r.name == m.rule && len(errs) == 0:
					t.Errorf("rule %q passed", r.name)
				case r.name != m.rule && len(errs) > 0:
					t.Errorf("rule %q failed too: %v", r.name, errs)
				}
			}
		})
		covered[m.rule] = true
	}
	for _, r := range rules {
		if !covered[r.name] {
			t.Errorf("no mutation shows that rule %q can fail", r.name)
		}
	}
}
