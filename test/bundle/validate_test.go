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
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
)

// TestRules holds the committed bundle to every rule.
func TestRules(t *testing.T) {
	b := committedBundle(t)
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			for _, err := range r.check(b) {
				t.Errorf("%v (rule: %s)", err, r.source)
			}
		})
	}
}

// TestWarnings: the warning-level checks find exactly what expectedWarnings accepts.
func TestWarnings(t *testing.T) {
	got := warnings(committedBundle(t))
	for _, w := range got {
		if _, ok := expectedWarnings[w]; !ok {
			t.Errorf("unexpected warning: %s", w)
		}
	}
	for w, why := range expectedWarnings {
		if !slices.Contains(got, w) {
			t.Errorf("the warning about %s no longer occurs: remove it from expectedWarnings (%s)", why, w)
		}
	}
}

// mutation breaks one thing of a valid bundle; the rule named must then fail.
type mutation struct {
	name  string
	rule  string
	files func(generator.Files)
	csv   func(*bundle)
}

// setBundleAnnotation changes a bundle annotation in annotations.yaml and bundle.Dockerfile alike.
func setBundleAnnotation(key, value string) func(generator.Files) {
	return func(f generator.Files) {
		for _, path := range []string{generator.AnnotationsPath, generator.DockerfilePath} {
			lines := strings.Split(string(f[path]), "\n")
			for i, line := range lines {
				if k, _, ok := strings.Cut(strings.TrimSpace(line), ": "); ok && k == key {
					lines[i] = "  " + key + ": " + value
				}
				if k, _, ok := strings.Cut(line, "="); ok && k == "LABEL "+key {
					lines[i] = "LABEL " + key + "=" + value
				}
			}
			f[path] = []byte(strings.Join(lines, "\n"))
		}
	}
}

func setAnnotation(key, value string) func(*bundle) {
	return func(b *bundle) { b.csv.Metadata.Annotations[key] = value }
}

func setManagerContainer(b *bundle, change func(map[string]any)) {
	spec := b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec
	containers, _, _ := unstructured.NestedSlice(spec, "template", "spec", "containers")
	change(containers[0].(map[string]any))
	_ = unstructured.SetNestedSlice(spec, containers, "template", "spec", "containers")
}

var mutations = []mutation{
	{name: "a stray file", rule: "layout", files: func(f generator.Files) { f["bundle/README.md"] = []byte("x") }},
	{name: "wrong mediatype", rule: "annotations", files: setBundleAnnotation(generator.MediatypeLabel, "plain")},
	{name: "default channel not a channel", rule: "annotations", files: setBundleAnnotation(generator.ChannelDefaultLabel, "stable")},
	{name: "Dockerfile label differs", rule: "dockerfile", csv: func(b *bundle) { b.annotations[generator.ChannelsLabel] = "alpha,beta" }},
	{name: "Dockerfile from a base image", rule: "dockerfile", files: func(f generator.Files) {
		f[generator.DockerfilePath] = []byte(strings.Replace(string(f[generator.DockerfilePath]), "FROM scratch", "FROM alpine", 1))
	}},
	{name: "dockerignore excludes the bundle", rule: "dockerfile", files: func(f generator.Files) { f[generator.DockerignorePath] = []byte("*\n") }},
	{name: "two objects in a file", rule: "manifest kinds", files: func(f generator.Files) {
		path := generator.ManifestsDir + "/meshkeeper-metrics-reader_rbac.authorization.k8s.io_v1_clusterrole.yaml"
		f[path] = append(append(f[path], "---\n"...), f[path]...)
	}},
	{name: "an unsupported kind", rule: "manifest kinds", files: func(f generator.Files) {
		f[generator.ManifestsDir+"/x_apps_v1_deployment.yaml"] = []byte("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\n")
	}},
	{name: "a namespaced manifest", rule: "manifest kinds", files: func(f generator.Files) {
		path := generator.ManifestsDir + "/meshkeeper-controller-manager-metrics-service_v1_service.yaml"
		f[path] = []byte(strings.Replace(string(f[path]), "metadata:\n", "metadata:\n  namespace: meshkeeper-system\n", 1))
	}},
	{name: "a huge bundle", rule: "bundle size", files: func(f generator.Files) {
		random := make([]byte, 1<<20)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range random {
			random[i] = byte(r.Uint32())
		}
		f[generator.MetadataDir+"/noise.bin"] = random
	}},
	{name: "CSV name not a DNS name", rule: "csv name", csv: func(b *bundle) {
		b.csv.Metadata.Name = "Meshkeeper.v" + b.csv.Spec.Version
	}},
	{name: "CSV name of another package", rule: "csv name", csv: func(b *bundle) {
		b.csv.Metadata.Name = "istio-operator.v" + b.csv.Spec.Version
	}},
	{name: "CSV kind", rule: "csv type", csv: func(b *bundle) { b.csv.Kind = "" }},
	{name: "no displayName", rule: "required fields", csv: func(b *bundle) { b.csv.Spec.DisplayName = "" }},
	{name: "related image without a name", rule: "required fields", csv: func(b *bundle) { b.csv.Spec.RelatedImages[1].Name = "" }},
	{name: "alm-examples not JSON", rule: "examples", csv: setAnnotation(generator.AnnotationExamples, "{")},
	{name: "an example of another API", rule: "examples", csv: setAnnotation(generator.AnnotationExamples,
		`[{"apiVersion":"mesh.meshkeeper.io/v1beta1","kind":"ServiceMesh","metadata":{"name":"default"}}]`)},
	{name: "no examples", rule: "examples", csv: setAnnotation(generator.AnnotationExamples, `[]`)},
	{name: "OwnNamespace supported", rule: "install modes", csv: func(b *bundle) { b.csv.Spec.InstallModes[0].Supported = true }},
	{name: "no install mode supported", rule: "install modes", csv: func(b *bundle) { b.csv.Spec.InstallModes[3].Supported = false }},
	{name: "a duplicate install mode", rule: "install modes", csv: func(b *bundle) {
		b.csv.Spec.InstallModes = append(b.csv.Spec.InstallModes, b.csv.Spec.InstallModes[3])
	}},
	{name: "minKubeVersion not semver", rule: "min kube version", csv: func(b *bundle) { b.csv.Spec.MinKubeVersion = "1.29" }},
	{name: "a miscased annotation", rule: "annotation names", csv: setAnnotation("olm.skiprange", "<0.1.0")},
	{name: "an owned CRD not in the bundle", rule: "owned crds", csv: func(b *bundle) {
		b.csv.Spec.CustomResourceDefinitions.Owned[0].Name = "meshes.mesh.meshkeeper.io"
	}},
	{name: "a CRD not owned", rule: "owned crds", csv: func(b *bundle) {
		b.csv.Spec.CustomResourceDefinitions.Owned = nil
		b.csv.Metadata.Annotations[generator.AnnotationExamples] = "[]"
	}},
	{name: "the ServiceAccount as a manifest", rule: "service accounts", files: func(f generator.Files) {
		f[generator.ManifestsDir+"/sa_v1_serviceaccount.yaml"] = []byte(
			"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: meshkeeper-controller-manager\n")
	}},
	{name: "the manager image latest", rule: "related images", csv: func(b *bundle) {
		setManagerContainer(b, func(c map[string]any) { c["image"] = "ghcr.io/meshkeeper/meshkeeper:latest" })
	}},
	{name: "the manager image untagged", rule: "related images", csv: func(b *bundle) {
		setManagerContainer(b, func(c map[string]any) { c["image"] = "ghcr.io/meshkeeper/meshkeeper" })
	}},
	{name: "the manager image not related", rule: "related images", csv: func(b *bundle) { b.csv.Spec.RelatedImages = b.csv.Spec.RelatedImages[1:] }},
	{name: "a related image unpinned", rule: "related images", csv: func(b *bundle) { b.csv.Spec.RelatedImages[2].Image = "docker.io/istio/proxyv2" }},
	{name: "the proxy image missing", rule: "related images", csv: func(b *bundle) { b.csv.Spec.RelatedImages = b.csv.Spec.RelatedImages[:2] }},
	{name: "containerImage differs", rule: "related images", csv: setAnnotation(generator.AnnotationContainerImage, "ghcr.io/meshkeeper/meshkeeper:9.9.9")},
	{name: "a related image digest-pinned", rule: "", csv: func(b *bundle) {
		b.csv.Spec.RelatedImages = append(b.csv.Spec.RelatedImages, generator.RelatedImage{Name: "x",
			Image: "docker.io/istio/pilot@sha256:0123456789012345678901234567890123456789012345678901234567890123"})
	}},
	{name: "no provider", rule: "provider", csv: func(b *bundle) { b.csv.Spec.Provider.Name = " " }},
	{name: "a maintainer without email", rule: "maintainers", csv: func(b *bundle) { b.csv.Spec.Maintainers[0].Email = "" }},
	{name: "a link that is no URL", rule: "links", csv: func(b *bundle) { b.csv.Spec.Links[0].URL = "docs/install.md" }},
	{name: "version not semver", rule: "version", csv: func(b *bundle) { b.csv.Spec.Version = "0.1" }},
	{name: "two icons", rule: "icon", csv: func(b *bundle) { b.csv.Spec.Icon = append(b.csv.Spec.Icon, b.csv.Spec.Icon[0]) }},
	{name: "icon mediatype", rule: "icon", csv: func(b *bundle) { b.csv.Spec.Icon[0].MediaType = "image/webp" }},
	{name: "icon not an SVG", rule: "icon", csv: func(b *bundle) { b.csv.Spec.Icon[0].Data = "aGVsbG8=" }},
	{name: "no keywords", rule: "presentation", csv: func(b *bundle) { b.csv.Spec.Keywords = nil }},
	{name: "createdAt not a time", rule: "presentation", csv: setAnnotation(generator.AnnotationCreatedAt, "today")},
	{name: "a capability level that does not exist", rule: "capabilities", csv: setAnnotation("capabilities", "Full Auto")},
	{name: "a category that does not exist", rule: "categories", csv: setAnnotation("categories", "Networking,Mesh")},
	{name: "a removed API", rule: "served apis", files: func(f generator.Files) {
		f[generator.ManifestsDir+"/x_policy_v1beta1_poddisruptionbudget.yaml"] = []byte(
			"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: x\n")
	}},
	{name: "minKubeVersion older than an API", rule: "served apis", csv: func(b *bundle) { b.csv.Spec.MinKubeVersion = "1.15.0" }},
	{name: "a PodSecurityPolicy rule", rule: "served apis", csv: func(b *bundle) {
		p := &b.csv.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0]
		p.Rules = append(p.Rules, rbacv1.PolicyRule{APIGroups: []string{"policy"}, Resources: []string{"podsecuritypolicies"}, Verbs: []string{"use"}})
	}},
	{name: "no CPU request", rule: "resource requests", csv: func(b *bundle) {
		setManagerContainer(b, func(c map[string]any) { unstructured.RemoveNestedField(c, "resources", "requests", "cpu") })
	}},
	{name: "a CRD without description", rule: "crd descriptions", csv: func(b *bundle) { b.csv.Spec.CustomResourceDefinitions.Owned[0].Description = "" }},
	{name: "another strategy", rule: "install strategy", csv: func(b *bundle) { b.csv.Spec.InstallStrategy.StrategyName = "helm" }},
	{name: "permissions for another account", rule: "install strategy", csv: func(b *bundle) {
		b.csv.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0].ServiceAccountName = "default"
		b.csv.Spec.InstallStrategy.StrategySpec.Permissions[0].ServiceAccountName = "default"
	}},
	{name: "a Deployment field that does not exist", rule: "install strategy", csv: func(b *bundle) {
		b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec["replica"] = int64(1)
	}},
	{name: "a descriptor path that does not exist", rule: "descriptors", csv: func(b *bundle) {
		b.csv.Spec.CustomResourceDefinitions.Owned[0].SpecDescriptors[0].Path = "istioVersion"
	}},
	{name: "an unknown x-descriptor", rule: "descriptors", csv: func(b *bundle) {
		d := &b.csv.Spec.CustomResourceDefinitions.Owned[0].SpecDescriptors[0]
		d.XDescriptors = append(d.XDescriptors, "urn:alm:descriptor:com.tectonic.ui:textbox")
	}},
	{name: "a select option the enum lacks", rule: "descriptors", csv: func(b *bundle) {
		for i, d := range b.csv.Spec.CustomResourceDefinitions.Owned[0].SpecDescriptors {
			if d.Path == "mtls.mode" {
				b.csv.Spec.CustomResourceDefinitions.Owned[0].SpecDescriptors[i].XDescriptors = []string{"urn:alm:descriptor:com.tectonic.ui:select:DISABLE"}
			}
		}
	}},
	{name: "a field without descriptor", rule: "descriptors", csv: func(b *bundle) {
		o := &b.csv.Spec.CustomResourceDefinitions.Owned[0]
		o.StatusDescriptors = o.StatusDescriptors[1:]
	}},
	{name: "a template of another namespace", rule: "suggested namespace", csv: setAnnotation(generator.AnnotationSuggestedNamespace, "istio-system")},
}

// TestRulesCanFail breaks a copy of the committed bundle in the ways mutations list, one at a time, and
// expects the rule each names to fail and every other rule to pass: each rule catches what it is for,
// and no rule fails for something else. A mutation naming no rule is one that must pass every rule.
func TestRulesCanFail(t *testing.T) {
	committed := committedBundle(t)
	covered := map[string]bool{}
	for _, m := range mutations {
		t.Run(m.name, func(t *testing.T) {
			files := generator.Files{}
			for path, data := range committed.files {
				files[path] = bytes.Clone(data)
			}
			if m.files != nil {
				m.files(files)
			}
			b, err := parse(files)
			if err != nil {
				t.Fatal(err)
			}
			if m.csv != nil {
				m.csv(b)
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

// TestWarningsCanFail: the warning checks find a CRD-creating rule and a non-standard channel, and
// nothing in a bundle without either.
func TestWarningsCanFail(t *testing.T) {
	b := committedBundle(t)
	b.annotations[generator.ChannelsLabel] = "stable"
	b.annotations[generator.ChannelDefaultLabel] = "stable"
	for _, p := range slices.Concat(b.csv.Spec.InstallStrategy.StrategySpec.Permissions, b.csv.Spec.InstallStrategy.StrategySpec.ClusterPermissions) {
		for i, r := range p.Rules {
			if slices.Contains(r.Resources, "customresourcedefinitions") {
				p.Rules[i].Verbs = []string{"get", "list", "watch"}
			}
		}
	}
	if w := warnings(b); len(w) != 0 {
		data, _ := json.Marshal(w)
		t.Errorf("warnings without a cause: %s", data)
	}
}
