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
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

const (
	ownersControllerNS = "owners-nginx"
	ownersMeshSpec     = "  namespace: owners-system\n  ingressNginx:\n    enabled: true\n" +
		"    controller: {namespace: owners-nginx, name: controller, kind: Deployment}\n    serviceCIDRs: [10.96.0.0/12]\n"
	lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
)

// The ingress-nginx controller's owner keeps syncing its manifest while meshkeeper holds its keys on
// the pod template: Argo CD by kubectl's client-side apply (a three-way strategic merge patch from the
// last-applied annotation), Helm 4 by server-side apply with force. Neither sees meshkeeper's keys as
// drift, neither removes them, and meshkeeper writes nothing back.
var _ = Describe("the ingress-nginx controller synced by its owner's tools", Ordered, func() {
	manifest := func(image string) *appsv1.Deployment {
		labels := map[string]string{"app.kubernetes.io/name": "ingress-nginx"}
		spec := controllerPodSpec()
		spec.Containers[0].Image = image
		return &appsv1.Deployment{
			TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
			ObjectMeta: metav1.ObjectMeta{Namespace: ownersControllerNS, Name: "controller"},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels,
					Annotations: map[string]string{"prometheus.io/scrape": "true"}}, Spec: spec},
			},
		}
	}
	live := func() *appsv1.Deployment {
		GinkgoHelper()
		d := &appsv1.Deployment{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ownersControllerNS, Name: "controller"}, d)).To(Succeed())
		return d
	}
	// kubectlPatch is what kubectl apply (client-side, as Argo CD syncs by default) sends for desired:
	// the three-way strategic merge patch of the last-applied configuration, desired and the live
	// object. "{}" is no drift.
	kubectlPatch := func(desired *appsv1.Deployment) []byte {
		GinkgoHelper()
		current := live()
		current.TypeMeta = desired.TypeMeta // the typed client's answer leaves them out
		modified, err := json.Marshal(desired)
		Expect(err).NotTo(HaveOccurred())
		withAnnotation := desired.DeepCopy()
		withAnnotation.Annotations = map[string]string{lastApplied: string(modified)}
		modified, err = json.Marshal(withAnnotation)
		Expect(err).NotTo(HaveOccurred())
		currentJSON, err := json.Marshal(current)
		Expect(err).NotTo(HaveOccurred())
		meta, err := strategicpatch.NewPatchMetaFromStruct(&appsv1.Deployment{})
		Expect(err).NotTo(HaveOccurred())
		patch, err := strategicpatch.CreateThreeWayMergePatch([]byte(current.Annotations[lastApplied]), modified, currentJSON, meta, true)
		Expect(err).NotTo(HaveOccurred())
		return patch
	}
	kubectlApply := func(desired *appsv1.Deployment) {
		GinkgoHelper()
		patch := kubectlPatch(desired)
		if string(patch) == "{}" {
			return
		}
		Expect(k8sClient.Patch(ctx, live(), client.RawPatch(types.StrategicMergePatchType, patch),
			client.FieldOwner("kubectl-client-side-apply"))).To(Succeed())
	}
	meshkeeperKeysInPlace := func(g Gomega) {
		d := live()
		g.Expect(d.Spec.Template.Labels).To(HaveKeyWithValue("sidecar.istio.io/inject", "true"))
		g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue(includeOutbound, "10.96.0.0/12"))
		g.Expect(d.Spec.Template.Annotations).To(HaveKeyWithValue("prometheus.io/scrape", "true"))
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(ownersControllerNS, nil, nil)
		first := manifest("registry.k8s.io/ingress-nginx/controller:v1.13.0")
		body, err := json.Marshal(first)
		Expect(err).NotTo(HaveOccurred())
		created := first.DeepCopy()
		created.Annotations = map[string]string{lastApplied: string(body)}
		Expect(k8sClient.Create(ctx, created, client.FieldOwner("kubectl-client-side-apply"))).To(Succeed())
		createMesh(ownersMeshSpec)
		Eventually(meshkeeperKeysInPlace, installTimeout, poll).Should(Succeed())
	})
	AfterAll(deleteMesh)

	It("keeps meshkeeper's keys through Argo CD's client-side syncs, with no drift and no writes back and forth", func() {
		desired := manifest("registry.k8s.io/ingress-nginx/controller:v1.13.0")
		Expect(string(kubectlPatch(desired))).To(Equal("{}"), "meshkeeper's keys show as drift")

		By("upgrading the image, as a sync of a new chart version does")
		desired = manifest("registry.k8s.io/ingress-nginx/controller:v1.13.1")
		kubectlApply(desired)
		Eventually(meshkeeperKeysInPlace, installTimeout, poll).Should(Succeed())
		version := live().ResourceVersion
		Consistently(func(g Gomega) {
			kubectlApply(desired) // Argo CD's self-heal syncs whenever it sees drift
			g.Expect(live().ResourceVersion).To(Equal(version))
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed(), "the owner's sync and meshkeeper keep writing the controller")
	})

	It("keeps meshkeeper's keys through Helm 4's server-side applies with force", func() {
		desired := manifest("registry.k8s.io/ingress-nginx/controller:v1.13.2")
		helmApply := func() {
			GinkgoHelper()
			body, err := json.Marshal(desired)
			Expect(err).NotTo(HaveOccurred())
			u := &unstructured.Unstructured{}
			Expect(u.UnmarshalJSON(body)).To(Succeed())
			Expect(k8sClient.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner("helm"), client.ForceOwnership)).To(Succeed())
		}
		helmApply()
		Eventually(meshkeeperKeysInPlace, installTimeout, poll).Should(Succeed())
		version := live().ResourceVersion
		Consistently(func(g Gomega) {
			helmApply()
			g.Expect(live().ResourceVersion).To(Equal(version))
		}, 3*time.Second, 500*time.Millisecond).Should(Succeed(), "the owner's apply and meshkeeper keep writing the controller")
	})
})
