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
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/distribution/reference"
	scorecardv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// meshkeeper's own rules for its bundle, on top of what operator-framework's validators check
// (validate_test.go) and what source_test.go compares with config/. Each guards a promise of
// meshkeeper's, not a format: what it deploys is pinned and mirrorable, it runs for all namespaces,
// the console can show and edit every field of a ServiceMesh, the image is the bundle on disk, and
// scorecard and the console find what they look for.
type rule struct {
	name  string
	why   string
	check func(*bundle) []error
}

var rules = []rule{
	{"install modes", "ServiceMesh is cluster-scoped and meshkeeper manages namespaces across the cluster", checkInstallModes},
	{"related images", "every image meshkeeper runs or deploys by default is pinned and listed for mirroring", checkRelatedImages},
	{"dockerfile", "the bundle image carries the annotations as labels and the bundle's directories", checkDockerfile},
	{"descriptors", "every field of the ServiceMesh API a user sets or reads has a descriptor the console knows", checkDescriptors},
	{"resources", "the console lists what a ServiceMesh owns", checkResources},
	{"initialization resource", "the console offers the singleton ServiceMesh of config/samples after the install", checkInitializationResource},
	{"scorecard", "`operator-sdk scorecard` finds its configuration and runs every built-in test", checkScorecard},
	{"suggested namespace", "OLM's suggested namespace is the one config/ creates", checkSuggestedNamespace},
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

var installModeTypes = []operatorsv1alpha1.InstallModeType{operatorsv1alpha1.InstallModeTypeOwnNamespace,
	operatorsv1alpha1.InstallModeTypeSingleNamespace, operatorsv1alpha1.InstallModeTypeMultiNamespace,
	operatorsv1alpha1.InstallModeTypeAllNamespaces}

// checkInstallModes: every type is stated, and only AllNamespaces is supported (the only mode OLM v1
// installs, too).
func checkInstallModes(b *bundle) []error {
	var errs []error
	modes := map[operatorsv1alpha1.InstallModeType]bool{}
	for _, m := range b.csv.Spec.InstallModes {
		modes[m.Type] = m.Supported
	}
	for _, t := range installModeTypes {
		supported, ok := modes[t]
		if !ok {
			errs = append(errs, errorf("install mode %s is not stated", t))
		} else if supported != (t == operatorsv1alpha1.InstallModeTypeAllNamespaces) {
			errs = append(errs, errorf("install mode %s is supported=%v, want %v", t, supported, !supported))
		}
	}
	return errs
}

// pinned fails unless image has a digest or a tag other than latest.
func pinned(image string) error {
	ref, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return errorf("%q is not an image reference: %w", image, err)
	}
	if _, ok := ref.(reference.Digested); ok {
		return nil
	}
	if t, ok := ref.(reference.Tagged); ok && t.Tag() != "latest" {
		return nil
	}
	return errorf("%q is not pinned: it needs a digest or a tag other than latest", image)
}

// deploymentImages are the images of every container of the CSV's Deployments.
func deploymentImages(b *bundle) []string {
	var images []string
	for _, d := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		for _, c := range slices.Concat(d.Spec.Template.Spec.InitContainers, d.Spec.Template.Spec.Containers) {
			images = append(images, c.Image)
		}
	}
	return images
}

func checkRelatedImages(b *bundle) []error {
	var errs []error
	related := map[string]bool{}
	names := map[string]bool{}
	for i, r := range b.csv.Spec.RelatedImages {
		if err := pinned(r.Image); err != nil {
			errs = append(errs, errorf("spec.relatedImages[%d]: %w", i, err))
		}
		if names[r.Name] {
			errs = append(errs, errorf("spec.relatedImages[%d]: the name %q is used twice", i, r.Name))
		}
		names[r.Name] = true
		related[r.Image] = true
	}
	for _, image := range deploymentImages(b) {
		if err := pinned(image); err != nil {
			errs = append(errs, errorf("the Deployment's image: %w", err))
		}
		if !related[image] {
			errs = append(errs, errorf("the Deployment's image %s is not in spec.relatedImages", image))
		}
	}
	if img := b.csv.Annotations[generator.AnnotationContainerImage]; !slices.Contains(deploymentImages(b), img) {
		errs = append(errs, errorf("the containerImage annotation %q is not the image of a Deployment", img))
	}
	// The Istio images a ServiceMesh deploys by default: the CRD's default hub, the built-in version.
	hub, err := defaultHub(b)
	if err != nil {
		return append(errs, err)
	}
	for _, name := range []string{"pilot", "proxyv2"} {
		image := hub + "/" + name + ":" + charts.BuiltinVersion
		if !related[image] {
			errs = append(errs, errorf("the Istio image %s is not in spec.relatedImages", image))
		}
	}
	return errs
}

// serviceMeshSchema is the schema of the ServiceMesh CRD's storage version in the bundle.
func serviceMeshSchema(b *bundle) (*apiextensionsv1.JSONSchemaProps, error) {
	for _, crd := range b.crds {
		for _, v := range crd.Spec.Versions {
			if crd.Spec.Names.Kind == "ServiceMesh" && v.Storage && v.Schema != nil {
				return v.Schema.OpenAPIV3Schema, nil
			}
		}
	}
	return nil, errorf("the bundle has no ServiceMesh CRD")
}

// defaultHub is the default of spec.images.hub in the ServiceMesh CRD of the bundle.
func defaultHub(b *bundle) (string, error) {
	s, err := serviceMeshSchema(b)
	if err != nil {
		return "", err
	}
	f, err := field(s, "spec.images.hub")
	if err != nil || f.Default == nil {
		return "", errorf("the ServiceMesh CRD has no default for spec.images.hub: %v", err)
	}
	var hub string
	if err := json.Unmarshal(f.Default.Raw, &hub); err != nil {
		return "", errorf("the default of spec.images.hub: %w", err)
	}
	return hub, nil
}

// field is the schema of the field at path, dot-separated; names below an array step into its items.
func field(s *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	current := s
	for _, name := range strings.Split(path, ".") {
		if current.Items != nil && current.Items.Schema != nil {
			current = current.Items.Schema
		}
		next, ok := current.Properties[name]
		if !ok {
			return nil, errorf("the schema has no field %s", path)
		}
		current = &next
	}
	return current, nil
}

var (
	labelLine = regexp.MustCompile(`^LABEL ([^=\s]+)=(\S+)$`)
	copyLine  = regexp.MustCompile(`^COPY (\S+) (\S+)$`)
)

// checkDockerfile: OLM reads the annotations from the image's labels, opm and operator-sdk from
// annotations.yaml; they must agree, and the image must hold the directories they name.
func checkDockerfile(b *bundle) []error {
	var errs []error
	var from []string
	labels := map[string]string{}
	copies := map[string]string{}
	scanner := bufio.NewScanner(bytes.NewReader(b.files[generator.DockerfilePath]))
	for scanner.Scan() {
		line := strings.TrimSpace(scanner.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "FROM "):
			from = append(from, strings.TrimPrefix(line, "FROM "))
		case labelLine.MatchString(line):
			m := labelLine.FindStringSubmatch(line)
			labels[m[1]] = m[2]
		case copyLine.MatchString(line):
			m := copyLine.FindStringSubmatch(line)
			copies[m[2]] = m[1]
		default:
			errs = append(errs, errorf("bundle.Dockerfile: unexpected line %q", line))
		}
	}
	if !slices.Equal(from, []string{"scratch"}) {
		errs = append(errs, errorf("bundle.Dockerfile builds FROM %v, want one stage FROM scratch", from))
	}
	if !reflect.DeepEqual(labels, b.annotations) {
		errs = append(errs, errorf("bundle.Dockerfile labels %v, annotations.yaml says %v", labels, b.annotations))
	}
	want := map[string]string{
		"/" + b.annotations[generator.ManifestsLabel]:  generator.ManifestsDir,
		"/" + b.annotations[generator.MetadataLabel]:   generator.MetadataDir,
		"/" + b.annotations[generator.TestConfigLabel]: generator.ScorecardDir,
	}
	for dst, src := range want {
		if strings.TrimSuffix(copies[dst], "/") != src {
			errs = append(errs, errorf("bundle.Dockerfile copies %q to %s, want %s", copies[dst], dst, src))
		}
	}
	// The repository's .dockerignore admits only Go sources, so the bundle needs its own.
	ignore := string(b.files[generator.DockerignorePath])
	for _, dir := range []string{generator.ManifestsDir, generator.MetadataDir, generator.BundleDir + "/tests"} {
		if !strings.Contains(ignore, "\n!"+dir+"/\n") {
			errs = append(errs, errorf("%s does not admit %s into the build context", generator.DockerignorePath, dir))
		}
	}
	return errs
}

// describedFields are the fields of t that need a descriptor, as paths below t: every field, and
// below a field of one of meshkeeper's own API structs its fields too; any other field (a scalar, a
// list, a map, a Kubernetes type such as ResourceRequirements or LabelSelector) is described as a
// whole. It reads the Go types, not the CRD, so a field added to the API fails the test until it has
// a descriptor.
func describedFields(t reflect.Type, prefix string) []string {
	var out []string
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		path := prefix + name
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		out = append(out, path)
		// spec.values is the istiod chart's free-form values, described as a whole; the keys its type
		// declares are there only for the CRD's rules that reject some of them.
		if ft == reflect.TypeFor[meshv1alpha1.IstiodValues]() {
			continue
		}
		if ft.Kind() == reflect.Struct && ft.PkgPath() == reflect.TypeFor[meshv1alpha1.ServiceMesh]().PkgPath() {
			out = append(out, describedFields(ft, path+".")...)
		}
	}
	return out
}

// The x-descriptors the OpenShift console knows (frontend/packages/operator-lifecycle-manager/src/
// components/descriptors/types.ts in openshift/console): whole names, and prefixes followed by an
// argument.
var (
	specCapabilities = []string{"podCount", "endpointList", "label", "resourceRequirements", "namespaceSelector",
		"booleanSwitch", "password", "checkbox", "imagePullPolicy", "updateStrategy", "text", "number",
		"nodeAffinity", "podAffinity", "podAntiAffinity", "advanced", "hidden"}
	specCapabilityPrefixes = []string{"urn:alm:descriptor:com.tectonic.ui:selector:",
		"urn:alm:descriptor:io.kubernetes:", "urn:alm:descriptor:com.tectonic.ui:fieldGroup:",
		"urn:alm:descriptor:com.tectonic.ui:arrayFieldGroup:", "urn:alm:descriptor:com.tectonic.ui:select:",
		"urn:alm:descriptor:com.tectonic.ui:fieldDependency:"}
	statusCapabilities = []string{"urn:alm:descriptor:com.tectonic.ui:podStatuses", "urn:alm:descriptor:com.tectonic.ui:podCount",
		"urn:alm:descriptor:org.w3:link", "urn:alm:descriptor:io.kubernetes.conditions", "urn:alm:descriptor:text",
		"urn:alm:descriptor:prometheusEndpoint", "urn:alm:descriptor:io.kubernetes.phase",
		"urn:alm:descriptor:io.kubernetes.phase:reason", "urn:alm:descriptor:com.tectonic.ui:hidden"}
	statusCapabilityPrefixes = []string{"urn:alm:descriptor:io.kubernetes:"}
)

func knownXDescriptor(x string, spec bool) bool {
	names, prefixes := statusCapabilities, statusCapabilityPrefixes
	if spec {
		names = nil
		for _, c := range specCapabilities {
			names = append(names, "urn:alm:descriptor:com.tectonic.ui:"+c)
		}
		prefixes = specCapabilityPrefixes
	}
	if slices.Contains(names, x) {
		return true
	}
	return slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(x, p) && len(x) > len(p) })
}

// descriptor is what spec and status descriptors have in common.
type descriptor struct {
	path, displayName, description string
	xDescriptors                   []string
}

func checkDescriptors(b *bundle) []error {
	s, err := serviceMeshSchema(b)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		if c.Kind != "ServiceMesh" {
			continue
		}
		parts := map[string][]descriptor{}
		for _, d := range c.SpecDescriptors {
			parts["spec"] = append(parts["spec"], descriptor{d.Path, d.DisplayName, d.Description, d.XDescriptors})
		}
		for _, d := range c.StatusDescriptors {
			parts["status"] = append(parts["status"], descriptor{d.Path, d.DisplayName, d.Description, d.XDescriptors})
		}
		want := map[string][]string{
			"spec":   describedFields(reflect.TypeFor[meshv1alpha1.ServiceMeshSpec](), ""),
			"status": describedFields(reflect.TypeFor[meshv1alpha1.ServiceMeshStatus](), ""),
		}
		for _, root := range []string{"spec", "status"} {
			var paths []string
			for _, d := range parts[root] {
				if slices.Contains(paths, d.path) {
					errs = append(errs, errorf("%s.%s has two descriptors", root, d.path))
				}
				paths = append(paths, d.path)
				f, err := field(s, root+"."+d.path)
				if err != nil {
					errs = append(errs, errorf("%s descriptor %s: %w", root, d.path, err))
					continue
				}
				if d.displayName == "" || d.description == "" {
					errs = append(errs, errorf("%s descriptor %s has no displayName or description", root, d.path))
				}
				for _, x := range d.xDescriptors {
					if !knownXDescriptor(x, root == "spec") {
						errs = append(errs, errorf("%s descriptor %s: x-descriptor %q is not one the console knows", root, d.path, x))
					}
					if option, ok := strings.CutPrefix(x, "urn:alm:descriptor:com.tectonic.ui:select:"); ok &&
						!slices.ContainsFunc(f.Enum, func(e apiextensionsv1.JSON) bool { return string(e.Raw) == `"`+option+`"` }) {
						errs = append(errs, errorf("%s descriptor %s offers %q, which the schema does not allow", root, d.path, option))
					}
					if x == "urn:alm:descriptor:io.kubernetes.conditions" && f.Type != "array" {
						errs = append(errs, errorf("%s descriptor %s shows conditions, but the field is a %s", root, d.path, f.Type))
					}
				}
			}
			for _, p := range want[root] {
				if !slices.Contains(paths, p) {
					errs = append(errs, errorf("%s.%s has no descriptor: add one to hack/bundle/generator/base.clusterserviceversion.yaml", root, p))
				}
			}
		}
		// scorecard's olm-spec-descriptors: a descriptor whose path is each top-level field of each example.
		list, err := examples(b)
		if err != nil {
			errs = append(errs, err)
		}
		for _, u := range list {
			spec, _ := u.Object["spec"].(map[string]any)
			for key := range spec {
				if !slices.ContainsFunc(parts["spec"], func(d descriptor) bool { return d.path == key }) {
					errs = append(errs, errorf("the example's spec.%s has no descriptor, which scorecard's olm-spec-descriptors asks for", key))
				}
			}
		}
		if !slices.ContainsFunc(parts["status"], func(d descriptor) bool {
			return d.path == "conditions" && slices.Contains(d.xDescriptors, "urn:alm:descriptor:io.kubernetes.conditions")
		}) {
			errs = append(errs, errorf("status.conditions is not described as conditions"))
		}
	}
	return errs
}

// checkResources: the ServiceMesh lists what it owns, at least the control plane (autoscaled, too) and
// the policies, by their whole apiVersion.
func checkResources(b *bundle) []error {
	var errs []error
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		if c.Kind != "ServiceMesh" {
			continue
		}
		for _, want := range []operatorsv1alpha1.APIResourceReference{
			{Kind: "Deployment", Version: "apps/v1"},
			{Kind: "HorizontalPodAutoscaler", Version: "autoscaling/v2"},
			{Kind: "MutatingWebhookConfiguration", Version: "admissionregistration.k8s.io/v1"},
			{Name: "peerauthentications", Kind: "PeerAuthentication", Version: "security.istio.io/v1"},
			{Name: "sidecars", Kind: "Sidecar", Version: "networking.istio.io/v1"},
		} {
			if !slices.Contains(c.Resources, want) {
				errs = append(errs, errorf("the resources of %s do not list %+v", c.Name, want))
			}
		}
		for _, r := range c.Resources {
			if r.Kind == "CustomResourceDefinition" {
				errs = append(errs, errorf("the resources of %s list CRDs, which outlive the ServiceMesh", c.Name))
			}
		}
	}
	return errs
}

// checkInitializationResource: the console's "create" after the install is the ServiceMesh
// "default", the one alm-example, with a spec (scorecard's basic-check-spec).
func checkInitializationResource(b *bundle) []error {
	raw := b.csv.Annotations[generator.AnnotationInitializationResource]
	init := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(raw), &init.Object); err != nil {
		return []error{errorf("the initialization resource is not a JSON object: %w", err)}
	}
	var errs []error
	if init.GroupVersionKind() != meshv1alpha1.GroupVersion.WithKind("ServiceMesh") || init.GetName() != "default" {
		errs = append(errs, errorf("the initialization resource is %s %s, want the ServiceMesh default", init.GroupVersionKind(), init.GetName()))
	}
	if spec, ok := init.Object["spec"].(map[string]any); !ok || len(spec) == 0 {
		errs = append(errs, errorf("the initialization resource has no spec"))
	}
	list, err := examples(b)
	if err != nil {
		return append(errs, err)
	}
	if len(list) != 1 || !reflect.DeepEqual(list[0].Object, init.Object) {
		errs = append(errs, errorf("the initialization resource is not the one alm-example"))
	}
	return errs
}

// checkScorecard: the annotations name the scorecard configuration, which decodes strictly and runs
// every built-in test with a pinned image.
func checkScorecard(b *bundle) []error {
	var errs []error
	if got := b.annotations[generator.TestMediatypeLabel]; got != generator.MediatypeScorecardV1 {
		errs = append(errs, errorf("annotation %s is %q, want %q", generator.TestMediatypeLabel, got, generator.MediatypeScorecardV1))
	}
	dir := generator.BundleDir + "/" + strings.TrimSuffix(b.annotations[generator.TestConfigLabel], "/")
	data, ok := b.files[dir+"/config.yaml"]
	if !ok {
		return append(errs, errorf("annotation %s names %s, which has no config.yaml", generator.TestConfigLabel, dir))
	}
	config := &scorecardv1alpha3.Configuration{}
	if err := yaml.UnmarshalStrict(data, config); err != nil {
		return append(errs, errorf("%s/config.yaml: %w", dir, err))
	}
	if config.Kind != scorecardv1alpha3.ConfigurationKind || config.APIVersion != scorecardv1alpha3.GroupVersion.String() {
		errs = append(errs, errorf("%s/config.yaml is a %s %s", dir, config.APIVersion, config.Kind))
	}
	tests := map[string]bool{}
	for _, stage := range config.Stages {
		for _, test := range stage.Tests {
			if err := pinned(test.Image); err != nil {
				errs = append(errs, errorf("scorecard test %v: %w", test.Entrypoint, err))
			}
			if len(test.Entrypoint) == 2 && test.Entrypoint[0] == "scorecard-test" {
				tests[test.Labels["suite"]+"/"+test.Entrypoint[1]] = true
			}
		}
	}
	for _, want := range []string{"basic/basic-check-spec", "olm/olm-bundle-validation", "olm/olm-crds-have-validation",
		"olm/olm-crds-have-resources", "olm/olm-spec-descriptors", "olm/olm-status-descriptors"} {
		if !tests[want] {
			errs = append(errs, errorf("the scorecard configuration does not run %s", want))
		}
	}
	return errs
}

func checkSuggestedNamespace(b *bundle) []error {
	name := b.csv.Annotations[generator.AnnotationSuggestedNamespace]
	ns, err := suggestedNamespace(b)
	if err != nil {
		return []error{err}
	}
	var errs []error
	for _, msg := range validation.IsDNS1123Label(name) {
		errs = append(errs, errorf("the suggested namespace %q: %s", name, msg))
	}
	if ns.GetName() != name || ns.GetKind() != "Namespace" || ns.GetAPIVersion() != "v1" {
		errs = append(errs, errorf("the suggested namespace template is a %s %s %s, want the v1 Namespace %s",
			ns.GetAPIVersion(), ns.GetKind(), ns.GetName(), name))
	}
	return errs
}

func suggestedNamespace(b *bundle) (*unstructured.Unstructured, error) {
	ns := &unstructured.Unstructured{}
	if err := json.Unmarshal([]byte(b.csv.Annotations[generator.AnnotationSuggestedNamespaceTemplate]), &ns.Object); err != nil {
		return nil, errorf("the suggested namespace template is not a JSON object: %w", err)
	}
	return ns, nil
}

// examples are the objects of the alm-examples annotation.
func examples(b *bundle) ([]*unstructured.Unstructured, error) {
	raw, ok := b.csv.Annotations[generator.AnnotationExamples]
	if !ok {
		return nil, errorf("the CSV has no alm-examples annotation")
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(raw), &list); err != nil {
		return nil, errorf("alm-examples is not a JSON array of objects: %w", err)
	}
	var out []*unstructured.Unstructured
	for _, obj := range list {
		out = append(out, &unstructured.Unstructured{Object: obj})
	}
	return out, nil
}

// serviceAccounts are the ServiceAccounts the CSV's Deployments run as.
func serviceAccounts(b *bundle) []string {
	var out []string
	for _, d := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		out = append(out, d.Spec.Template.Spec.ServiceAccountName)
	}
	return out
}
