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
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/operator-framework/api/pkg/manifests"
	operatorsv1alpha1 "github.com/operator-framework/api/pkg/operators/v1alpha1"
	"github.com/operator-framework/api/pkg/validation"
	validationerrors "github.com/operator-framework/api/pkg/validation/errors"
	interfaces "github.com/operator-framework/api/pkg/validation/interfaces"
	corev1 "k8s.io/api/core/v1"

	"github.com/meshkeeper/meshkeeper/hack/bundle/generator"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// validators are what `operator-sdk bundle validate --select-optional suite=operatorframework` runs:
// the default bundle validators (CSV, CRD, bundle) and the optional ones of the operatorframework
// suite, each named for the messages of the tests.
var validators = []struct {
	name      string
	validator interfaces.Validator
}{
	{"ClusterServiceVersion", validation.ClusterServiceVersionValidator},
	{"CustomResourceDefinition", validation.CustomResourceDefinitionValidator},
	{"Bundle", validation.BundleValidator},
	{"OperatorHubV2", validation.OperatorHubV2Validator},
	{"GoodPractices", validation.GoodPracticesValidator},
	{"StandardCapabilities", validation.StandardCapabilitiesValidator},
	{"StandardCategories", validation.StandardCategoriesValidator},
	{"AlphaDeprecatedAPIs", validation.AlphaDeprecatedAPIsValidator},
}

// TestValidatorsAreTheDefaults: the list above holds every default bundle validator, so a default
// added upstream is not silently skipped.
func TestValidatorsAreTheDefaults(t *testing.T) {
	if len(validation.DefaultBundleValidators) != 3 {
		t.Fatalf("operator-framework/api has %d default bundle validators, the test runs 3: add the new one", len(validation.DefaultBundleValidators))
	}
}

// acceptedWarnings are the warnings meshkeeper's bundle has on purpose, as regular expressions that
// match a whole message, each with the reason. The test fails on any other warning, and on one of
// these that no longer occurs.
var acceptedWarnings = map[string]string{
	// GoodPractices (validateHubChannels) recommends candidate/fast/stable channels. meshkeeper's API is
	// v1alpha1 and publishes to "alpha" until it is stable.
	`^Warning: Value meshkeeper\.v[^:]+: channel\(s\) \["alpha"\] are not following the recommended naming convention: \S+$`: "the alpha channel while the API is v1alpha1",
	// GoodPractices (validateRBACForCRDsWith): meshkeeper installs Istio's CRDs from Istio's own base
	// chart, as every Istio installation method does; Istio has no OLM package to depend on instead.
	`^Warning: Value meshkeeper\.v[^:]+: CSV contains permissions to create CRD\. `: "the Istio CRDs come from Istio's base chart",
	// AlphaDeprecatedAPIs and OperatorHubV2 (removed_apis.go): an RBAC rule names a group and a resource
	// but no version, so the rule for events.k8s.io events cannot be told from the v1beta1 API removed
	// in 1.25. meshkeeper records events through events.k8s.io/v1 (served since 1.19). Resources the CSV
	// lists as owned, with their apiVersion, are checked by version instead, which is why the rules for
	// HorizontalPodAutoscalers (autoscaling/v2) and PodDisruptionBudgets (policy/v1) do not warn. The
	// same holds for the rule that lists batch CronJobs, whose pod templates can keep a revision from
	// being pruned: meshkeeper reads them through batch/v1 (served since 1.21), not the v1beta1 API
	// removed in 1.25. The expression admits those two rules alone, in either order (removedAPIRule):
	// another resource in the message fails the test.
	`^Warning: Value meshkeeper\.v[^:]+: this bundle is using APIs which were deprecated and removed in v1\.25\. .* Migrate the API\(s\) for ` +
		`(?:cronjobs: ` + removedAPIRule + `,events: ` + removedAPIRule + `|events: ` + removedAPIRule + `,cronjobs: ` + removedAPIRule + `),?$`: "the batch/v1 cronjobs and events.k8s.io/v1 events rules",
}

// removedAPIRule matches how the removed-API warning names the CSV's rule that lists a resource. The
// warning lists its resources in no fixed order: operator-framework/api (removed_apis.go,
// generateMessageWithDeprecatedAPIs) sorts their names but then copies them into a map, whose order Go
// randomises on each range, so each run may print "cronjobs: …,events: …" or "events: …,cronjobs: …".
const removedAPIRule = `\(\["ClusterServiceVersion\.Spec\.InstallStrategy\.StrategySpec\.ClusterPermissions\[0\]\.Rules\[\d+\]"\]\)`

// removedAPIsWarning is the removed-API warning as the validators print it, with its resources
// ("cronjobs: ([…Rules[9]])", each followed by a comma) in the order given.
func removedAPIsWarning(resources ...string) string {
	return "Warning: Value meshkeeper.v0.1.0: this bundle is using APIs which were deprecated and removed in v1.25. " +
		"More info: https://kubernetes.io/docs/reference/using-api/deprecation-guide/#v1-25. Migrate the API(s) for " +
		strings.Join(resources, "")
}

// TestAcceptedWarningsInEitherOrder: the removed-API warning about the CronJob and events rules is
// accepted in both orders of its resources, or TestOperatorFrameworkValidators fails on the runs that
// print the other one; with a third resource it is not.
func TestAcceptedWarningsInEitherOrder(t *testing.T) {
	const (
		cronjobs = `cronjobs: (["ClusterServiceVersion.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0].Rules[9]"]),`
		events   = `events: (["ClusterServiceVersion.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0].Rules[10]"]),`
		psp      = `podsecuritypolicies: (["ClusterServiceVersion.Spec.InstallStrategy.StrategySpec.ClusterPermissions[0].Rules[11]"]),`
	)
	for message, want := range map[string]bool{
		removedAPIsWarning(cronjobs, events):      true,
		removedAPIsWarning(events, cronjobs):      true,
		removedAPIsWarning(events, cronjobs, psp): false,
		removedAPIsWarning(psp, events, cronjobs): false,
	} {
		accepted := false
		for w := range acceptedWarnings {
			accepted = accepted || regexp.MustCompile(w).MatchString(message)
		}
		if accepted != want {
			t.Errorf("accepted %t, want %t: %s", accepted, want, message)
		}
	}
}

// finding is one result of a validator.
type finding struct {
	validator string
	level     validationerrors.Level
	message   string
}

// validate loads the bundle in dir as opm and operator-sdk do and runs every validator on it.
func validate(t *testing.T, dir string) []finding {
	t.Helper()
	b, err := manifests.GetBundleFromDir(dir)
	if err != nil {
		t.Fatalf("loading the bundle: %v", err)
	}
	var out []finding
	for _, v := range validators {
		for _, result := range v.validator.Validate(b.ObjectsToValidate()...) {
			for _, e := range slices.Concat(result.Errors, result.Warnings) {
				out = append(out, finding{validator: v.name, level: e.Level, message: e.Error()})
			}
		}
	}
	return out
}

// TestOperatorFrameworkValidators: no validator finds an error in the committed bundle, and the only
// warnings are the accepted ones.
func TestOperatorFrameworkValidators(t *testing.T) {
	findings := validate(t, filepath.Join(testenv.RepoRoot(), generator.BundleDir))
	seen := map[string]bool{}
	for _, f := range findings {
		if f.level == validationerrors.LevelError {
			t.Errorf("%s: %s", f.validator, f.message)
			continue
		}
		accepted := false
		for w := range acceptedWarnings {
			if regexp.MustCompile(w).MatchString(f.message) {
				accepted, seen[w] = true, true
			}
		}
		if !accepted {
			t.Errorf("%s warns: %s", f.validator, f.message)
		}
	}
	for w, why := range acceptedWarnings {
		if !seen[w] {
			t.Errorf("the warning about %s no longer occurs: remove it from acceptedWarnings (%q)", why, w)
		}
	}
}

// validatorMutations break a copy of the committed bundle; the validator named must then report a
// finding of the level given with the text given, so a validator that is not really run, or run on
// objects it ignores, fails the test.
var validatorMutations = []struct {
	name      string
	validator string
	level     validationerrors.Level
	text      string
	csv       func(*operatorsv1alpha1.ClusterServiceVersion)
	files     func(generator.Files)
}{
	{name: "a category that does not exist", validator: "StandardCategories", level: validationerrors.LevelError,
		text: "is not in the set of standard categories",
		csv:  func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Annotations["categories"] = "Networking,Mesh" }},
	{name: "a capability level that does not exist", validator: "StandardCapabilities", level: validationerrors.LevelError,
		text: "is not a valid capabilities level",
		csv:  func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Annotations["capabilities"] = "Full Auto" }},
	{name: "a maintainer without email", validator: "OperatorHubV2", level: validationerrors.LevelError,
		text: "email",
		csv:  func(c *operatorsv1alpha1.ClusterServiceVersion) { c.Spec.Maintainers[0].Email = "maintainers" }},
	{name: "an example of an API not owned", validator: "ClusterServiceVersion", level: validationerrors.LevelError,
		text: "mesh.meshkeeper.io/v1beta1",
		csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
			c.Annotations[generator.AnnotationExamples] = `[{"apiVersion":"mesh.meshkeeper.io/v1beta1","kind":"ServiceMesh","metadata":{"name":"default"}}]`
		}},
	{name: "an owned CRD not in the bundle", validator: "Bundle", level: validationerrors.LevelError,
		text: "not found in bundle",
		csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
			c.Spec.CustomResourceDefinitions.Owned[0].Kind = "Mesh"
		}},
	{name: "no resource requests", validator: "GoodPractices", level: validationerrors.LevelWarn,
		text: "unable to find the resource requests",
		csv: func(c *operatorsv1alpha1.ClusterServiceVersion) {
			c.Spec.InstallStrategy.StrategySpec.DeploymentSpecs[0].Spec.Template.Spec.Containers[0].Resources = corev1.ResourceRequirements{}
		}},
	{name: "a removed API", validator: "AlphaDeprecatedAPIs", level: validationerrors.LevelError,
		text: "PodDisruptionBudget",
		files: func(f generator.Files) {
			f[generator.ManifestsDir+"/x_policy_v1beta1_poddisruptionbudget.yaml"] = []byte(
				"apiVersion: policy/v1beta1\nkind: PodDisruptionBudget\nmetadata:\n  name: x\nspec:\n  minAvailable: 1\n")
		}},
	{name: "a CRD of an unknown scope", validator: "CustomResourceDefinition", level: validationerrors.LevelError,
		text: "scope",
		files: func(f generator.Files) {
			path := generator.ManifestsDir + "/mesh.meshkeeper.io_servicemeshes.yaml"
			f[path] = []byte(strings.Replace(string(f[path]), "scope: Cluster", "scope: Galaxy", 1))
		}},
}

func TestValidatorsCanFail(t *testing.T) {
	committed := committedBundle(t)
	for _, m := range validatorMutations {
		t.Run(m.name, func(t *testing.T) {
			b := committed
			if m.csv != nil {
				csv := committed.csv.DeepCopy()
				m.csv(csv)
				b = committed.withCSV(t, csv)
			}
			files := b.clone()
			if m.files != nil {
				m.files(files)
			}
			findings := validate(t, writeBundle(t, files))
			if !slices.ContainsFunc(findings, func(f finding) bool {
				return f.validator == m.validator && f.level == m.level && strings.Contains(f.message, m.text)
			}) {
				t.Errorf("%s reported no %s containing %q; all findings: %+v", m.validator, m.level, m.text, findings)
			}
		})
	}
}
