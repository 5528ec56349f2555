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
	"regexp"
	"strconv"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// An admission policy that keeps the injection label of many namespaces blocks the uninstall on each of
// them. The UninstallBlocked Event must fit the events API's note limit and still say what to do, and
// how many objects refuse; the Ready condition says the same, then names as many as 16 KB hold, each
// with the API server's answer, and counts the others, in a message the API server takes (a status
// with a message over 32 KB is refused whole, and Ready would stay True).
var _ = Describe("An uninstall many namespaces refuse", Ordered, func() {
	const (
		ns      = "um-system"
		guarded = 60
		advice  = "remove the admission webhook or policy that refuses the change, or the labels and annotations yourself"
	)
	names := make([]string, guarded)
	for i := range names {
		names[i] = fmt.Sprintf("um-guarded-%d", i)
	}
	policy, binding := denial{
		name:          "um-keep-injection",
		operations:    []admissionregistrationv1.OperationType{admissionregistrationv1.Update},
		rule:          admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"namespaces"}},
		resourceNames: names,
		expression: `!has(oldObject.metadata.labels) || !('istio-injection' in oldObject.metadata.labels) || ` +
			`(has(object.metadata.labels) && 'istio-injection' in object.metadata.labels)`,
		message: "the injection label of this namespace is kept by the platform team's namespace policy, which owns enrollment " +
			"changes: open a request in the platform team's queue with the namespace, the team that owns it and the reason, " +
			"and the change is reviewed within two working days; namespaces with workloads that handle payment data also " +
			"need the security team's sign-off, and their enrollment is changed only inside the weekly change window",
	}.objects()

	BeforeAll(func() {
		deleteMesh()
		list := ""
		for _, name := range names {
			createNamespace(name, nil, nil)
			list += name + ", "
		}
		createMesh("  namespace: " + ns + "\n  injection:\n    namespaces: [" + list[:len(list)-2] + "]\n")
		Eventually(func(g Gomega) {
			for _, name := range names {
				g.Expect(namespaceLabels(name)).To(HaveKeyWithValue("istio-injection", "enabled"), "namespace %s", name)
			}
		}, installTimeout, poll).Should(Succeed())
		enforce(policy, binding, func() error {
			probe := &corev1.Namespace{}
			Expect(k8sClient.Get(ctx, client.ObjectKey{Name: names[0]}, probe)).To(Succeed())
			delete(probe.Labels, "istio-injection")
			return k8sClient.Update(ctx, probe, client.DryRunAll)
		})
	})
	AfterAll(func() {
		_ = k8sClient.Delete(ctx, binding)
		_ = k8sClient.Delete(ctx, policy)
		deleteMesh()
	})

	It("says what to do and how many refuse, in an Event the API server accepts", func() {
		mesh := getMesh()
		Expect(k8sClient.Delete(ctx, mesh)).To(Succeed())
		Eventually(func(g Gomega) {
			g.Expect(conditionOf(meshv1alpha1.ConditionReady).Reason).To(Equal(meshv1alpha1.ReasonUninstallBlocked))
		}, installTimeout, poll).Should(Succeed())
		ready := conditionOf(meshv1alpha1.ConditionReady)
		Expect(len(ready.Message)).To(BeNumerically("<=", 32768))
		Expect(ready.Message).To(ContainSubstring(fmt.Sprintf("%d objects", guarded)))
		Expect(ready.Message).To(ContainSubstring(advice))
		Expect(ready.Message).To(ContainSubstring("namespace " + names[0]))
		Expect(ready.Message).To(ContainSubstring("namespace " + names[1] + ":"))
		// The list ends with a count of the objects it leaves out; those it names and those it counts are
		// every object that refused.
		tail := regexp.MustCompile(`\nand (\d+) more$`).FindStringSubmatch(ready.Message)
		Expect(tail).NotTo(BeNil(), "the message does not count the objects it leaves out")
		left, err := strconv.Atoi(tail[1])
		Expect(err).NotTo(HaveOccurred())
		Expect(left).To(BeNumerically(">", 0))
		Expect(strings.Count(ready.Message, "\nnamespace um-guarded-") + left).To(Equal(guarded))
		var notes []string
		Eventually(func(g Gomega) {
			notes = nil
			for _, e := range listEvents() {
				if e.Regarding.UID == mesh.UID && e.Reason == meshv1alpha1.ReasonUninstallBlocked {
					notes = append(notes, e.Note)
				}
			}
			g.Expect(notes).NotTo(BeEmpty())
		}, installTimeout, poll).Should(Succeed())
		for _, note := range notes {
			Expect(len(note)).To(BeNumerically("<=", 1024))
			Expect(note).To(ContainSubstring(fmt.Sprintf("%d objects", guarded)), "the note does not say how many objects refuse")
			Expect(note).To(ContainSubstring(advice), "the note does not say what to do")
			Expect(note).To(ContainSubstring("namespace " + names[0]))
		}
	})
})
