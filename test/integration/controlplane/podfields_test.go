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
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// Fields that reach a pod's spec as written (istiod's node selector, resources and tolerations, the
// sidecar's and the CNI agent's resources, the CNI agent's node directories) can hold what the CRD accepts and the API server refuses in a
// pod: the CRD cannot check them within the API server's cost budget. Such a spec is refused as
// InvalidSpec, naming the field, before anything is installed: without the check, the istio-base
// release and istiod's other objects went in, and the istiod Deployment was refused part way through
// the Helm install, retried with backoff as InstallFailed.
var _ = Describe("A spec with pod fields the API server refuses", func() {
	AfterEach(deleteMesh)

	DescribeTable("is InvalidSpec, naming the field, and installs nothing",
		func(namespace, spec, field string) {
			createMesh(fmt.Sprintf("  namespace: %s\n%s", namespace, spec))
			Eventually(func(g Gomega) {
				c := conditionOf(meshv1alpha1.ConditionControlPlaneReady)
				g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonInvalidSpec), "message: %s", c.Message)
				g.Expect(c.Message).To(ContainSubstring(field))
				g.Expect(c.ObservedGeneration).To(Equal(getMesh().Generation))
			}, installTimeout, poll).Should(Succeed())
			Expect(conditionOf(meshv1alpha1.ConditionStalled).Status).To(Equal(metav1.ConditionTrue))
			Expect(releaseRevisions(namespace, "istio-base")).To(BeEmpty(), "a release was installed from a spec that is wrong")
			Expect(releaseRevisions(namespace, "istiod")).To(BeEmpty(), "a release was installed from a spec that is wrong")
		},
		Entry("an istiod node selector key with a space", "pf-selector",
			"  controlPlane:\n    nodeSelector:\n      \"node role\": infra\n",
			`spec.controlPlane.nodeSelector key "node role" is not a label key`),
		Entry("an istiod node selector value with a space", "pf-selvalue",
			"  controlPlane:\n    nodeSelector:\n      node-role.kubernetes.io/infra: \"infra nodes\"\n",
			`spec.controlPlane.nodeSelector value "infra nodes" of "node-role.kubernetes.io/infra" is not a label value`),
		Entry("a misspelt resource of istiod", "pf-resources",
			"  controlPlane:\n    resources:\n      requests:\n        memroy: 2Gi\n",
			`spec.controlPlane.resources.requests names "memroy", which is not a resource`),
		Entry("a misspelt resource of the sidecar, which every injected pod would carry", "pf-proxy",
			"  proxy:\n    resources:\n      limits:\n        cpus: \"1\"\n",
			`spec.proxy.resources.limits names "cpus", which is not a resource`),
		Entry("a negative CPU request of istiod", "pf-negative",
			"  controlPlane:\n    resources:\n      requests:\n        cpu: \"-500m\"\n",
			"spec.controlPlane.resources.requests.cpu is -500m: a quantity must not be negative"),
		Entry("a resource claim of istiod", "pf-claims",
			"  controlPlane:\n    resources:\n      claims:\n      - name: gpu\n",
			"spec.controlPlane.resources.claims must not be set"),
		Entry("a GPU of the sidecar requested below its limit, which every injected pod would carry", "pf-extended",
			"  proxy:\n    resources:\n      requests:\n        cpu: 100m\n        example.com/gpu: \"1\"\n      limits:\n        example.com/gpu: \"2\"\n",
			"spec.proxy.resources.requests.example.com/gpu is 1 and its limit 2: they must be equal"),
		Entry("an istiod toleration key with a space", "pf-tolkey",
			"  controlPlane:\n    tolerations:\n    - key: \"dedicated node\"\n      operator: Exists\n",
			`spec.controlPlane.tolerations[0].key "dedicated node" is not a label key`),
		Entry("a CNI agent toleration value with a slash", "pf-cnitol",
			"  cni:\n    enabled: true\n    tolerations:\n    - key: dedicated\n      value: mesh/agents\n",
			`spec.cni.tolerations[0].value "mesh/agents" is not a label value`),
		Entry("a CNI agent bin directory that climbs with ..", "pf-cnibin",
			"  cni:\n    enabled: true\n    cniBinDir: /opt/cni/../bin\n",
			`spec.cni.cniBinDir "/opt/cni/../bin" has a ".." element`),
		Entry("a sidecar seccomp profile of no type, which every injected pod would carry", "pf-seccomp",
			"  values:\n    global:\n      proxy:\n        seccompProfile:\n          type: \"\"\n",
			`spec.values global.proxy.seccompProfile.type is ""`),
		Entry("an istiod seccomp profile of type Localhost without its profile", "pf-seccomp-istiod",
			"  values:\n    seccompProfile:\n      type: Localhost\n",
			"spec.values seccompProfile has type Localhost without a localhostProfile"),
	)

	// The check refuses what the API server refuses in a pod and nothing else: each field is tried in a
	// Pod the real API server validates (a dry run).
	DescribeTable("agrees with the API server's validation of a pod",
		func(mutate func(*corev1.Pod), refused bool) {
			pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "pod-fields"},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "example.com/c:1"}}}}
			mutate(pod)
			err := k8sClient.Create(ctx, pod, client.DryRunAll)
			if refused {
				Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want the API server to refuse the pod, got %v", err)
			} else {
				Expect(err).NotTo(HaveOccurred())
			}
		},
		Entry("a node selector key with a space", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"node role": "infra"} }, true),
		Entry("a node selector value with a space", func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"role": "infra nodes"} }, true),
		Entry("a node selector with a prefixed key and an empty value",
			func(p *corev1.Pod) { p.Spec.NodeSelector = map[string]string{"node-role.kubernetes.io/infra": ""} }, false),
		Entry("a misspelt resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"memroy": resource.MustParse("1Gi")}
		}, true),
		Entry("a capitalised resource", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"CPU": resource.MustParse("1")}
		}, true),
		Entry("standard, huge page and extended resources", func(p *corev1.Pod) {
			list := corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("1Gi"),
				"ephemeral-storage": resource.MustParse("1Gi"), "hugepages-2Mi": resource.MustParse("2Mi"), "example.com/gpu": resource.MustParse("1")}
			p.Spec.Containers[0].Resources.Requests, p.Spec.Containers[0].Resources.Limits = list, list
		}, false),
		Entry("an extended resource requested below its limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"example.com/gpu": resource.MustParse("1")}
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("2")}
		}, true),
		Entry("huge pages requested without a limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"memory": resource.MustParse("128Mi"), "hugepages-2Mi": resource.MustParse("4Mi")}
		}, true),
		Entry("an extended resource in part", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/fpga": resource.MustParse("500m")}
		}, true),
		Entry("huge pages not in whole pages", func(p *corev1.Pod) {
			list := corev1.ResourceList{"memory": resource.MustParse("128Mi"), "hugepages-2Mi": resource.MustParse("3Mi")}
			p.Spec.Containers[0].Resources.Requests, p.Spec.Containers[0].Resources.Limits = list, list
		}, true),
		Entry("huge pages beside ephemeral storage only", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"ephemeral-storage": resource.MustParse("1Gi"), "hugepages-1Gi": resource.MustParse("1Gi")}
		}, true),
		Entry("an extended resource and huge pages limited alone, their requests defaulted to the limits", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("1Gi"),
				"ephemeral-storage": resource.MustParse("1Gi"), "hugepages-2Mi": resource.MustParse("4Mi")}
			p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"example.com/gpu": resource.MustParse("1"),
				"hugepages-2Mi": resource.MustParse("4Mi"), "hugepages-1Gi": resource.MustParse("1Gi")}
		}, false),
		Entry("a resource of the kubernetes.io domain requested without a limit", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"memory": resource.MustParse("128Mi"),
				"kubernetes.io/network-bandwidth": resource.MustParse("500m")}
		}, false),
		Entry("a negative quantity", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("-100m")}
		}, true),
		Entry("a resource claim", func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}}
		}, true),
		Entry("a toleration key with a space", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated node", Operator: corev1.TolerationOpExists}}
		}, true),
		Entry("a toleration value with a slash", func(p *corev1.Pod) {
			p.Spec.Tolerations = []corev1.Toleration{{Key: "dedicated", Value: "mesh/agents"}}
		}, true),
		Entry("a hostPath volume whose path climbs with ..", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "cni-bin-dir", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/opt/cni/../bin"}}}}
		}, true),
		Entry("a hostPath volume whose path's names hold dots", func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "cni-bin-dir", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc/.cni/./net.d.../"}}}}
		}, false),
		Entry("a seccomp profile of no type", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: ""}}
		}, true),
		Entry("a seccomp profile of a type misspelt", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: "runtimeDefault"}}
		}, true),
		Entry("a seccomp profile of type Localhost without its profile", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost}}
		}, true),
		Entry("a seccomp profile of type RuntimeDefault with a localhostProfile", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault, LocalhostProfile: ptr.To("profiles/p.json")}}
		}, true),
		Entry("a seccomp profile of type Localhost with an absolute profile", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("/var/lib/kubelet/seccomp/p.json")}}
		}, true),
		Entry("a seccomp profile of type Localhost with a profile up the tree", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/../../p.json")}}
		}, true),
		Entry("a seccomp profile of type Localhost with a profile whose name holds two dots", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/p..json")}}
		}, false),
		Entry("a seccomp profile of type Localhost with its profile", func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("profiles/p.json")}}
		}, false),
	)
})
