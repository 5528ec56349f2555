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
	"net/http"
	"testing"

	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// validator is the name of the validating webhook configuration istiod's chart renders for the
// control-plane namespace.
func validator(namespace string) string { return "istio-validator-" + namespace }

// injector is the name of the mutating webhook configuration of the sidecar injector istiod's chart
// renders for the control-plane namespace: the chart adds the namespace to it outside istio-system.
func injector(namespace string) string {
	if namespace == "istio-system" {
		return "istio-sidecar-injector"
	}
	return "istio-sidecar-injector-" + namespace
}

// isWrite selects the requests that change something: not reads, and not the dry runs with which the
// drift check compares.
func isWrite(req *http.Request) bool {
	return req.Method != http.MethodGet && req.URL.Query().Get("dryRun") == ""
}

// installIstiod installs istiod's chart for spec with a chart manager whose writes are counted.
func installIstiod(ctx context.Context, t *testing.T, g *WithT, spec *meshv1alpha1.ServiceMeshSpec) *installedRelease {
	t.Helper()
	_, _, env := setUp(t)
	spec.Namespace = env.Namespace
	values, err := render.IstiodValues(spec, charts.BuiltinVersion)
	g.Expect(err).NotTo(HaveOccurred())
	r := &installedRelease{g: g, ctx: ctx, env: env, counter: &testenv.RequestCounter{Match: isWrite}}
	r.m, r.cache, _ = cachedManager(ctx, t, env, r.counter)
	chart, err := charts.Builtin(charts.Istiod)
	g.Expect(err).NotTo(HaveOccurred())
	r.release = helm.Release{Name: "istiod", Namespace: env.Namespace, Chart: chart, ChartDigest: charts.Digest(chart),
		Values: values, Owner: helm.Owner{APIVersion: "mesh.meshkeeper.io/v1alpha1", Kind: "ServiceMesh", Name: "default", UID: "uid-1"}}
	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionInstalled))
	// The first drift check after the install settles what it knows of the objects.
	_, err = r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	return r
}

// expectNoDrift checks the release twice: neither pass repairs anything nor writes anything.
func (r *installedRelease) expectNoDrift() {
	for range 2 {
		before := r.counter.Total()
		result, err := r.m.Ensure(r.ctx, r.release)
		r.g.Expect(err).NotTo(HaveOccurred())
		r.g.Expect(result.State).To(Equal(helm.StateInSync))
		r.g.Expect(result.Repaired).To(BeEmpty(), "a change that is someone else's was taken for drift")
		r.g.Expect(r.counter.Total()-before).To(BeZero(), "the drift check of a release in sync wrote")
	}
}

// istiodPatchesItsWebhooks does what istiod's webhook controllers do once its CA is up and it serves:
// they update the webhook configurations with the CA bundle and, of the validator, failurePolicy Fail.
func istiodPatchesItsWebhooks(r *installedRelease) {
	ctx, g, c := r.ctx, r.g, r.env.Client
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: validator(r.env.Namespace)}, vwc)).To(Succeed())
	for i := range vwc.Webhooks {
		vwc.Webhooks[i].ClientConfig.CABundle = []byte("istiod's CA")
		vwc.Webhooks[i].FailurePolicy = ptr.To(admissionregistrationv1.Fail)
	}
	g.Expect(c.Update(ctx, vwc, client.FieldOwner("pilot-discovery"))).To(Succeed())
	r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})

	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: injector(r.env.Namespace)}, mwc)).To(Succeed())
	for i := range mwc.Webhooks {
		mwc.Webhooks[i].ClientConfig.CABundle = []byte("istiod's CA")
	}
	g.Expect(c.Update(ctx, mwc, client.FieldOwner("pilot-discovery"))).To(Succeed())
	r.waitCached(mwc, &admissionregistrationv1.MutatingWebhookConfiguration{})
}

// expectIstiodsWebhooks checks that the webhook configurations hold what istiod patched into them.
func expectIstiodsWebhooks(r *installedRelease) {
	ctx, g, c := r.ctx, r.g, r.env.Client
	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: validator(r.env.Namespace)}, vwc)).To(Succeed())
	g.Expect(vwc.Webhooks).NotTo(BeEmpty())
	for _, w := range vwc.Webhooks {
		g.Expect(string(w.ClientConfig.CABundle)).To(Equal("istiod's CA"), "istiod's CA bundle of %s was undone", w.Name)
		g.Expect(w.FailurePolicy).To(HaveValue(Equal(admissionregistrationv1.Fail)),
			"istiod's failurePolicy of %s was undone: validation fails open", w.Name)
	}
	mwc := &admissionregistrationv1.MutatingWebhookConfiguration{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: injector(r.env.Namespace)}, mwc)).To(Succeed())
	g.Expect(mwc.Webhooks).NotTo(BeEmpty())
	for _, w := range mwc.Webhooks {
		g.Expect(string(w.ClientConfig.CABundle)).To(Equal("istiod's CA"), "istiod's CA bundle of %s was undone", w.Name)
	}
}

// TestOthersChangesAreNoDrift: what platform engineers and other controllers do to istiod's release
// as their own work is not drift: a rollout restart, a label of Argo CD's and an annotation of a
// policy engine's, the Deployment controller's revision annotation and status, istiod's CA bundle and
// failurePolicy in its webhook configurations, and istiod's own ConfigMap and Secret. None of it is
// repaired or written, on any pass, and all of it stays.
func TestOthersChangesAreNoDrift(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := installIstiod(ctx, t, g, &meshv1alpha1.ServiceMeshSpec{})
	c := r.env.Client
	istiod := client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}

	// kubectl rollout restart deployment/istiod.
	deployment := &appsv1.Deployment{}
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	restart := []byte(`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-12-05T14:00:00Z"}}}}}`)
	g.Expect(c.Patch(ctx, deployment, client.RawPatch(types.StrategicMergePatchType, restart), client.FieldOwner("kubectl-rollout"))).To(Succeed())
	// Argo CD's tracking label, and the Deployment controller's revision annotation and status.
	argo := []byte(`{"metadata":{"labels":{"argocd.argoproj.io/instance":"mesh"}}}`)
	g.Expect(c.Patch(ctx, deployment, client.RawPatch(types.MergePatchType, argo), client.FieldOwner("argocd-controller"))).To(Succeed())
	revision := []byte(`{"metadata":{"annotations":{"deployment.kubernetes.io/revision":"2"}}}`)
	g.Expect(c.Patch(ctx, deployment, client.RawPatch(types.MergePatchType, revision), client.FieldOwner("kube-controller-manager"))).To(Succeed())
	deployment.Status = appsv1.DeploymentStatus{ObservedGeneration: deployment.Generation, Replicas: 2, UpdatedReplicas: 2}
	g.Expect(c.Status().Update(ctx, deployment, client.FieldOwner("kube-controller-manager"))).To(Succeed())
	r.waitCached(deployment, &appsv1.Deployment{})

	// A policy engine's annotation on istiod's Service.
	service := &corev1.Service{}
	g.Expect(c.Get(ctx, istiod, service)).To(Succeed())
	policy := []byte(`{"metadata":{"annotations":{"policies.kyverno.io/last-applied-patches":"add-team.mesh"},"labels":{"team":"platform"}}}`)
	g.Expect(c.Patch(ctx, service, client.RawPatch(types.MergePatchType, policy), client.FieldOwner("kyverno"))).To(Succeed())
	r.waitCached(service, &corev1.Service{})

	istiodPatchesItsWebhooks(r)

	// istiod's own root certificate ConfigMap and CA Secret, which no chart renders.
	g.Expect(c.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.env.Namespace, Name: "istio-ca-root-cert"},
		Data: map[string]string{"root-cert.pem": "istiod's root"}}, client.FieldOwner("pilot-discovery"))).To(Succeed())
	g.Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: r.env.Namespace, Name: "istio-ca-secret"},
		Data: map[string][]byte{"ca-key.pem": []byte("istiod's key")}}, client.FieldOwner("pilot-discovery"))).To(Succeed())

	r.expectNoDrift()

	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Template.Annotations).To(HaveKeyWithValue("kubectl.kubernetes.io/restartedAt", "2026-12-05T14:00:00Z"))
	g.Expect(deployment.Labels).To(HaveKeyWithValue("argocd.argoproj.io/instance", "mesh"))
	g.Expect(deployment.Annotations).To(HaveKeyWithValue("deployment.kubernetes.io/revision", "2"))
	g.Expect(c.Get(ctx, istiod, service)).To(Succeed())
	g.Expect(service.Labels).To(HaveKeyWithValue("team", "platform"))
	g.Expect(service.Annotations).To(HaveKey("policies.kyverno.io/last-applied-patches"))
	expectIstiodsWebhooks(r)
	rootCert := &corev1.ConfigMap{}
	g.Expect(c.Get(ctx, client.ObjectKey{Namespace: r.env.Namespace, Name: "istio-ca-root-cert"}, rootCert)).To(Succeed())
	g.Expect(rootCert.Data).To(HaveKeyWithValue("root-cert.pem", "istiod's root"))
}

// TestAutoscaledReplicasAreNoDrift: with spec.controlPlane.autoscaling the chart leaves the replicas
// to the HorizontalPodAutoscaler, so its scaling of istiod (through the scale subresource) is not
// drift; without it the replicas are spec.controlPlane.replicas, and a `kubectl scale` is repaired.
func TestAutoscaledReplicasAreNoDrift(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := installIstiod(ctx, t, g, &meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{
		Autoscaling: &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}}})
	c := r.env.Client
	istiod := client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}

	deployment := &appsv1.Deployment{}
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 4}}
	g.Expect(c.SubResource("scale").Update(ctx, deployment, client.WithSubResourceBody(scale),
		client.FieldOwner("kube-controller-manager"))).To(Succeed())
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(4)))
	r.waitCached(deployment, &appsv1.Deployment{})

	r.expectNoDrift()
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(4)), "the autoscaler's replicas were undone")
}

// TestRepairKeepsIstiodsWebhookRewrites: a webhook configuration repaired for a change that is drift
// (a label of the release removed) keeps the CA bundle and failurePolicy istiod patched into it: the
// repair restores the release's fields and does not reopen validation until istiod patches again.
func TestRepairKeepsIstiodsWebhookRewrites(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := installIstiod(ctx, t, g, &meshv1alpha1.ServiceMeshSpec{})
	c := r.env.Client
	istiodPatchesItsWebhooks(r)
	r.expectNoDrift()

	vwc := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	g.Expect(c.Get(ctx, client.ObjectKey{Name: validator(r.env.Namespace)}, vwc)).To(Succeed())
	g.Expect(vwc.Labels).To(HaveKey("app"))
	unlabel := []byte(`{"metadata":{"labels":{"app":null}}}`)
	g.Expect(c.Patch(ctx, vwc, client.RawPatch(types.MergePatchType, unlabel), client.FieldOwner("someone"))).To(Succeed())
	r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})

	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Repaired).To(ConsistOf("ValidatingWebhookConfiguration " + validator(r.env.Namespace)))
	g.Expect(c.Get(ctx, client.ObjectKey{Name: validator(r.env.Namespace)}, vwc)).To(Succeed())
	g.Expect(vwc.Labels).To(HaveKeyWithValue("app", "istiod"), "the release's label was not restored")
	expectIstiodsWebhooks(r)
	r.waitCached(vwc, &admissionregistrationv1.ValidatingWebhookConfiguration{})
	r.expectNoDrift()
}

// TestADeletedObjectOfTheReleaseComesBack: istiod's Service and its mesh ConfigMap, deleted by hand,
// are restored by the next drift check, and the check after writes nothing.
func TestADeletedObjectOfTheReleaseComesBack(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := installIstiod(ctx, t, g, &meshv1alpha1.ServiceMeshSpec{})
	c := r.env.Client

	service := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: r.env.Namespace, Name: "istiod"}}
	configMap := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: r.env.Namespace, Name: "istio"}}
	g.Expect(c.Delete(ctx, service)).To(Succeed())
	g.Expect(c.Delete(ctx, configMap)).To(Succeed())
	g.Eventually(func() bool {
		return r.cache.Get(ctx, client.ObjectKeyFromObject(service), &corev1.Service{}) != nil &&
			r.cache.Get(ctx, client.ObjectKeyFromObject(configMap), &corev1.ConfigMap{}) != nil
	}, "10s", "20ms").Should(BeTrue())

	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Repaired).To(ConsistOf("Service "+r.env.Namespace+"/istiod", "ConfigMap "+r.env.Namespace+"/istio"))
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(service), service)).To(Succeed())
	g.Expect(c.Get(ctx, client.ObjectKeyFromObject(configMap), configMap)).To(Succeed())
	r.waitCached(service, &corev1.Service{})
	r.waitCached(configMap, &corev1.ConfigMap{})
	r.expectNoDrift()
}

// TestTurningAutoscalingOnKeepsTheReplicas: a ServiceMesh moving istiod from fixed replicas to
// autoscaling leaves the replicas it ran with to the autoscaler: the upgrade that stops setting them
// does not drop istiod to the API server's default of one pod, the drift checks after it write
// nothing, and once the autoscaler has scaled istiod a later upgrade leaves its replicas alone.
func TestTurningAutoscalingOnKeepsTheReplicas(t *testing.T) {
	g := NewWithT(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := installIstiod(ctx, t, g, &meshv1alpha1.ServiceMeshSpec{ControlPlane: meshv1alpha1.ControlPlaneSpec{Replicas: ptr.To(int32(3))}})
	c := r.env.Client
	istiod := client.ObjectKey{Namespace: r.env.Namespace, Name: "istiod"}
	deployment := &appsv1.Deployment{}
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(3)))

	values, err := render.IstiodValues(&meshv1alpha1.ServiceMeshSpec{Namespace: r.env.Namespace, ControlPlane: meshv1alpha1.ControlPlaneSpec{
		Autoscaling: &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 5}}}, charts.BuiltinVersion)
	g.Expect(err).NotTo(HaveOccurred())
	r.release.Values = values
	result, err := r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(3)), "the upgrade changed the replicas istiod ran with")
	r.waitCached(deployment, &appsv1.Deployment{})
	r.expectNoDrift()

	// The autoscaler scales istiod: its replicas are its own from then on, also through an upgrade.
	scale := &autoscalingv1.Scale{Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	g.Expect(c.SubResource("scale").Update(ctx, deployment, client.WithSubResourceBody(scale),
		client.FieldOwner("kube-controller-manager"))).To(Succeed())
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	r.waitCached(deployment, &appsv1.Deployment{})
	r.expectNoDrift()
	values, err = render.IstiodValues(&meshv1alpha1.ServiceMeshSpec{Namespace: r.env.Namespace, ControlPlane: meshv1alpha1.ControlPlaneSpec{
		Autoscaling: &meshv1alpha1.AutoscalingSpec{MinReplicas: 2, MaxReplicas: 6}}}, charts.BuiltinVersion)
	g.Expect(err).NotTo(HaveOccurred())
	r.release.Values = values
	result, err = r.m.Ensure(ctx, r.release)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(result.Action).To(Equal(helm.ActionUpgraded))
	g.Expect(c.Get(ctx, istiod, deployment)).To(Succeed())
	g.Expect(deployment.Spec.Replicas).To(HaveValue(BeEquivalentTo(5)), "the upgrade undid the autoscaler's replicas")
	r.waitCached(deployment, &appsv1.Deployment{})
	r.expectNoDrift()
}
