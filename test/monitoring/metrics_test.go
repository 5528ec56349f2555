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

// Package monitoring checks meshkeeper's alerting rules (config/prometheus, charts/meshkeeper/files)
// and its Grafana dashboard (config/grafana) with Prometheus's own rule file parser, PromQL parser and
// rule evaluation: every expression parses, names only metrics and labels that exist, and every alert
// fires when it should and not when it should not.
package monitoring

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

// repoRoot is the operator's repository, two levels above this module's directory (the working
// directory of its tests), found without source paths so -trimpath builds work too.
func repoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(err)
	}
	return filepath.Join(dir, "..", "..")
}

// targetLabels are the labels Prometheus (with prometheus-operator's ServiceMonitor) puts on every
// series of a scraped target.
var targetLabels = []string{"job", "instance", "namespace", "service", "pod", "container", "endpoint"}

// wellKnown are the metrics of other components that rules and panels may use, with their labels:
// controller-runtime's per-controller metrics, which every meshkeeper manager serves (controller-runtime
// v0.25: pkg/internal/controller/metrics and pkg/internal/metrics/workqueue.go).
var wellKnown = map[string][]string{
	"controller_runtime_reconcile_total":               {"controller", "result"},
	"controller_runtime_reconcile_errors_total":        {"controller"},
	"controller_runtime_reconcile_time_seconds_bucket": {"controller", "le"},
	"workqueue_depth":                         {"name", "controller", "priority"},
	"workqueue_queue_duration_seconds_bucket": {"name", "controller", "le"},
}

// exported scrapes meshkeeper's own metrics from the registry the manager serves, after giving each a
// series, and returns each metric's labels.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	metrics.SetConditions([]metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Succeeded"}})
	metrics.SetIstio("default", "1.31.1")
	metrics.HelmOperations.WithLabelValues("istiod", "installed", "success").Inc()
	metrics.SetIngresses(1, map[string]int32{"ServiceMissing": 1})
	metrics.SetProxies(3, 1, 1, map[string]int{"shop": 2})
	metrics.SetRevisions([]metrics.Revision{{Name: "1-31-1", Version: "1.31.1", State: "Active", Ready: true, Proxies: 3}})
	metrics.RestartsTotal.WithLabelValues("started").Inc()
	metrics.SetCNINodes(true, 3, 2)
	families, err := ctrlmetrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, f := range families {
		if !strings.HasPrefix(f.GetName(), "meshkeeper_") {
			continue
		}
		var ls []string
		for _, l := range f.Metric[0].GetLabel() {
			ls = append(ls, l.GetName())
		}
		out[f.GetName()] = ls
	}
	if len(out) != len(metrics.Collectors) {
		t.Fatalf("scraped %d meshkeeper metrics %v, want %d", len(out), slices.Sorted(maps.Keys(out)), len(metrics.Collectors))
	}
	return out
}

// known is every metric an expression may name, with the labels it may match on.
func known(t *testing.T) map[string][]string {
	k := exported(t)
	maps.Copy(k, wellKnown)
	for name, ls := range k {
		k[name] = append(slices.Clone(ls), targetLabels...)
	}
	return k
}

var promql = parser.NewParser(parser.Options{})

// checkExpr parses expr and reports every metric it selects that is not known, and every label matcher
// on a label the metric does not have. It returns the metrics selected.
func checkExpr(expr string, known map[string][]string) ([]string, []error) {
	node, err := promql.ParseExpr(expr)
	if err != nil {
		return nil, []error{fmt.Errorf("%q does not parse: %w", expr, err)}
	}
	var names []string
	var errs []error
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		if name == "" {
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
		}
		allowed, ok := known[name]
		if !ok {
			errs = append(errs, fmt.Errorf("%q selects %q, which meshkeeper does not export and which is not a well-known metric", expr, vs.String()))
			return nil
		}
		names = append(names, name)
		for _, m := range vs.LabelMatchers {
			if m.Name != labels.MetricName && !slices.Contains(allowed, m.Name) {
				errs = append(errs, fmt.Errorf("%q matches on the label %q, which %s does not have (it has %v)", expr, m.Name, name, allowed))
			}
		}
		return nil
	})
	return names, errs
}
