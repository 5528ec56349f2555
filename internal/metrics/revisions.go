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

package metrics

import (
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// RevisionProxiesName is the metric of the revisions of a RevisionBased control plane.
const RevisionProxiesName = "meshkeeper_revision_proxies"

var revisionProxies = newSnapshotGauge(prometheus.NewDesc(RevisionProxiesName,
	"Pods whose sidecar each installed revision injected, labelled with the revision, its Istio version, its state "+
		"(Active, Canary, Draining) and whether its istiod is ready; no series with the InPlace strategy.",
	[]string{"revision", "version", "state", "ready"}, nil))

// RevisionsPruneBlockedName is the name of RevisionsPruneBlocked.
const RevisionsPruneBlockedName = "meshkeeper_revisions_prune_blocked"

// RevisionsPruneBlocked counts the revisions meshkeeper keeps past their grace period because a webhook
// configuration it does not own sends requests to their istiod, or a workload's pod template names them
// with istio.io/rev. The Warning Event RevisionPruneBlocked says so once, when it starts; an alert needs
// a series that lasts as long as the revision is kept. The revisions, webhooks and workloads are named
// in the Event, not in labels: a count has one series.
var RevisionsPruneBlocked = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: RevisionsPruneBlockedName,
	Help: "Unused revisions whose grace period is over that meshkeeper keeps because a webhook configuration it does not own " +
		"(a revision tag made with istioctl tag set) sends requests to their istiod, or a workload's pod template names them with istio.io/rev; " +
		"the Warning Event RevisionPruneBlocked names the webhooks and workloads.",
})

func init() {
	Collectors = append(Collectors, revisionProxies, RevisionsPruneBlocked)
	ctrlmetrics.Registry.MustRegister(revisionProxies, RevisionsPruneBlocked)
}

// Revision is one installed revision, as the metric reports it.
type Revision struct {
	Name, Version, State string
	Ready                bool
	Proxies              int32
}

// SetRevisions replaces the revision series; none removes them all.
func SetRevisions(revisions []Revision) {
	samples := make([]sample, 0, len(revisions))
	for _, r := range revisions {
		samples = append(samples, sample{labels: []string{r.Name, r.Version, r.State, strconv.FormatBool(r.Ready)}, value: float64(r.Proxies)})
	}
	revisionProxies.set(samples)
}
