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

import "testing"

// TestGuardKeepsConversionWebhooksAndPolicyParametersInTheRelease: rule 4 holds a CRD's conversion
// webhook to what it holds an admission webhook to (a Service in the release namespace, never a URL),
// and a ValidatingAdmissionPolicy takes no parameters, which the API server would read from any
// namespace.
func TestGuardKeepsConversionWebhooksAndPolicyParametersInTheRelease(t *testing.T) {
	crd := func(apiVersion, conversion string) string {
		return yamlObject(apiVersion, "CustomResourceDefinition", "", "policies.security.istio.io",
			"spec:\n  group: security.istio.io\n  conversion:\n"+conversion)
	}
	webhook := func(clientConfig string) string {
		return "    strategy: Webhook\n    webhook:\n      conversionReviewVersions: [v1]\n      clientConfig:\n" + clientConfig
	}
	policy := func(spec string) string {
		return yamlObject("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy", "", "stable", "spec:\n"+spec)
	}
	checkGuardCases(t, ruleAdmission, []guardCase{
		{"no conversion", crd("apiextensions.k8s.io/v1", "    strategy: None\n"), ""},
		{"a Service in the release namespace", crd("apiextensions.k8s.io/v1", webhook("        service: {name: istiod, namespace: istio-system}\n")), ""},
		{"a URL", crd("apiextensions.k8s.io/v1", webhook("        url: https://collector.example.com/convert\n")),
			"CustomResourceDefinition policies.security.istio.io, which sends conversion webhook to a URL rather than a Service"},
		{"a Service in another namespace", crd("apiextensions.k8s.io/v1", webhook("        service: {name: collector, namespace: team-a}\n")),
			"which sends conversion webhook to Service team-a/collector, outside the release namespace"},
		{"no Service", crd("apiextensions.k8s.io/v1", webhook("        caBundle: \"\"\n")), "names no Service for its conversion webhook"},
		{"a URL beside the strategy (v1beta1)", crd("apiextensions.k8s.io/v1beta1",
			"    strategy: Webhook\n    webhookClientConfig:\n      url: https://collector.example.com/convert\n"),
			"sends conversion webhook to a URL rather than a Service"},
		{"a policy without parameters", policy("  validations:\n  - expression: \"true\"\n"), ""},
		{"a policy with parameters", policy("  paramKind: {apiVersion: v1, kind: Secret}\n"),
			"ValidatingAdmissionPolicy stable, which reads parameters of kind v1/Secret (paramKind)"},
	})
}
