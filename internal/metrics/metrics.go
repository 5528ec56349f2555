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

// Package metrics holds meshkeeper's own Prometheus metrics, served with controller-runtime's on the
// manager's metrics endpoint.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// HelmOperations counts the Helm operations meshkeeper ran, by release, action and result.
	HelmOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "meshkeeper_helm_operations_total",
		Help: "Helm operations meshkeeper ran, by release, action (install, upgrade, recover, repair, uninstall) and result (success, error).",
	}, []string{"release", "action", "result"})

	// ReconcileDuration measures meshkeeper's reconciles by controller.
	ReconcileDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "meshkeeper_reconcile_duration_seconds",
		Help:    "Duration of meshkeeper's reconciles, by controller.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
	}, []string{"controller"})

	// ControlPlaneReady is 1 while istiod is available, else 0.
	ControlPlaneReady = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meshkeeper_control_plane_ready",
		Help: "1 while the ServiceMesh's istiod Deployment is available, else 0.",
	})

	// EnrolledNamespaces is the number of namespaces carrying the injection label.
	EnrolledNamespaces = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meshkeeper_enrolled_namespaces",
		Help: "Namespaces the ServiceMesh selects that carry the injection label.",
	})

	// NamespaceConflicts is the number of selected namespaces that keep their own injection label.
	NamespaceConflicts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meshkeeper_namespace_conflicts",
		Help: "Namespaces the ServiceMesh selects that keep an injection label of their own and are not enrolled.",
	})

	// IngressesConfigured is the number of Ingresses routed through the mesh.
	IngressesConfigured = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "meshkeeper_ingresses_configured",
		Help: "Ingresses of enrolled namespaces that carry the mesh annotations.",
	})

	// IngressesSkipped is the number of mesh Ingresses left unchanged, by reason.
	IngressesSkipped = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshkeeper_ingresses_skipped",
		Help: "Ingresses of enrolled namespaces and served classes that meshkeeper cannot route through the mesh, by reason.",
	}, []string{"reason"})

	// Proxies counts the pods of enrolled namespaces by sidecar state.
	Proxies = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshkeeper_proxies",
		Help: "Pods of enrolled namespaces by sidecar state: current, without_sidecar, outdated.",
	}, []string{"state"})

	// ProxiesNeedingRestart counts, per namespace, the pods that need a restart; only namespaces with
	// such pods have a series.
	ProxiesNeedingRestart = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "meshkeeper_proxies_need_restart",
		Help: "Pods of an enrolled namespace without a sidecar or with an outdated one, by namespace (only namespaces that have any).",
	}, []string{"namespace"})
)

func init() {
	ctrlmetrics.Registry.MustRegister(HelmOperations, ReconcileDuration, ControlPlaneReady, EnrolledNamespaces, NamespaceConflicts,
		IngressesConfigured, IngressesSkipped, Proxies, ProxiesNeedingRestart)
}

// SetIngresses sets the Ingress gauges; a reason no longer seen loses its series.
func SetIngresses(configured int32, skippedByReason map[string]int32) {
	IngressesConfigured.Set(float64(configured))
	IngressesSkipped.Reset()
	for reason, n := range skippedByReason {
		IngressesSkipped.WithLabelValues(reason).Set(float64(n))
	}
}

// SetProxies sets the proxy gauges from the totals and the per-namespace count of pods needing a restart.
func SetProxies(total, withoutSidecar, outdated int32, perNamespace map[string]int) {
	Proxies.WithLabelValues("current").Set(float64(total - withoutSidecar - outdated))
	Proxies.WithLabelValues("without_sidecar").Set(float64(withoutSidecar))
	Proxies.WithLabelValues("outdated").Set(float64(outdated))
	ProxiesNeedingRestart.Reset()
	for ns, n := range perNamespace {
		ProxiesNeedingRestart.WithLabelValues(ns).Set(float64(n))
	}
}
