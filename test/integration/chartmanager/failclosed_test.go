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

package chartmanager

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// injectorPath is the path of the sidecar injector's webhook configuration in namespace, whose apply
// these tests refuse to make a first install fail after the validator was applied.
func injectorPath(namespace string) string {
	return "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/" + injector(namespace)
}

// expectValidatorFailsClosed checks that every webhook of istiod's validator fails closed.
func expectValidatorFailsClosed(ctx context.Context, g *WithT, env *cluster, why string) {
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: validator(env.Namespace)}, vwc)).To(Succeed())
	g.Expect(vwc.Webhooks).NotTo(BeEmpty())
	for _, w := range vwc.Webhooks {
		g.Expect(w.FailurePolicy).To(HaveValue(Equal(admissionregistrationv1.Fail)), "%s: %s fails open", why, w.Name)
	}
}

// TestARecoveredInstallKeepsIstiodsFailClosedValidator: a first install of istiod's chart that failed
// after it applied the validator, which istiod then switched to failurePolicy Fail once it served, is
// recovered without reopening validation: the recovery renders the validator as an install does
// (failurePolicy Ignore, to fail open until istiod serves), but istiod serves already, and the
// validator stays fail-closed, as istiod left it.
func TestARecoveredInstallKeepsIstiodsFailClosedValidator(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, env := setUp(t)
	r := &installedRelease{g: g, ctx: ctx, env: env, counter: &testenv.RequestCounter{Match: isWrite}}
	m, cache, fail := cachedManager(ctx, t, env, r.counter)
	r.m, r.cache = m, cache
	values, err := render.IstiodValues(&meshv1alpha1.ServiceMeshSpec{Namespace: env.Namespace}, charts.BuiltinVersion)
	g.Expect(err).NotTo(HaveOccurred())
	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	r.release = helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: values, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}

	fail.Store(injectorPath(env.Namespace))
	_, err = r.m.Ensure(ctx, r.release)
	g.Expect(err).To(MatchError(ContainSubstring("forbidden")))

	// istiod came up from the Deployment the failed install applied, and switched its validator to
	// fail closed (it writes with an update, as field manager pilot-discovery).
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: validator(env.Namespace)}, vwc)).To(Succeed())
	for i := range vwc.Webhooks {
		g.Expect(vwc.Webhooks[i].FailurePolicy).To(HaveValue(Equal(admissionregistrationv1.Ignore)))
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionregistrationv1.Fail)
		vwc.Webhooks[i].ClientConfig.CABundle = []byte("istiod's CA")
	}
	g.Expect(env.Client.Update(ctx, vwc, client.FieldOwner("pilot-discovery"))).To(Succeed())
	r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})

	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionRecovered))
	expectValidatorFailsClosed(ctx, g, env, "the recovery of the failed install")

	g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: validator(env.Namespace)}, vwc)).To(Succeed())
	r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	r.expectNoDrift()
	expectValidatorFailsClosed(ctx, g, env, "the drift checks after the recovery")
}

// TestOpeningAFailClosedValidatorIsDrift: of a release whose values make the validator fail closed
// (base.validationFailurePolicy Fail), someone else switching it to failurePolicy Ignore opens
// validation against what the release sets: the drift check repairs it, and a repair for another
// change of the validator does not write that Ignore as meshkeeper's.
func TestOpeningAFailClosedValidatorIsDrift(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	_, _, env := setUp(t)
	r := &installedRelease{g: g, ctx: ctx, env: env, counter: &testenv.RequestCounter{Match: isWrite}}
	r.m, r.cache, _ = cachedManager(ctx, t, env, r.counter)
	values, err := render.IstiodValues(&meshv1alpha1.ServiceMeshSpec{Namespace: env.Namespace}, charts.BuiltinVersion)
	g.Expect(err).NotTo(HaveOccurred())
	values["base"] = map[string]any{"validationFailurePolicy": "Fail"}
	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	r.release = helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: values, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	expectValidatorFailsClosed(ctx, g, env, "the install")
	r.expectNoDrift()

	open := func(patch string) {
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: validator(env.Namespace)}, vwc)).To(Succeed())
		g.Expect(env.Client.Patch(ctx, vwc, client.RawPatch(types.JSONPatchType, []byte(patch)),
			client.FieldOwner("kubectl-patch"))).To(Succeed())
		r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	}
	repaired := func(why string) {
		result, err := r.m.Ensure(ctx, r.release)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(result.Repaired).To(ConsistOf("ValidatingWebhookConfiguration "+validator(env.Namespace)), why)
		expectValidatorFailsClosed(ctx, g, env, why)
		vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		g.Expect(env.Client.Get(ctx, client.ObjectKey{Name: validator(env.Namespace)}, vwc)).To(Succeed())
		g.Expect(vwc.Labels).To(HaveKeyWithValue("app", "istiod"))
		r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})
		r.expectNoDrift()
	}

	open(`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"}]`)
	repaired("the validator someone opened")

	open(`[{"op":"replace","path":"/webhooks/0/failurePolicy","value":"Ignore"},{"op":"remove","path":"/metadata/labels/app"}]`)
	repaired("the validator someone opened and unlabelled")
}
