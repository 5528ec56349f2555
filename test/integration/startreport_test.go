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
	"context"
	"io"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// A manager that starts while there is no ServiceMesh (deleted while no replica ran, its finalizer
// removed by hand) reports it gone, meshkeeper_servicemesh_present 0, as soon as it runs: that ends the
// alerts that carry the last report of a ServiceMesh over a replaced pod, MeshkeeperNotReporting among
// them, rather than leaving them to fire for a day.
var _ = Describe("A manager started without a ServiceMesh", func() {
	It("reports the ServiceMesh gone", func() {
		mesh, err := meshctx.Get(ctx, k8sClient)
		Expect(err).NotTo(HaveOccurred())
		Expect(mesh).To(BeNil())
		// What a replica of this process reported before: the ServiceMesh there, Ready.
		metrics.SetConditions([]metav1.Condition{{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: "Succeeded"}})
		Expect(servicemeshPresent()).To(HaveValue(Equal(1.0)))

		managerCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		Expect(testenv.StartManager(managerCtx, env.Config, io.Discard)).To(Succeed())
		Eventually(servicemeshPresent, "30s", "100ms").Should(HaveValue(Equal(0.0)))
	})
})

// servicemeshPresent is the value of meshkeeper_servicemesh_present in the manager's registry; nil
// without a series.
func servicemeshPresent() (*float64, error) {
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		return nil, err
	}
	for _, family := range families {
		if family.GetName() == metrics.ServiceMeshPresentName && len(family.GetMetric()) > 0 {
			v := family.GetMetric()[0].GetGauge().GetValue()
			return &v, nil
		}
	}
	return nil, nil
}
