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
//
// What controller-runtime already measures (reconcile counts, errors and durations per controller,
// work queues, API requests) is not measured again here. No metric has a label named "namespace":
// Prometheus Operator sets "namespace" to the namespace of the scraped Service, and a metric's own
// "namespace" label would be renamed to "exported_namespace" without honorLabels, or overwrite the
// target's with it. A metric about a namespace of the cluster calls it "target_namespace".
package metrics

import (
	"cmp"
	"maps"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Names of the metrics that meshkeeper exports, besides controller-runtime's.
const (
	BuildInfoName             = "meshkeeper_build_info"
	IstioInfoName             = "meshkeeper_istio_info"
	ConditionName             = "meshkeeper_condition"
	HelmOperationsName        = "meshkeeper_helm_operations_total"
	ControlPlaneReadyName     = "meshkeeper_control_plane_ready"
	EnrolledNamespacesName    = "meshkeeper_enrolled_namespaces"
	NamespaceConflictsName    = "meshkeeper_namespace_conflicts"
	IngressesConfiguredName   = "meshkeeper_ingresses_configured"
	IngressesSkippedName      = "meshkeeper_ingresses_skipped"
	ProxiesName               = "meshkeeper_proxies"
	ProxiesNeedingRestartName = "meshkeeper_proxies_need_restart"
	RestartsTotalName         = "meshkeeper_restarts_total"
	RestartsPendingName       = "meshkeeper_restarts_pending"
	ServiceMeshPresentName    = "meshkeeper_servicemesh_present"
	CNINodesName              = "meshkeeper_cni_nodes"
)

// NeedRestartNamespaces is how many namespaces meshkeeper_proxies_need_restart names at most, those with
// the most pods needing a restart; the pods of the others count under OtherNamespaces. A series per
// namespace would grow with the cluster: after an Istio upgrade with Manual restarts every enrolled
// namespace has pods to restart, for as long as their owners take, on clusters of thousands of them.
const NeedRestartNamespaces = 100

// OtherNamespaces is the target_namespace under which meshkeeper_proxies_need_restart counts the pods of
// the namespaces beyond the NeedRestartNamespaces it names. No namespace is called so: a namespace's name
// is a DNS label, without "_".
const OtherNamespaces = "_other"

// version is the release of meshkeeper, set at link time with
// -ldflags "-X github.com/meshkeeper/meshkeeper/internal/metrics.version=0.1.0". Without it, the
// module version Go recorded in the binary is used.
var version = ""

var (
	// HelmOperations counts the Helm operations meshkeeper ran, by release, action and result.
	HelmOperations = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: HelmOperationsName,
		Help: "Helm operations meshkeeper ran, by release, action (installed, upgraded, recovered, repaired, uninstalled; none for a failure before the release could be read) and result (success, error).",
	}, []string{"release", "action", "result"})

	// ControlPlaneReady is 1 while istiod is available, else 0.
	ControlPlaneReady = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: ControlPlaneReadyName,
		Help: "1 while the ServiceMesh's istiod Deployment is available, else 0.",
	})

	// EnrolledNamespaces is the number of namespaces carrying the injection label.
	EnrolledNamespaces = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: EnrolledNamespacesName,
		Help: "Namespaces the ServiceMesh selects that carry the injection label.",
	})

	// NamespaceConflicts is the number of selected namespaces that keep their own injection label.
	NamespaceConflicts = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: NamespaceConflictsName,
		Help: "Namespaces the ServiceMesh selects that keep an injection label of their own and are not enrolled.",
	})

	// IngressesConfigured is the number of Ingresses routed through the mesh.
	IngressesConfigured = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: IngressesConfiguredName,
		Help: "Ingresses of enrolled namespaces that carry the mesh annotations.",
	})

	// IngressesSkipped is the number of mesh Ingresses left unchanged, by reason.
	IngressesSkipped = newMapGauge(prometheus.GaugeOpts{
		Name: IngressesSkippedName,
		Help: "Ingresses of enrolled namespaces and served classes that meshkeeper cannot route through the mesh, by reason.",
	}, "reason")

	// Proxies counts the pods of enrolled namespaces by sidecar state.
	Proxies = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: ProxiesName,
		Help: "Pods of enrolled namespaces by sidecar state: current, without_sidecar, outdated.",
	}, []string{"state"})

	// ProxiesNeedingRestart counts, per namespace, the pods that need a restart; only namespaces with
	// such pods have a series, and at most NeedRestartNamespaces of them.
	ProxiesNeedingRestart = newMapGauge(prometheus.GaugeOpts{
		Name: ProxiesNeedingRestartName,
		Help: "Pods of an enrolled namespace without a sidecar or with an outdated one, by target_namespace (only namespaces that have any): the " +
			strconv.Itoa(NeedRestartNamespaces) + " with the most, and those of the others together as target_namespace " + strconv.Quote(OtherNamespaces) + ".",
	}, "target_namespace")

	// RestartsTotal counts the workload restarts meshkeeper started and how they ended.
	RestartsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: RestartsTotalName,
		Help: "Workload restarts of spec.dataPlane.restarts, by result: started, succeeded (rolled out), stalled (no progress for its deadline before it rolled out), rolled_back (not rolled out onto a canary revision, which was rolled back), error (the write failed).",
	}, []string{"result"})

	// RestartsPending is the number of workloads waiting for meshkeeper to restart them.
	RestartsPending = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: RestartsPendingName,
		Help: "Workloads whose pods need a new sidecar and that meshkeeper will restart (spec.dataPlane.restarts.mode Automatic) once the window, the limits and their rollout allow.",
	})

	// cniNodes has a series only while the mesh runs the CNI agent. MeshkeeperMeshNotReady tells by the
	// changes of the ready count a rollout of the agent that moves from one that is stuck: a DaemonSet
	// has no progress deadline, and one that replaces a pod at a time takes an hour on a large cluster.
	cniNodes = newMapGauge(prometheus.GaugeOpts{
		Name: CNINodesName,
		Help: "Nodes of the CNI agent by state (status.cni): desired (that should run it), ready (running its current version ready and available); no series while the mesh runs without it.",
	}, "state")

	buildInfo = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: BuildInfoName,
		Help: "Always 1; the labels say which meshkeeper runs: version and the Go version it was built with.",
	}, []string{"version", "goversion"})

	istioInfo = newSnapshotGauge(prometheus.NewDesc(IstioInfoName,
		"1 for the Istio revision and version of the control plane meshkeeper manages; no series before one is installed.",
		[]string{"revision", "version"}, nil))

	conditions = newSnapshotGauge(prometheus.NewDesc(ConditionName,
		"1 for each condition of the ServiceMesh, with its type, status and reason: exactly one series per condition type.",
		[]string{"type", "status", "reason"}, nil))

	// serviceMeshPresent has no series until the replica first reports a ServiceMesh: a replica just
	// started, or a standby, says nothing either way. The alerts tell by it a ServiceMesh that is gone
	// (0) from one whose meshkeeper pod was replaced and has not reported yet (no series), whose last
	// conditions they carry over for a few minutes.
	serviceMeshPresent = newSnapshotGauge(prometheus.NewDesc(ServiceMeshPresentName,
		"1 while meshkeeper reconciles a ServiceMesh and exports its conditions, 0 once the ServiceMesh is gone (uninstalled, or its finalizer removed); no series before this replica first reconciled one.",
		nil, nil))
)

// Collectors are meshkeeper's own metrics, registered with controller-runtime's registry.
var Collectors = []prometheus.Collector{buildInfo, istioInfo, conditions, serviceMeshPresent, HelmOperations, ControlPlaneReady,
	EnrolledNamespaces, NamespaceConflicts, IngressesConfigured, IngressesSkipped, Proxies, ProxiesNeedingRestart, RestartsTotal, RestartsPending,
	cniNodes}

func init() {
	buildInfo.WithLabelValues(Version(), runtime.Version()).Set(1)
	ctrlmetrics.Registry.MustRegister(Collectors...)
}

// Version is meshkeeper's version: the one set at link time, else the main module's version Go
// recorded, else "unknown".
func Version() string {
	if version != "" {
		return version
	}
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" && info.Main.Version != "(devel)" {
		return info.Main.Version
	}
	return "unknown"
}

// SetConditions replaces meshkeeper_condition with one series per condition type, labelled with the
// condition's status and reason. A scrape sees either the old set or the new one, never a gap, so an
// alert's "for" does not restart when a reconcile writes the same conditions again.
//
// The conditions are those of the ServiceMesh the replica reconciles; none (nil) says that the
// ServiceMesh is gone. meshkeeper_servicemesh_present follows: 1 with conditions, 0 without. It is set
// after the conditions: a scrape between the two must not see a replica that starts reporting (its
// first reconcile) as reporting the ServiceMesh without its conditions, which would end its alerts.
func SetConditions(cs []metav1.Condition) {
	series := make([][]string, 0, len(cs))
	for _, c := range cs {
		series = append(series, []string{c.Type, string(c.Status), c.Reason})
	}
	conditions.setOnes(series)
	present := 0.0
	if len(cs) > 0 {
		present = 1
	}
	serviceMeshPresent.set([]sample{{value: present}})
}

// SetIstio sets meshkeeper_istio_info to the revision and version of the control plane; an empty
// version (nothing installed) removes the series.
func SetIstio(revision, version string) {
	if version == "" {
		istioInfo.setOnes(nil)
		return
	}
	istioInfo.setOnes([][]string{{revision, version}})
}

// SetCNINodes sets meshkeeper_cni_nodes to the desired and ready node counts of the CNI agent; running
// false (the mesh runs without the agent, or no ServiceMesh) removes its series.
func SetCNINodes(running bool, desired, ready int32) {
	if !running {
		cniNodes.set(nil)
		return
	}
	cniNodes.set([]sample{{labels: []string{"desired"}, value: float64(desired)}, {labels: []string{"ready"}, value: float64(ready)}})
}

// SetIngresses sets the Ingress gauges; a reason no longer seen loses its series.
func SetIngresses(configured int32, skippedByReason map[string]int32) {
	IngressesConfigured.Set(float64(configured))
	values := make(map[string]float64, len(skippedByReason))
	for reason, n := range skippedByReason {
		values[reason] = float64(n)
	}
	IngressesSkipped.setByLabel(values)
}

// SetProxies sets the proxy gauges from the totals and the per-namespace count of pods needing a restart.
// Only the NeedRestartNamespaces namespaces with the most pods (ties by name, so that the same counts
// give the same series) keep a series each; the others count together under OtherNamespaces, so that
// the series still add up to the pods needing a restart.
func SetProxies(total, withoutSidecar, outdated int32, perNamespace map[string]int) {
	Proxies.WithLabelValues("current").Set(float64(total - withoutSidecar - outdated))
	Proxies.WithLabelValues("without_sidecar").Set(float64(withoutSidecar))
	Proxies.WithLabelValues("outdated").Set(float64(outdated))
	namespaces := slices.SortedFunc(maps.Keys(perNamespace), func(a, b string) int {
		return cmp.Or(cmp.Compare(perNamespace[b], perNamespace[a]), cmp.Compare(a, b))
	})
	values := make(map[string]float64, min(len(namespaces), NeedRestartNamespaces+1))
	for i, ns := range namespaces {
		if i < NeedRestartNamespaces {
			values[ns] = float64(perNamespace[ns])
		} else {
			values[OtherNamespaces] += float64(perNamespace[ns])
		}
	}
	ProxiesNeedingRestart.setByLabel(values)
}

// snapshotGauge exports a set of series that is replaced as a whole: a series no longer present
// disappears, and a scrape sees either the old set or the new one, never a set half replaced.
type snapshotGauge struct {
	desc    *prometheus.Desc
	mu      sync.Mutex
	samples []sample
}

// sample is one series of a snapshotGauge: its label values and its value.
type sample struct {
	labels []string
	value  float64
}

func newSnapshotGauge(desc *prometheus.Desc) *snapshotGauge {
	return &snapshotGauge{desc: desc}
}

// newMapGauge returns a snapshotGauge with one label, set with setByLabel.
func newMapGauge(opts prometheus.GaugeOpts, label string) *snapshotGauge {
	return newSnapshotGauge(prometheus.NewDesc(opts.Name, opts.Help, []string{label}, nil))
}

func (g *snapshotGauge) set(samples []sample) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.samples = samples
}

// setOnes replaces the set with one series of value 1 per set of label values, as info metrics are.
func (g *snapshotGauge) setOnes(series [][]string) {
	samples := make([]sample, 0, len(series))
	for _, labels := range series {
		samples = append(samples, sample{labels: labels, value: 1})
	}
	g.set(samples)
}

// setByLabel replaces the set of a one-label gauge with one series per label value.
func (g *snapshotGauge) setByLabel(values map[string]float64) {
	samples := make([]sample, 0, len(values))
	for label, v := range values {
		samples = append(samples, sample{labels: []string{label}, value: v})
	}
	g.set(samples)
}

func (g *snapshotGauge) Describe(ch chan<- *prometheus.Desc) { ch <- g.desc }

func (g *snapshotGauge) Collect(ch chan<- prometheus.Metric) {
	g.mu.Lock()
	samples := g.samples
	g.mu.Unlock()
	for _, s := range samples {
		ch <- prometheus.MustNewConstMetric(g.desc, prometheus.GaugeValue, s.value, s.labels...)
	}
}
