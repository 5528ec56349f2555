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
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	appsv1 "k8s.io/api/apps/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/version"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// The rules a bundle is held to. Each is one of the checks of
//
//   - opm and `operator-sdk bundle validate` (always): operator-registry's ValidateBundleFormat and
//     ValidateBundleContent (pkg/lib/bundle/validate.go, supported_resources.go, generate.go), which run
//     operator-framework/api's default validators: ClusterServiceVersionValidator (csv.go, typecheck.go,
//     annotations.go), CustomResourceDefinitionValidator (crd.go) and BundleValidator (bundle.go);
//   - `--select-optional suite=operatorframework`: OperatorHubV2Validator (operatorhubv2.go and the
//     checks it shares with operatorhub.go), StandardCapabilitiesValidator (standardcapabilities.go),
//     StandardCategoriesValidator (standardcategories.go), AlphaDeprecatedAPIsValidator
//     (removed_apis.go) and GoodPracticesValidator (good_practices.go), as operator-sdk's
//     internal/cmd/operator-sdk/bundle/validate/optional.go selects them;
//
// (files of github.com/operator-framework/api pkg/validation/internal unless said otherwise), or a
// rule of OLM itself that no validator checks. CustomResourceDefinitionValidator runs the API server's
// own CRD validation; TestAgainstAPIServer does that for real, with the other checks that need one.
//
// Where a validator only warns, the rule here fails, except for the warnings listed in
// expectedWarnings, each with the reason meshkeeper accepts it.
type rule struct {
	name   string
	source string
	check  func(*bundle) []error
}

var rules = []rule{
	{"layout", "operator-registry ValidateBundleFormat: manifests/ and metadata/ with annotations.yaml", checkLayout},
	{"annotations", "operator-registry validateAnnotations", checkAnnotations},
	{"dockerfile", "operator-registry GenerateDockerfile: the image labels are the annotations", checkDockerfile},
	{"manifest kinds", "operator-registry ValidateBundleContent, supported_resources.go: one object per file, registry+v1 kinds", checkManifestKinds},
	{"bundle size", "bundle.go validateBundleSize", checkSize},
	{"csv name", "csv.go parseCSVNameFormat; good_practices.go checkBundleName", checkCSVName},
	{"csv type", "csv.go validateVersionKind", checkCSVType},
	{"required fields", "csv.go checkFields (typecheck.go checkEmptyFields)", checkRequiredFields},
	{"examples", "csv.go validateExamplesAnnotations", checkExamples},
	{"install modes", "csv.go validateInstallModes; ServiceMesh is cluster-scoped", checkInstallModes},
	{"min kube version", "csv.go validateMinKubeVersion; operatorhub.go checkSpecMinKubeVersion", checkMinKubeVersion},
	{"annotation names", "annotations.go ValidateAnnotationNames", checkAnnotationNames},
	{"owned crds", "bundle.go validateOwnedCRDs", checkOwnedCRDs},
	{"service accounts", "bundle.go validateServiceAccounts", checkServiceAccountManifests},
	{"related images", "bundle.go validateRelatedImages; OLM: relatedImages lists every image, pinned", checkRelatedImages},
	{"provider", "operatorhub.go checkSpecProviderName", checkProvider},
	{"maintainers", "operatorhub.go checkSpecMaintainers", checkMaintainers},
	{"links", "operatorhub.go checkSpecLinks", checkLinks},
	{"version", "operatorhub.go checkSpecVersion; OLM: spec.version is the version of metadata.name", checkVersion},
	{"icon", "operatorhub.go checkSpecIcon", checkIcon},
	{"presentation", "OperatorHub listing: displayName, description, keywords, maturity", checkPresentation},
	{"capabilities", "standardcapabilities.go", checkCapabilities},
	{"categories", "standardcategories.go", checkCategories},
	{"served apis", "removed_apis.go, for every version from minKubeVersion on", checkServedAPIs},
	{"resource requests", "good_practices.go validateResourceRequests", checkResourceRequests},
	{"crd descriptions", "good_practices.go validateCrdDescriptions", checkCRDDescriptions},
	{"install strategy", "OLM: the deployment strategy, and a ServiceAccount with permissions for each Deployment", checkInstallStrategy},
	{"descriptors", "OLM descriptors: paths in the schema, x-descriptors the console knows (openshift/console descriptors/types.ts)", checkDescriptors},
	{"suggested namespace", "OLM operatorframework.io/suggested-namespace(-template) annotations", checkSuggestedNamespace},
}

// expectedWarnings are the findings of warning-level checks that meshkeeper's bundle has on purpose.
// The test fails on any other warning, and on one of these that no longer occurs.
var expectedWarnings = map[string]string{
	// good_practices.go validateHubChannels: OLM recommends candidate/fast/stable channels. meshkeeper
	// is v1alpha1 and publishes to "alpha" until its API is stable.
	`channel(s) ["alpha"] are not following the recommended naming convention`: "the alpha channel",
	// good_practices.go validateRBACForCRDsWith: meshkeeper installs Istio's CRDs from Istio's base
	// chart, as every Istio installation method does; Istio has no OLM package to depend on instead.
	"CSV contains permissions to create CRD": "the Istio CRDs",
}

// warnings are the findings of the warning-level checks of good_practices.go this bundle can trip.
func warnings(b *bundle) []string {
	var out []string
	var odd []string
	channels := strings.Split(b.annotations[generator.ChannelsLabel], ",")
	channels = append(channels, b.annotations[generator.ChannelDefaultLabel])
	for _, c := range channels {
		if c != "" && !strings.HasPrefix(c, "candidate") && !strings.HasPrefix(c, "stable") &&
			!strings.HasPrefix(c, "fast") && !slices.Contains(odd, c) {
			odd = append(odd, c)
		}
	}
	if len(odd) > 0 {
		out = append(out, fmt.Sprintf("channel(s) %+q are not following the recommended naming convention", odd))
	}
	strategy := b.csv.Spec.InstallStrategy.StrategySpec
	for _, p := range slices.Concat(strategy.Permissions, strategy.ClusterPermissions) {
		for _, r := range p.Rules {
			if slices.Contains(r.APIGroups, "apiextensions.k8s.io") &&
				slices.ContainsFunc(r.Resources, func(s string) bool { return s == "customresourcedefinitions" || s == "*" }) &&
				slices.ContainsFunc(r.Verbs, func(s string) bool { return s == "create" || s == "patch" || s == "*" }) {
				if !slices.Contains(out, "CSV contains permissions to create CRD") {
					out = append(out, "CSV contains permissions to create CRD")
				}
			}
		}
	}
	return out
}

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

func checkLayout(b *bundle) []error {
	var errs []error
	for _, path := range b.files.Paths() {
		if path == generator.DockerfilePath || path == generator.DockerignorePath {
			continue
		}
		if !strings.HasPrefix(path, generator.ManifestsDir+"/") && !strings.HasPrefix(path, generator.MetadataDir+"/") {
			errs = append(errs, errorf("%s is outside manifests/ and metadata/", path))
		}
		if rest := strings.TrimPrefix(strings.TrimPrefix(path, generator.ManifestsDir+"/"), generator.MetadataDir+"/"); strings.Contains(rest, "/") {
			errs = append(errs, errorf("%s is in a subdirectory, which opm does not read", path))
		}
	}
	if _, ok := b.files[generator.AnnotationsPath]; !ok {
		errs = append(errs, errorf("%s is missing", generator.AnnotationsPath))
	}
	if len(b.manifests) == 0 {
		errs = append(errs, errorf("%s is empty", generator.ManifestsDir))
	}
	return errs
}

func checkAnnotations(b *bundle) []error {
	var errs []error
	want := map[string]string{
		generator.MediatypeLabel: generator.MediatypeRegistryV1,
		generator.ManifestsLabel: "manifests/",
		generator.MetadataLabel:  "metadata/",
	}
	for key, value := range want {
		if got := b.annotations[key]; got != value {
			errs = append(errs, errorf("annotation %s is %q, want %q", key, got, value))
		}
	}
	if got := b.annotations[generator.PackageLabel]; got != generator.PackageName {
		errs = append(errs, errorf("annotation %s is %q, want %q", generator.PackageLabel, got, generator.PackageName))
	}
	channels := strings.Split(b.annotations[generator.ChannelsLabel], ",")
	for _, c := range channels {
		if strings.TrimSpace(c) == "" {
			errs = append(errs, errorf("annotation %s %q has an empty channel", generator.ChannelsLabel, b.annotations[generator.ChannelsLabel]))
		}
	}
	if d, ok := b.annotations[generator.ChannelDefaultLabel]; ok && !slices.Contains(channels, d) {
		errs = append(errs, errorf("the default channel %q is not one of the channels %v", d, channels))
	}
	for key := range b.annotations {
		if !slices.Contains(generator.LabelOrder, key) {
			errs = append(errs, errorf("annotation %s is not a bundle annotation", key))
		}
	}
	return errs
}

var (
	labelLine = regexp.MustCompile(`^LABEL ([^=\s]+)=(\S+)$`)
	copyLine  = regexp.MustCompile(`^COPY (\S+) (\S+)$`)
)

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
	for key, value := range b.annotations {
		if labels[key] != value {
			errs = append(errs, errorf("bundle.Dockerfile labels %s=%q, annotations.yaml says %q", key, labels[key], value))
		}
	}
	for key := range labels {
		if _, ok := b.annotations[key]; !ok {
			errs = append(errs, errorf("bundle.Dockerfile labels %s, which annotations.yaml does not have", key))
		}
	}
	want := map[string]string{
		"/" + b.annotations[generator.ManifestsLabel]: generator.ManifestsDir,
		"/" + b.annotations[generator.MetadataLabel]:  generator.MetadataDir,
	}
	for dst, src := range want {
		if strings.TrimSuffix(copies[dst], "/") != src {
			errs = append(errs, errorf("bundle.Dockerfile copies %q to %s, want %s", copies[dst], dst, src))
		}
	}
	// The repository's .dockerignore admits only Go sources, so the bundle needs its own.
	ignore := string(b.files[generator.DockerignorePath])
	for _, dir := range []string{generator.ManifestsDir, generator.MetadataDir} {
		if !strings.Contains(ignore, "\n!"+dir+"/\n") {
			errs = append(errs, errorf("%s does not admit %s into the build context", generator.DockerignorePath, dir))
		}
	}
	return errs
}

// supportedKinds are the kinds a registry+v1 bundle may hold (operator-registry supported_resources.go).
var supportedKinds = []string{"ClusterServiceVersion", "CustomResourceDefinition", "Secret", "ClusterRole",
	"ClusterRoleBinding", "ConfigMap", "ServiceAccount", "Service", "Role", "RoleBinding", "PrometheusRule",
	"ServiceMonitor", "PodDisruptionBudget", "PriorityClass", "VerticalPodAutoscaler", "ConsoleYAMLSample",
	"ConsoleQuickStart", "ConsoleCLIDownload", "ConsoleLink", "ConsolePlugin", "NetworkPolicy", "PodMonitor"}

func checkManifestKinds(b *bundle) []error {
	var errs []error
	csvs := 0
	for _, m := range b.manifests {
		if len(m.objects) != 1 {
			// opm decodes the first object of a file and ignores the rest.
			errs = append(errs, errorf("%s holds %d objects, want one", m.path, len(m.objects)))
			continue
		}
		u := m.objects[0]
		if !slices.Contains(supportedKinds, u.GetKind()) {
			errs = append(errs, errorf("%s: %s is not a kind a registry+v1 bundle may hold", m.path, u.GetKind()))
		}
		if u.GetName() == "" {
			errs = append(errs, errorf("%s: the %s has no name", m.path, u.GetKind()))
		}
		if u.GetNamespace() != "" {
			errs = append(errs, errorf("%s: the %s names the namespace %s; OLM installs into the one the user chose", m.path, u.GetKind(), u.GetNamespace()))
		}
		if u.GetKind() == "ClusterServiceVersion" {
			csvs++
		}
	}
	if csvs != 1 {
		errs = append(errs, errorf("the bundle has %d ClusterServiceVersions, want one", csvs))
	}
	return errs
}

// maxBundleSize is what OLM can stage in one ConfigMap: the gzipped, base64-encoded files together.
const maxBundleSize = 1 << 20

func checkSize(b *bundle) []error {
	var compressed int
	for _, path := range b.files.Paths() {
		if !strings.HasPrefix(path, generator.BundleDir+"/") {
			continue
		}
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		if _, err := w.Write(b.files[path]); err != nil {
			return []error{err}
		}
		if err := w.Close(); err != nil {
			return []error{err}
		}
		compressed += base64.StdEncoding.EncodedLen(buf.Len())
	}
	// bundle.go fails above the limit and warns above 85% of it.
	if compressed > maxBundleSize*85/100 {
		return []error{errorf("the bundle is %d bytes compressed, more than 85%% of OLM's limit of %d", compressed, maxBundleSize)}
	}
	return nil
}

func checkCSVName(b *bundle) []error {
	var errs []error
	name := b.csv.Metadata.Name
	for _, msg := range slices.Concat(validation.IsDNS1123Subdomain(name), validation.IsValidLabelValue(name)) {
		errs = append(errs, errorf("metadata.name %q: %s", name, msg))
	}
	// good_practices.go: <operator-name>.v<semver>; the operator name is the package's.
	parts := strings.Split(name, ".v")
	if len(parts) != 2 || parts[0] != generator.PackageName {
		errs = append(errs, errorf("metadata.name %q is not %s.v<version>", name, generator.PackageName))
	} else if _, err := version.ParseSemantic(parts[1]); err != nil {
		errs = append(errs, errorf("metadata.name %q does not end in a semantic version: %w", name, err))
	}
	return errs
}

func checkCSVType(b *bundle) []error {
	if b.csv.APIVersion != "operators.coreos.com/v1alpha1" || b.csv.Kind != "ClusterServiceVersion" {
		return []error{errorf("the CSV is a %s %s", b.csv.APIVersion, b.csv.Kind)}
	}
	return nil
}

// checkRequiredFields: the fields of OLM's CSV types without omitempty must be set.
func checkRequiredFields(b *bundle) []error {
	var errs []error
	spec := b.csv.Spec
	if spec.DisplayName == "" {
		errs = append(errs, errorf("spec.displayName is empty"))
	}
	if spec.InstallStrategy.StrategyName == "" {
		errs = append(errs, errorf("spec.install.strategy is empty"))
	}
	if len(spec.InstallStrategy.StrategySpec.DeploymentSpecs) == 0 {
		errs = append(errs, errorf("spec.install.spec.deployments is empty"))
	}
	for i, d := range spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		if d.Name == "" || len(d.Spec) == 0 {
			errs = append(errs, errorf("spec.install.spec.deployments[%d] lacks a name or spec", i))
		}
	}
	for _, p := range slices.Concat(spec.InstallStrategy.StrategySpec.Permissions, spec.InstallStrategy.StrategySpec.ClusterPermissions) {
		if p.ServiceAccountName == "" || len(p.Rules) == 0 {
			errs = append(errs, errorf("a permissions entry lacks a serviceAccountName or rules"))
		}
	}
	for _, c := range spec.CustomResourceDefinitions.Owned {
		if c.Name == "" || c.Version == "" || c.Kind == "" {
			errs = append(errs, errorf("an owned CRD lacks a name, version or kind: %+v", c))
		}
		for _, d := range slices.Concat(c.SpecDescriptors, c.StatusDescriptors) {
			if d.Path == "" {
				errs = append(errs, errorf("a descriptor of %s has no path", c.Name))
			}
		}
	}
	for _, icon := range spec.Icon {
		if icon.Data == "" || icon.MediaType == "" {
			errs = append(errs, errorf("an icon lacks base64data or mediatype"))
		}
	}
	for _, m := range spec.InstallModes {
		if m.Type == "" {
			errs = append(errs, errorf("an install mode has no type"))
		}
	}
	for _, r := range spec.RelatedImages {
		if r.Name == "" || r.Image == "" {
			errs = append(errs, errorf("a related image lacks a name or image: %+v", r))
		}
	}
	return errs
}

// examples are the objects of the alm-examples annotation.
func examples(b *bundle) ([]*unstructured.Unstructured, error) {
	raw, ok := b.csv.Metadata.Annotations[generator.AnnotationExamples]
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

func ownedGVKs(b *bundle) map[schema.GroupVersionKind]bool {
	owned := map[schema.GroupVersionKind]bool{}
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		_, group, _ := strings.Cut(c.Name, ".")
		owned[schema.GroupVersionKind{Group: group, Version: c.Version, Kind: c.Kind}] = true
	}
	return owned
}

func checkExamples(b *bundle) []error {
	list, err := examples(b)
	if err != nil {
		return []error{err}
	}
	var errs []error
	owned := ownedGVKs(b)
	seen := map[schema.GroupVersionKind]bool{}
	for _, u := range list {
		gvk := u.GroupVersionKind()
		seen[gvk] = true
		if !owned[gvk] {
			errs = append(errs, errorf("the example %s %s is of no owned API", gvk, u.GetName()))
		}
	}
	for gvk := range owned {
		if !seen[gvk] {
			errs = append(errs, errorf("the owned API %s has no example", gvk))
		}
	}
	return errs
}

var installModeTypes = []string{generator.InstallModeOwnNamespace, generator.InstallModeSingleNamespace,
	generator.InstallModeMultiNamespace, generator.InstallModeAllNamespaces}

func checkInstallModes(b *bundle) []error {
	var errs []error
	modes := map[string]bool{}
	for _, m := range b.csv.Spec.InstallModes {
		if _, dup := modes[m.Type]; dup {
			errs = append(errs, errorf("install mode %s is listed twice", m.Type))
		}
		if !slices.Contains(installModeTypes, m.Type) {
			errs = append(errs, errorf("install mode %q is not one of %v", m.Type, installModeTypes))
		}
		modes[m.Type] = m.Supported
	}
	// meshkeeper watches and changes namespaces across the cluster: every type is stated, and only
	// AllNamespaces is supported.
	for _, t := range installModeTypes {
		supported, ok := modes[t]
		if !ok {
			errs = append(errs, errorf("install mode %s is not stated", t))
		} else if supported != (t == generator.InstallModeAllNamespaces) {
			errs = append(errs, errorf("install mode %s is supported=%v, want %v", t, supported, !supported))
		}
	}
	return errs
}

func checkMinKubeVersion(b *bundle) []error {
	if _, err := version.ParseSemantic(b.csv.Spec.MinKubeVersion); err != nil {
		return []error{errorf("spec.minKubeVersion %q: %w", b.csv.Spec.MinKubeVersion, err)}
	}
	return nil
}

// caseSensitiveAnnotations are the annotations OLM reads by exact name (annotations.go).
var caseSensitiveAnnotations = []string{"olm.operatorGroup", "olm.operatorNamespace", "olm.targetNamespaces",
	"olm.providedAPIs", "olm.skipRange"}

func checkAnnotationNames(b *bundle) []error {
	var errs []error
	for key := range b.csv.Metadata.Annotations {
		for _, known := range caseSensitiveAnnotations {
			if strings.EqualFold(key, known) && key != known {
				errs = append(errs, errorf("annotation %s should be spelled %s", key, known))
			}
		}
		if key == "olm.properties" {
			errs = append(errs, errorf("annotation olm.properties belongs in metadata/properties.yaml"))
		}
	}
	return errs
}

func checkOwnedCRDs(b *bundle) []error {
	var errs []error
	inBundle := map[schema.GroupVersionKind]int{}
	for _, crd := range b.crds {
		for _, v := range crd.Spec.Versions {
			inBundle[schema.GroupVersionKind{Group: crd.Spec.Group, Version: v.Name, Kind: crd.Spec.Names.Kind}]++
		}
	}
	owned := ownedGVKs(b)
	for gvk, n := range inBundle {
		if n > 1 {
			errs = append(errs, errorf("the bundle has %d CRDs of %s", n, gvk))
		}
		if !owned[gvk] {
			errs = append(errs, errorf("the CRD of %s is in the bundle but not owned by the CSV", gvk))
		}
	}
	for gvk := range owned {
		if inBundle[gvk] == 0 {
			errs = append(errs, errorf("the CSV owns %s, whose CRD is not in the bundle", gvk))
		}
	}
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		crd := crdNamed(b, c.Name)
		if crd != nil && crd.Spec.Names.Kind != c.Kind {
			errs = append(errs, errorf("owned CRD %s has kind %s, the CRD says %s", c.Name, c.Kind, crd.Spec.Names.Kind))
		}
		if crd == nil {
			errs = append(errs, errorf("owned CRD %s is not in the bundle", c.Name))
		}
	}
	return errs
}

func crdNamed(b *bundle, name string) *apiextensionsv1.CustomResourceDefinition {
	for _, crd := range b.crds {
		if crd.Name == name {
			return crd
		}
	}
	return nil
}

func serviceAccounts(b *bundle) []string {
	var out []string
	for _, d := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		sa, _, _ := unstructured.NestedString(d.Spec, "template", "spec", "serviceAccountName")
		out = append(out, sa)
	}
	return out
}

func checkServiceAccountManifests(b *bundle) []error {
	var errs []error
	for _, m := range b.manifests {
		for _, u := range m.objects {
			if u.GetKind() == "ServiceAccount" && slices.Contains(serviceAccounts(b), u.GetName()) {
				errs = append(errs, errorf("%s: ServiceAccount %s is one OLM creates from the CSV", m.path, u.GetName()))
			}
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
		for _, field := range []string{"initContainers", "containers"} {
			containers, _, _ := unstructured.NestedSlice(d.Spec, "template", "spec", field)
			for _, c := range containers {
				image, _, _ := unstructured.NestedString(c.(map[string]any), "image")
				images = append(images, image)
			}
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
	if img := b.csv.Metadata.Annotations[generator.AnnotationContainerImage]; !slices.Contains(deploymentImages(b), img) {
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

// defaultHub is the default of spec.images.hub in the ServiceMesh CRD of the bundle.
func defaultHub(b *bundle) (string, error) {
	for _, crd := range b.crds {
		for _, v := range crd.Spec.Versions {
			if crd.Spec.Names.Kind != "ServiceMesh" || !v.Storage || v.Schema == nil {
				continue
			}
			field, err := field(v.Schema.OpenAPIV3Schema, "spec.images.hub")
			if err != nil || field.Default == nil {
				return "", errorf("the ServiceMesh CRD has no default for spec.images.hub: %v", err)
			}
			var hub string
			if err := json.Unmarshal(field.Default.Raw, &hub); err != nil {
				return "", errorf("the default of spec.images.hub: %w", err)
			}
			return hub, nil
		}
	}
	return "", errorf("the bundle has no ServiceMesh CRD")
}

// field is the schema of the field at path, dot-separated; "[n]" after a name steps into the items of
// an array, as do names below an array.
func field(s *apiextensionsv1.JSONSchemaProps, path string) (*apiextensionsv1.JSONSchemaProps, error) {
	current := s
	for _, name := range strings.Split(path, ".") {
		name, _, _ = strings.Cut(name, "[")
		if current.Items != nil && current.Items.Schema != nil {
			current = current.Items.Schema
		}
		next, ok := current.Properties[name]
		if !ok {
			return nil, errorf("no field %s in the schema", path)
		}
		current = &next
	}
	return current, nil
}

func checkProvider(b *bundle) []error {
	if strings.TrimSpace(b.csv.Spec.Provider.Name) == "" {
		return []error{errorf("spec.provider.name is empty")}
	}
	return nil
}

func checkMaintainers(b *bundle) []error {
	var errs []error
	if len(b.csv.Spec.Maintainers) == 0 {
		errs = append(errs, errorf("spec.maintainers is empty"))
	}
	for _, m := range b.csv.Spec.Maintainers {
		if m.Name == "" || m.Email == "" {
			errs = append(errs, errorf("maintainer %+v lacks a name or email", m))
		}
		if _, err := mail.ParseAddress(m.Email); err != nil {
			errs = append(errs, errorf("maintainer %s: email %q: %w", m.Name, m.Email, err))
		}
	}
	return errs
}

func checkLinks(b *bundle) []error {
	var errs []error
	if len(b.csv.Spec.Links) == 0 {
		errs = append(errs, errorf("spec.links is empty"))
	}
	urls := []string{b.csv.Metadata.Annotations["repository"], b.csv.Spec.Provider.URL}
	for _, l := range b.csv.Spec.Links {
		if l.Name == "" || l.URL == "" {
			errs = append(errs, errorf("link %+v lacks a name or url", l))
		}
		urls = append(urls, l.URL)
	}
	for _, u := range urls {
		if parsed, err := url.ParseRequestURI(u); err != nil || parsed.Scheme != "https" {
			errs = append(errs, errorf("%q is not an https URL: %v", u, err))
		}
	}
	return errs
}

func checkVersion(b *bundle) []error {
	v, err := version.ParseSemantic(b.csv.Spec.Version)
	if err != nil {
		return []error{errorf("spec.version %q: %w", b.csv.Spec.Version, err)}
	}
	if !strings.HasSuffix(b.csv.Metadata.Name, ".v"+v.String()) {
		return []error{errorf("metadata.name %s is not of version %s", b.csv.Metadata.Name, v)}
	}
	return nil
}

var iconMediaTypes = []string{"image/gif", "image/jpeg", "image/png", "image/svg+xml"}

func checkIcon(b *bundle) []error {
	if len(b.csv.Spec.Icon) != 1 {
		return []error{errorf("spec.icon has %d elements, want one", len(b.csv.Spec.Icon))}
	}
	icon := b.csv.Spec.Icon[0]
	if !slices.Contains(iconMediaTypes, icon.MediaType) {
		return []error{errorf("the icon's mediatype %q is not one of %v", icon.MediaType, iconMediaTypes)}
	}
	data, err := base64.StdEncoding.DecodeString(icon.Data)
	if err != nil {
		return []error{errorf("the icon is not base64: %w", err)}
	}
	if icon.MediaType == "image/svg+xml" {
		var svg struct {
			XMLName xml.Name
			ViewBox string `xml:"viewBox,attr"`
		}
		if err := xml.Unmarshal(data, &svg); err != nil || svg.XMLName.Local != "svg" || svg.ViewBox == "" {
			return []error{errorf("the icon is not an SVG with a viewBox: %v", err)}
		}
	}
	return nil
}

func checkPresentation(b *bundle) []error {
	var errs []error
	spec := b.csv.Spec
	if spec.Description == "" || b.csv.Metadata.Annotations["description"] == "" {
		errs = append(errs, errorf("spec.description or the description annotation is empty"))
	}
	if len(spec.Keywords) == 0 {
		errs = append(errs, errorf("spec.keywords is empty"))
	}
	if spec.Maturity == "" {
		errs = append(errs, errorf("spec.maturity is empty"))
	}
	if _, err := time.Parse(time.RFC3339, b.csv.Metadata.Annotations[generator.AnnotationCreatedAt]); err != nil {
		errs = append(errs, errorf("the createdAt annotation: %w", err))
	}
	return errs
}

var capabilityLevels = []string{"Basic Install", "Seamless Upgrades", "Full Lifecycle", "Deep Insights", "Auto Pilot"}

func checkCapabilities(b *bundle) []error {
	if c := b.csv.Metadata.Annotations["capabilities"]; !slices.Contains(capabilityLevels, c) {
		return []error{errorf("capabilities %q is not one of %v", c, capabilityLevels)}
	}
	return nil
}

var standardCategories = []string{"AI/Machine Learning", "Application Runtime", "Big Data", "Cloud Provider",
	"Developer Tools", "Database", "Integration & Delivery", "Logging & Tracing", "Monitoring",
	"Modernization & Migration", "Networking", "OpenShift Optional", "Security", "Storage",
	"Streaming & Messaging", "Observability"}

func checkCategories(b *bundle) []error {
	var errs []error
	categories, ok := b.csv.Metadata.Annotations["categories"]
	if !ok {
		return []error{errorf("the CSV has no categories annotation")}
	}
	for _, c := range strings.Split(categories, ",") {
		if !slices.Contains(standardCategories, strings.TrimSpace(c)) {
			errs = append(errs, errorf("category %q is not a standard category", c))
		}
	}
	return errs
}

// servedSince are the APIs a bundle of meshkeeper may use, with the Kubernetes version that first
// served them; none has been removed since (TestAgainstAPIServer asks a current API server). An API
// that is not listed fails the test, so a new kind is looked up, not assumed. removed_apis.go lists
// the ones removed in 1.22, 1.25 and 1.26: the v1beta1 CRDs, RBAC, webhooks and PodDisruptionBudgets,
// autoscaling/v2beta1 and v2beta2, PodSecurityPolicy.
var servedSince = map[schema.GroupVersionKind]string{
	{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}: "1.16.0",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRole"}:         "1.8.0",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "ClusterRoleBinding"}:  "1.8.0",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"}:                "1.8.0",
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"}:         "1.8.0",
	{Group: "", Version: "v1", Kind: "Service"}:                                      "1.0.0",
	{Group: "", Version: "v1", Kind: "ServiceAccount"}:                               "1.0.0",
	{Group: "", Version: "v1", Kind: "ConfigMap"}:                                    "1.0.0",
	{Group: "", Version: "v1", Kind: "Secret"}:                                       "1.0.0",
	{Group: "", Version: "v1", Kind: "Namespace"}:                                    "1.0.0",
	{Group: "apps", Version: "v1", Kind: "Deployment"}:                               "1.9.0",
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"}:                    "1.21.0",
	{Group: "networking.k8s.io", Version: "v1", Kind: "NetworkPolicy"}:               "1.7.0",
	{Group: "scheduling.k8s.io", Version: "v1", Kind: "PriorityClass"}:               "1.14.0",
}

// kubeAPIs are the Kubernetes APIs the bundle uses: its manifests but the CSV (OLM's own API), the
// Deployments OLM creates from it, and the Namespace it suggests.
func kubeAPIs(b *bundle) map[schema.GroupVersionKind]string {
	apis := map[schema.GroupVersionKind]string{}
	for _, m := range b.manifests {
		for _, u := range m.objects {
			if u.GetKind() != "ClusterServiceVersion" {
				apis[u.GroupVersionKind()] = m.path
			}
		}
	}
	apis[appsv1.SchemeGroupVersion.WithKind("Deployment")] = "spec.install"
	apis[schema.GroupVersionKind{Version: "v1", Kind: "Namespace"}] = generator.AnnotationSuggestedNamespaceTemplate
	return apis
}

func checkServedAPIs(b *bundle) []error {
	var errs []error
	minKube, err := version.ParseSemantic(b.csv.Spec.MinKubeVersion)
	if err != nil {
		return nil // rule "min kube version"
	}
	for gvk, where := range kubeAPIs(b) {
		since, ok := servedSince[gvk]
		if !ok {
			errs = append(errs, errorf("%s uses %s, which is not known to be served from Kubernetes %s on", where, gvk, minKube))
			continue
		}
		if minKube.LessThan(version.MustParseSemantic(since)) {
			errs = append(errs, errorf("%s uses %s, which Kubernetes serves from %s, after minKubeVersion %s", where, gvk, since, minKube))
		}
	}
	// removed_apis.go also looks for rules on PodSecurityPolicies, gone in 1.25.
	strategy := b.csv.Spec.InstallStrategy.StrategySpec
	for _, p := range slices.Concat(strategy.Permissions, strategy.ClusterPermissions) {
		for _, r := range p.Rules {
			if slices.Contains(r.Resources, "podsecuritypolicies") {
				errs = append(errs, errorf("a rule of %s grants podsecuritypolicies, removed in Kubernetes 1.25", p.ServiceAccountName))
			}
		}
	}
	return errs
}

func checkResourceRequests(b *bundle) []error {
	var errs []error
	for _, d := range b.csv.Spec.InstallStrategy.StrategySpec.DeploymentSpecs {
		containers, _, _ := unstructured.NestedSlice(d.Spec, "template", "spec", "containers")
		for _, c := range containers {
			container := c.(map[string]any)
			for _, r := range []string{"cpu", "memory"} {
				if _, ok, _ := unstructured.NestedFieldNoCopy(container, "resources", "requests", r); !ok {
					errs = append(errs, errorf("container %v of %s requests no %s", container["name"], d.Name, r))
				}
			}
		}
	}
	return errs
}

func checkCRDDescriptions(b *bundle) []error {
	var errs []error
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		if c.Description == "" || c.DisplayName == "" {
			errs = append(errs, errorf("owned CRD %s %s has no description or displayName", c.Name, c.Version))
		}
	}
	return errs
}

func checkInstallStrategy(b *bundle) []error {
	var errs []error
	strategy := b.csv.Spec.InstallStrategy
	if strategy.StrategyName != "deployment" {
		errs = append(errs, errorf("spec.install.strategy is %q, OLM knows only \"deployment\"", strategy.StrategyName))
	}
	accounts := serviceAccounts(b)
	granted := map[string]bool{}
	for _, p := range slices.Concat(strategy.StrategySpec.Permissions, strategy.StrategySpec.ClusterPermissions) {
		granted[p.ServiceAccountName] = true
		if !slices.Contains(accounts, p.ServiceAccountName) {
			errs = append(errs, errorf("permissions are granted to %s, which no Deployment runs as", p.ServiceAccountName))
		}
		for i, r := range p.Rules {
			if len(r.Verbs) == 0 || (len(r.Resources) == 0 && len(r.NonResourceURLs) == 0) {
				errs = append(errs, errorf("rule %d of %s names no verbs or resources", i, p.ServiceAccountName))
			}
		}
	}
	for i, d := range strategy.StrategySpec.DeploymentSpecs {
		for _, msg := range validation.IsDNS1123Subdomain(d.Name) {
			errs = append(errs, errorf("deployment %q: %s", d.Name, msg))
		}
		// OLM creates only the ServiceAccounts it grants permissions to.
		if sa := accounts[i]; sa == "" || !granted[sa] {
			errs = append(errs, errorf("deployment %s runs as ServiceAccount %q, which OLM would not create", d.Name, sa))
		}
		spec := &appsv1.DeploymentSpec{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(d.Spec, spec, true); err != nil {
			errs = append(errs, errorf("deployment %s: %w", d.Name, err))
		}
	}
	return errs
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

// describedFields are the fields of the ServiceMesh that its CSV must describe, spec and status.
var describedFields = map[string][]string{
	"spec":   {"version", "namespace", "injection.namespaces", "mtls.mode", "charts.repository", "controlPlane.replicas"},
	"status": {"conditions", "version", "namespaces.enrolled", "proxies.outdated"},
}

func checkDescriptors(b *bundle) []error {
	var errs []error
	for _, c := range b.csv.Spec.CustomResourceDefinitions.Owned {
		crd := crdNamed(b, c.Name)
		if crd == nil {
			continue // "owned crds"
		}
		var s *apiextensionsv1.JSONSchemaProps
		for _, v := range crd.Spec.Versions {
			if v.Name == c.Version && v.Schema != nil {
				s = v.Schema.OpenAPIV3Schema
			}
		}
		if s == nil {
			errs = append(errs, errorf("CRD %s has no schema for version %s", c.Name, c.Version))
			continue
		}
		for _, part := range []struct {
			root        string
			descriptors []generator.Descriptor
		}{{"spec", c.SpecDescriptors}, {"status", c.StatusDescriptors}} {
			var paths []string
			for _, d := range part.descriptors {
				paths = append(paths, d.Path)
				f, err := field(s, part.root+"."+d.Path)
				if err != nil {
					errs = append(errs, errorf("%s descriptor %s: %w", part.root, d.Path, err))
					continue
				}
				if d.DisplayName == "" || d.Description == "" {
					errs = append(errs, errorf("%s descriptor %s has no displayName or description", part.root, d.Path))
				}
				for _, x := range d.XDescriptors {
					if !knownXDescriptor(x, part.root == "spec") {
						errs = append(errs, errorf("%s descriptor %s: x-descriptor %q is not one the console knows", part.root, d.Path, x))
					}
					if option, ok := strings.CutPrefix(x, "urn:alm:descriptor:com.tectonic.ui:select:"); ok &&
						!slices.ContainsFunc(f.Enum, func(e apiextensionsv1.JSON) bool { return string(e.Raw) == `"`+option+`"` }) {
						errs = append(errs, errorf("%s descriptor %s offers %q, which the schema does not allow", part.root, d.Path, option))
					}
					if x == "urn:alm:descriptor:io.kubernetes.conditions" && f.Type != "array" {
						errs = append(errs, errorf("%s descriptor %s shows conditions, but the field is a %s", part.root, d.Path, f.Type))
					}
				}
			}
			if c.Kind == "ServiceMesh" {
				for _, want := range describedFields[part.root] {
					if !slices.Contains(paths, want) {
						errs = append(errs, errorf("%s.%s has no descriptor", part.root, want))
					}
				}
			}
		}
		if c.Kind == "ServiceMesh" && !slices.ContainsFunc(c.StatusDescriptors, func(d generator.Descriptor) bool {
			return d.Path == "conditions" && slices.Contains(d.XDescriptors, "urn:alm:descriptor:io.kubernetes.conditions")
		}) {
			errs = append(errs, errorf("status.conditions is not described as conditions"))
		}
	}
	return errs
}

func checkSuggestedNamespace(b *bundle) []error {
	name := b.csv.Metadata.Annotations[generator.AnnotationSuggestedNamespace]
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
	if err := json.Unmarshal([]byte(b.csv.Metadata.Annotations[generator.AnnotationSuggestedNamespaceTemplate]), &ns.Object); err != nil {
		return nil, errorf("the suggested namespace template is not a JSON object: %w", err)
	}
	return ns, nil
}
