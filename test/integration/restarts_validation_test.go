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
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

var _ = Describe("ServiceMesh validation of dataPlane.restarts", func() {
	AfterEach(deleteMesh)

	DescribeTable("rejects invalid restart settings",
		func(spec, message string) {
			err := k8sClient.Create(ctx, parse(meshYAML(spec)))
			Expect(err).To(HaveOccurred(), "the API server accepted invalid restart settings")
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), "want an Invalid error, got %v", err)
			Expect(err.Error()).To(ContainSubstring(message))
		},
		Entry("an unknown mode", "  dataPlane:\n    restarts:\n      mode: Always\n",
			`spec.dataPlane.restarts.mode: Unsupported value: "Always"`),
		Entry("no workload at a time", "  dataPlane:\n    restarts:\n      maxConcurrent: 0\n",
			"spec.dataPlane.restarts.maxConcurrent: Invalid value: 0"),
		Entry("no workload of a namespace at a time", "  dataPlane:\n    restarts:\n      maxConcurrentPerNamespace: 0\n",
			"spec.dataPlane.restarts.maxConcurrentPerNamespace: Invalid value: 0"),
		Entry("a day that is not a weekday abbreviation",
			"  dataPlane:\n    restarts:\n      window: {days: [Saturday], start: \"00:00\", end: \"04:00\"}\n",
			`spec.dataPlane.restarts.window.days[0]: Unsupported value: "Saturday"`),
		Entry("a start that is not HH:MM", "  dataPlane:\n    restarts:\n      window: {start: \"24:00\", end: \"04:00\"}\n",
			`spec.dataPlane.restarts.window.start: Invalid value: "24:00"`),
		Entry("an end without minutes", "  dataPlane:\n    restarts:\n      window: {start: \"00:00\", end: \"4\"}\n",
			`spec.dataPlane.restarts.window.end: Invalid value: "4"`),
		Entry("a window without an end", "  dataPlane:\n    restarts:\n      window: {start: \"00:00\"}\n",
			"spec.dataPlane.restarts.window.end: Required value"),
		Entry("a window that never opens", "  dataPlane:\n    restarts:\n      window: {start: \"03:00\", end: \"03:00\"}\n",
			"dataPlane.restarts.window.start and end must differ"),
		Entry("a day twice", "  dataPlane:\n    restarts:\n      window: {days: [Sat, Sat], start: \"00:00\", end: \"04:00\"}\n",
			"spec.dataPlane.restarts.window.days[1]: Duplicate value"),
	)

	It("defaults to report-only restarts with the documented limits", func() {
		Expect(k8sClient.Create(ctx, parse(meshYAML("  version: 1.31.1\n")))).To(Succeed())
		mesh := &meshv1alpha1.ServiceMesh{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh)).To(Succeed())
		Expect(mesh.Spec.DataPlane.Restarts).To(Equal(meshv1alpha1.RestartsSpec{
			Mode:                      meshv1alpha1.RestartManual,
			MaxConcurrent:             ptr.To[int32](5),
			MaxConcurrentPerNamespace: ptr.To[int32](1),
			RollbackOnFailure:         ptr.To(true),
		}))
	})

	It("accepts a window past midnight on chosen days", func() {
		Expect(k8sClient.Create(ctx, parse(meshYAML(
			"  dataPlane:\n    restarts:\n      mode: Automatic\n      window: {days: [Sat, Sun], start: \"22:00\", end: \"02:30\"}\n")))).To(Succeed())
	})
})
