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
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The Warning about an ingress-nginx controller meshkeeper cannot configure names the workload and
// says what to change. Another workload that cannot be configured for the same reason is news to
// whoever reads the Events: it is recorded too, once, and the first is not recorded again meanwhile.
var _ = Describe("Warnings about the ingress-nginx controller", Ordered, func() {
	const (
		ns      = "cw-system"
		nginxNS = "cw-nginx"
	)
	meshSpec := func(controller string) string {
		return "  namespace: " + ns + "\n  ingressNginx:\n    enabled: true\n    serviceCIDRs: [10.96.0.0/12]\n" +
			"    controller: {namespace: " + nginxNS + ", name: " + controller + ", kind: Deployment}\n"
	}
	// notFound counts the ControllerNotFound Warnings on the current ServiceMesh that name the
	// Deployment, with the repeats of each series.
	notFound := func(name string) int {
		GinkgoHelper()
		uid := getMesh().UID
		n := 0
		for _, e := range listEvents() {
			if e.Regarding.Kind != "ServiceMesh" || e.Regarding.UID != uid || e.Reason != meshv1alpha1.ReasonControllerNotFound ||
				e.Type != corev1.EventTypeWarning || !strings.Contains(e.Note, "Deployment "+nginxNS+"/"+name+",") {
				continue
			}
			n++
			if e.Series != nil {
				n += int(e.Series.Count) - 1
			}
		}
		return n
	}

	BeforeAll(func() {
		deleteMesh()
		createNamespace(nginxNS, nil, nil)
		createMesh(meshSpec("first"))
		DeferCleanup(deleteMesh)
	})

	It("names the controller that does not exist", func() {
		Eventually(func() int { return notFound("first") }, installTimeout, poll).Should(Equal(1))
	})

	It("names another controller that does not exist once the spec points at it, and repeats neither", func() {
		patchSpec(`{"ingressNginx": {"controller": {"name": "second"}}}`)
		Eventually(func(g Gomega) {
			c := conditionOf(meshv1alpha1.ConditionIngressesConfigured)
			g.Expect(c.Reason).To(Equal(meshv1alpha1.ReasonControllerNotFound))
			g.Expect(c.Message).To(ContainSubstring("Deployment " + nginxNS + "/second,"))
		}, installTimeout, poll).Should(Succeed())
		Eventually(func() int { return notFound("second") }, 10*time.Second, poll).Should(Equal(1),
			"no Warning names the controller the spec now points at")
		Consistently(func() []int { return []int{notFound("first"), notFound("second")} }, 3*time.Second, poll).
			Should(Equal([]int{1, 1}))
	})
})
