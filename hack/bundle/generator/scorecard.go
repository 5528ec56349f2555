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

package generator

import (
	scorecardv1alpha3 "github.com/operator-framework/api/pkg/apis/scorecard/v1alpha3"
)

// ScorecardImage runs the scorecard's built-in tests; its tag is the operator-sdk release whose
// `operator-sdk scorecard` the configuration is written for.
const ScorecardImage = "quay.io/operator-framework/scorecard-test:v1.42.2"

// ScorecardTests are the built-in tests `operator-sdk scorecard bundle/` runs, by suite: the basic
// check that the initialization resource has a spec, and the OLM checks of the bundle (validation,
// CRD schemas, owned resources, spec and status descriptors).
var ScorecardTests = []struct{ Suite, Test string }{
	{"basic", "basic-check-spec"},
	{"olm", "olm-bundle-validation"},
	{"olm", "olm-crds-have-validation"},
	{"olm", "olm-crds-have-resources"},
	{"olm", "olm-spec-descriptors"},
	{"olm", "olm-status-descriptors"},
}

// scorecardConfig is bundle/tests/scorecard/config.yaml: every built-in test, run in parallel.
func scorecardConfig() *scorecardv1alpha3.Configuration {
	config := &scorecardv1alpha3.Configuration{}
	config.APIVersion = scorecardv1alpha3.GroupVersion.String()
	config.Kind = scorecardv1alpha3.ConfigurationKind
	config.Metadata.Name = "config"
	stage := scorecardv1alpha3.StageConfiguration{Parallel: true}
	for _, t := range ScorecardTests {
		stage.Tests = append(stage.Tests, scorecardv1alpha3.TestConfiguration{
			Image:      ScorecardImage,
			Entrypoint: []string{"scorecard-test", t.Test},
			Labels:     map[string]string{"suite": t.Suite, "test": t.Test + "-test"},
		})
	}
	config.Stages = []scorecardv1alpha3.StageConfiguration{stage}
	return config
}
