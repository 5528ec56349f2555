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

package controlplane

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

const (
	rolloutNS       = "rollout-nginx"
	rolloutMeshSpec = "  namespace: rollout-system\n  ingressNginx:\n    enabled: true\n" +
		"    controller: {namespace: rollout-nginx, name: controller, kind: Deployment}\n" +
		"    serviceCIDRs: [10.96.0.0/12]\n  mtls:\n    mode: STRICT\n"
)

// IngressesConfigured says the controller has its sidecar only once its pods do: once the pod template
// with meshkeeper's settings is rolled out, not as soon as the template carries them. The envtest tier
// has no Deployment controller, so the test writes the Deployment's status as it would.
var _ = Describe("the ingress-nginx controller's rollout", Ordered, func() {
	key := client.ObjectKey{Namespace: rolloutNS, Name: "controller"}
	path := "/apis/apps/v1/namespaces/" + rolloutNS + "/deployments/controller"
	get := func() *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, key, d)).To(Succeed())
		return d
	}
	// writeStatus writes the Deployment's status for its current generation as its controller would.
	writeStatus := func(replicas, updated, available int32, conditions ...appsv1.DeploymentCondition) {
		GinkgoHelper()
		Eventually(func() error {
			d := get()
			d.Status = appsv1.DeploymentStatus{ObservedGeneration: d.Generation, Replicas: replicas, UpdatedReplicas: updated,
				ReadyReplicas: available, AvailableReplicas: available, Conditions: conditions}
			return k8sClient.Status().Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
	}
	expectCondition := func(status metav1.ConditionStatus, reason string, mentions ...string) {
		GinkgoHelper()
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Status).To(Equal(status), "IngressesConfigured: %s: %s", c.Reason, c.Message)
			g.Expect(c.Reason).To(Equal(reason), c.Message)
			for _, m := range mentions {
				g.Expect(c.Message).To(ContainSubstring(m))
			}
		}, installTimeout, poll).Should(Succeed())
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(rolloutNS, nil, nil)
		createPlainController(rolloutNS, ptr.To[int32](2))
		writeStatus(2, 2, 2) // rolled out without a sidecar
		createMesh(rolloutMeshSpec)
		DeferCleanup(deleteMesh)
	})

	It("is not configured while pods of the template before run without the sidecar, and says what the rollout waits for", func() {
		Eventually(func() map[string]string { return get().Spec.Template.Labels }, installTimeout, poll).
			Should(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut,
			"Deployment rollout-nginx/controller is rolling out its sidecar settings", "not seen yet", "run without the sidecar")

		By("following the rollout's status, which changes no generation")
		writeStatus(3, 1, 2, appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: corev1.ConditionTrue,
			Reason: "FailedCreate", Message: `pods "controller-5f7c" is forbidden: exceeded quota: pods`})
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut,
			"1 of 2 pods updated, 2 available, 2 old", `FailedCreate: pods "controller-5f7c" is forbidden: exceeded quota`)
		Expect(conditionOf(meshv1alpha1.ConditionReady).Status).To(Equal(metav1.ConditionFalse))
		By("counting the controller's pods without the sidecar as plaintext clients of the STRICT mesh")
		mtls := conditionOf(meshv1alpha1.ConditionMTLSReady)
		Expect(mtls.Status).To(Equal(metav1.ConditionFalse), "MTLSReady: %s: %s", mtls.Reason, mtls.Message)
		Expect(mtls.Message).To(ContainSubstring("the ingress-nginx controller Deployment rollout-nginx/controller runs without its sidecar"))

		writeStatus(2, 2, 2)
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonConfigured, "the ingress-nginx controller has its sidecar")
		Eventually(func() metav1.ConditionStatus { return conditionOf(meshv1alpha1.ConditionMTLSReady).Status }, installTimeout, poll).
			Should(Equal(metav1.ConditionTrue))
	})

	It("stays configured through its owner's own rollout, and reads the workload no more once rolled out", func() {
		gets := managerGets.Of(path)
		// A status change at rest (a pod became unready) wakes nothing.
		writeStatus(2, 2, 1)
		Consistently(func() int { return managerGets.Of(path) - gets }, 2*time.Second, poll).Should(BeZero(),
			"meshkeeper read the rolled-out controller again on a change of its status")

		By("the owner rolls out a new image: its old pods have the sidecar too")
		Eventually(func() error {
			d := get()
			d.Spec.Template.Spec.Containers[0].Image = "registry.k8s.io/ingress-nginx/controller:v1.13.1"
			return k8sClient.Update(ctx, d)
		}, installTimeout, poll).Should(Succeed())
		Consistently(func() string { return conditionOf(meshv1alpha1.ConditionIngressesConfigured).Reason }, 3*time.Second, poll).
			Should(Equal(meshv1alpha1.ReasonConfigured))
		writeStatus(2, 2, 2)
	})

	It("rolls out again when meshkeeper's settings change", func() {
		patchSpec(`{"ingressNginx": {"serviceCIDRs": ["10.96.0.0/12", "10.200.0.0/16"]}}`)
		Eventually(func() string { return get().Spec.Template.Annotations[includeOutbound] }, installTimeout, poll).
			Should(Equal("10.96.0.0/12,10.200.0.0/16"))
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "not seen yet")
		writeStatus(2, 2, 2)
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonConfigured)
	})

	It("is not reported off and done while its settings are still on the controller", func() {
		// An admission policy of the cluster's keeps the sidecar label on the controller's pod template.
		vap, binding := denial{
			name:          "keep-the-sidecar-of-rollout-nginx",
			operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
			rule:          admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"*"}, Resources: []string{"deployments"}},
			resourceNames: []string{"controller"},
			expression:    "has(object.spec.template.metadata.labels) && 'sidecar.istio.io/inject' in object.spec.template.metadata.labels",
			message:       "the controller keeps its sidecar",
			namespaces:    &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": rolloutNS}},
		}.objects()
		Expect(k8sClient.Create(ctx, vap)).To(Succeed())
		Expect(k8sClient.Create(ctx, binding)).To(Succeed())
		removed := func() {
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, binding))).To(Succeed())
			Expect(client.IgnoreNotFound(k8sClient.Delete(ctx, vap))).To(Succeed())
		}
		DeferCleanup(removed)
		// In force once it refuses a dry run of the test's own that removes the label.
		Eventually(func() error {
			d := get()
			delete(d.Spec.Template.Labels, "sidecar.istio.io/inject")
			return k8sClient.Update(ctx, d, client.DryRunAll)
		}, installTimeout, poll).Should(MatchError(ContainSubstring("the controller keeps its sidecar")))

		patchSpec(`{"ingressNginx": {"enabled": false}}`)
		expectCondition(metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			"integration is off", "taking back its sidecar settings from the pod template of Deployment rollout-nginx/controller")
		Consistently(func() string { return conditionOf(meshv1alpha1.ConditionIngressesConfigured).Reason }, 2*time.Second, poll).
			Should(Equal(meshv1alpha1.ReasonReconciling))
		Expect(get().Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))

		removed()
		Eventually(func() map[string]string { return get().Spec.Template.Labels }, installTimeout, poll).
			ShouldNot(HaveKey("sidecar.istio.io/inject"))
		expectCondition(metav1.ConditionTrue, meshv1alpha1.ReasonIngressNginxDisabled)
	})
})
