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
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshkeeper/meshkeeper/controllers"
)

// meshkeeper's Events are paced by a client of their own (controllers.EventQPS, EventBurst), whatever
// the manager's client limits: with those lifted, a burst of Events (enrolling 1,000 namespaces records
// 1,000) would otherwise take the API server's time from the writes that converge the mesh. None is
// lost to the pacing.
var _ = Describe("meshkeeper's Events", func() {
	It("are recorded at the Events' own pace with the manager's client limits lifted, and none is lost", func() {
		const namespace, reason, count = "event-pacing", "PacingChecked", 3 * controllers.EventBurst
		Expect(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}})).To(Succeed())

		config := rest.CopyConfig(env.Config)
		config.QPS = -1 // --kube-api-qps=-1
		mgr, err := ctrl.NewManager(config, ctrl.Options{Scheme: env.Scheme,
			Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
		Expect(err).NotTo(HaveOccurred())
		recorder, err := controllers.NewEventRecorder(mgr)
		Expect(err).NotTo(HaveOccurred())
		managerCtx, stop := context.WithCancel(ctx)
		DeferCleanup(stop)
		go func() {
			defer GinkgoRecover()
			Expect(mgr.Start(managerCtx)).To(Succeed())
		}()

		start := time.Now()
		for i := range count {
			regarding := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: fmt.Sprintf("cm-%d", i)}}
			recorder.Eventf(regarding, nil, corev1.EventTypeNormal, reason, "Check", "event %d", i)
		}
		recorded := func() int {
			list := &eventsv1.EventList{}
			Expect(k8sClient.List(ctx, list, client.InNamespace(namespace))).To(Succeed())
			n := 0
			for _, e := range list.Items {
				if e.Reason == reason && e.ReportingController == "meshkeeper" {
					n++
				}
			}
			return n
		}
		Eventually(recorded).WithTimeout(time.Minute).WithPolling(100 * time.Millisecond).Should(Equal(count))
		// Unpaced, the API server takes these creates in well under a second. Paced, the burst goes at
		// once and the rest at EventQPS a second: a slower machine only takes longer.
		paced := time.Duration(float64(count-controllers.EventBurst) / controllers.EventQPS * float64(time.Second))
		Expect(time.Since(start)).To(BeNumerically(">=", paced*8/10),
			"%d Events were recorded faster than %d a second after a burst of %d", count, controllers.EventQPS, controllers.EventBurst)
	})
})
