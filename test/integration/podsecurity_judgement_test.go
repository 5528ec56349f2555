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

package integration

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// psaMeshSpec is a ServiceMesh spec with the CNI agent unless cniOff, and the given spec.values (JSON,
// none when empty).
func psaMeshSpec(cniOff bool, values string) *meshv1alpha1.ServiceMeshSpec {
	GinkgoHelper()
	spec := &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system"}
	if cniOff {
		spec.CNI.Enabled = new(bool)
	}
	if values != "" {
		spec.Values = &meshv1alpha1.IstiodValues{}
		Expect(spec.Values.UnmarshalJSON([]byte(values))).To(Succeed())
	}
	return spec
}

// psaInjectedContainer is a container of the shape Istio's injection template renders for the sidecar
// (istio-proxy) and its init container (istio-validation with the CNI agent, istio-init without): it
// drops every capability and adds add, runs as root when root, is privileged when privileged, and has
// the seccomp profile seccomp (none when empty).
func psaInjectedContainer(name string, add []corev1.Capability, root, privileged bool, seccomp corev1.SeccompProfileType) corev1.Container {
	sc := &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(privileged),
		Privileged:               ptr.To(privileged),
		Capabilities:             &corev1.Capabilities{Add: add, Drop: []corev1.Capability{"ALL"}},
		RunAsNonRoot:             ptr.To(!root),
		RunAsUser:                ptr.To[int64](1337),
		RunAsGroup:               ptr.To[int64](1337),
	}
	if root {
		sc.RunAsUser = ptr.To[int64](0)
	}
	if seccomp != "" {
		sc.SeccompProfile = &corev1.SeccompProfile{Type: seccomp}
	}
	return corev1.Container{Name: name, Image: "registry.example/proxyv2:1", SecurityContext: sc}
}

// psaInjectedPod is a pod whose own container meets the level restricted, with the containers injection
// adds under the spec.values of values, with the CNI agent unless cniOff, as Istio's injection template
// renders them.
func psaInjectedPod(cniOff bool, values string) *corev1.Pod {
	seccomp := corev1.SeccompProfileType("")
	if !cniOff {
		seccomp = corev1.SeccompProfileTypeRuntimeDefault // what meshkeeper sets with the agent
	}
	if strings.Contains(values, "Unconfined") {
		seccomp = corev1.SeccompProfileTypeUnconfined
	}
	if strings.Contains(values, `"seccompProfile": null`) {
		seccomp = "" // the template writes no profile then
	}
	root := strings.Contains(values, "capNetBindService")
	var proxyAdd []corev1.Capability
	if root {
		proxyAdd = []corev1.Capability{"NET_BIND_SERVICE"}
	}
	init := psaInjectedContainer("istio-validation", nil, false, false, seccomp)
	if cniOff {
		init = psaInjectedContainer("istio-init", []corev1.Capability{"NET_ADMIN", "NET_RAW"}, true, false, seccomp)
	}
	app := corev1.Container{Name: "web", Image: "registry.example/web:1", SecurityContext: &corev1.SecurityContext{
		AllowPrivilegeEscalation: ptr.To(false),
		RunAsNonRoot:             ptr.To(true),
		RunAsUser:                ptr.To[int64](1000),
		Capabilities:             &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		SeccompProfile:           &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
	}}
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{init},
			Containers:     []corev1.Container{app, psaInjectedContainer("istio-proxy", proxyAdd, root, false, seccomp)},
		},
	}
}

// For every way a namespace's labels can set the level the API server enforces, a namespace so
// labelled and the pod injection would produce there are created (server-side dry run, so that no
// ServiceAccount is needed and nothing stays), and the API server's verdict is compared with
// meshkeeper's (policy.PrivilegeOf and RejectedBy, which enrollment and the ingress-nginx controller's
// decision use).
var _ = Describe("The Pod Security judgement", func() {
	It("matches the API server's for every level, version and spec", func() {
		var failures []string
		labelSets := map[string]map[string]string{
			"no label":             {},
			"privileged":           {policy.LabelPodSecurityEnforce: "privileged"},
			"baseline":             {policy.LabelPodSecurityEnforce: "baseline"},
			"restricted":           {policy.LabelPodSecurityEnforce: "restricted"},
			"restricted at v1.24":  {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "v1.24"},
			"restricted at latest": {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "latest"},
			"restricted at v1.99":  {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "v1.99"},
			"restricted at v1.19":  {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "v1.19"},
			"restricted at v1.18":  {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "v1.18"},
			"restricted at v1.0":   {policy.LabelPodSecurityEnforce: "restricted", policy.LabelPodSecurityEnforceVersion: "v1.0"},
			"baseline at v1.18":    {policy.LabelPodSecurityEnforce: "baseline", policy.LabelPodSecurityEnforceVersion: "v1.18"},
			"baseline at v1.19":    {policy.LabelPodSecurityEnforce: "baseline", policy.LabelPodSecurityEnforceVersion: "v1.19"},
			"privileged at v1.18":  {policy.LabelPodSecurityEnforce: "privileged", policy.LabelPodSecurityEnforceVersion: "v1.18"},
			"a version alone":      {policy.LabelPodSecurityEnforceVersion: "v1.18"},
			"warn and audit only":  {"pod-security.kubernetes.io/warn": "restricted", "pod-security.kubernetes.io/audit": "restricted"},
		}
		specs := map[string]struct {
			cniOff bool
			values string
		}{
			"CNI":                                {},
			"no CNI":                             {cniOff: true},
			"CNI, Unconfined":                    {values: `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`},
			"CNI, capNetBindService":             {values: `{"global": {"proxy": {"capNetBindService": true}}}`},
			"no CNI, Unconfined":                 {cniOff: true, values: `{"global": {"proxy": {"seccompProfile": {"type": "Unconfined"}}}}`},
			"CNI, Unconfined, capNetBindService": {values: `{"global": {"proxy": {"capNetBindService": true, "seccompProfile": {"type": "Unconfined"}}}}`},
			"CNI, seccompProfile null":           {values: `{"global": {"proxy": {"seccompProfile": null}}}`},
			"no CNI, seccompProfile null":        {cniOff: true, values: `{"global": {"proxy": {"seccompProfile": null}}}`},
		}
		i := 0
		for labelsName, labels := range labelSets {
			i++
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("psa-judge-%d", i), Labels: labels}}
			Expect(k8sClient.Create(ctx, ns)).To(Succeed(), labelsName)
			for specName, s := range specs {
				name := labelsName + "/" + specName
				pod := psaInjectedPod(s.cniOff, s.values)
				pod.Namespace = ns.Name
				err := k8sClient.Create(ctx, pod, client.DryRunAll)
				admitted := err == nil
				Expect(err == nil || strings.Contains(err.Error(), "violates PodSecurity")).To(BeTrue(), "%s: %v", name, err)
				_, rejected, rejects := policy.PrivilegeOf(psaMeshSpec(s.cniOff, s.values)).RejectedBy(labels)
				switch {
				case rejects && !admitted:
					// What meshkeeper names is what the API server refuses.
					for what, refused := range map[string]string{"istio-init": "NET_ADMIN", "Unconfined": "seccompProfile", "runs as root": "runAsNonRoot", "no seccomp profile": "seccompProfile"} {
						if strings.Contains(rejected.What, what) && !strings.Contains(err.Error(), refused) {
							failures = append(failures, fmt.Sprintf("%s: meshkeeper names %s, but the API server does not refuse %s: %v", name, rejected.What, refused, err))
						}
					}
				case !rejects && admitted:
				case admitted:
					failures = append(failures, fmt.Sprintf("%s: the API server admits the injected pod, but meshkeeper judges that the level rejects %s", name, rejected.What))
				default:
					failures = append(failures, fmt.Sprintf("%s: the API server rejects the injected pod (%v), but meshkeeper judges that the level admits it", name, err))
				}
			}
		}
		Expect(failures).To(BeEmpty())
	})
})
