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

package monitoring

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/meshkeeper/meshkeeper/internal/metrics"
)

type dashboard struct {
	Title      string  `json:"title"`
	UID        string  `json:"uid"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID      int     `json:"id"`
	Type    string  `json:"type"`
	Title   string  `json:"title"`
	Panels  []panel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

func loadDashboard(t *testing.T) (*dashboard, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "config", "grafana", "meshkeeper.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &dashboard{}
	if err := json.Unmarshal(data, d); err != nil {
		t.Fatalf("config/grafana/meshkeeper.json: %v", err)
	}
	return d, data
}

// grafanaVariables stand for what Grafana substitutes before it sends a query to Prometheus.
var grafanaVariables = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h", "$job", "meshkeeper-metrics")

// labelValues is Grafana's variable query label_values(<selector>, <label>).
var labelValues = regexp.MustCompile(`^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\)$`)

// withoutPanel are the metrics of meshkeeper's that need no panel, each with the reason; the alerts must
// use them.
var withoutPanel = map[string]string{
	metrics.ServiceMeshPresentName: "the Conditions panel shows the same: a ServiceMesh's conditions have series exactly while it is 1",
	metrics.CNINodesName:           "only MeshkeeperMeshNotReady needs it, to tell a CNI rollout that moves; CNIReady's message and status.cni give the counts",
}

// TestDashboardReferencesKnownMetrics parses every panel query and variable query of the dashboard with
// the PromQL parser: each must parse and name only metrics meshkeeper exports or well-known ones, with
// labels they have.
func TestDashboardReferencesKnownMetrics(t *testing.T) {
	d, _ := loadDashboard(t)
	known := known(t)
	var all []panel
	for _, p := range d.Panels {
		all = append(all, p)
		all = append(all, p.Panels...)
	}
	queries, ids := 0, map[int]bool{}
	used := map[string]bool{}
	for _, p := range all {
		if ids[p.ID] {
			t.Errorf("panel id %d is used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type != "row" && len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, target := range p.Targets {
			queries++
			names, errs := checkExpr(grafanaVariables.Replace(target.Expr), known)
			for _, err := range errs {
				t.Errorf("panel %q, query %s: %v", p.Title, target.RefID, err)
			}
			if !strings.Contains(target.Expr, `job=~"$job"`) {
				t.Errorf("panel %q, query %s: %q must select the chosen jobs, job=~\"$job\"", p.Title, target.RefID, target.Expr)
			}
			for _, n := range names {
				used[n] = true
			}
		}
	}
	if queries < 10 {
		t.Errorf("the dashboard has only %d queries", queries)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q string
		switch query := v.Query.(type) {
		case string:
			q = query
		case map[string]any:
			q, _ = query["query"].(string)
		}
		m := labelValues.FindStringSubmatch(q)
		if m == nil {
			t.Errorf("variable %s: query %q is not label_values(<selector>, <label>)", v.Name, q)
			continue
		}
		if _, errs := checkExpr(m[1], known); len(errs) > 0 {
			t.Errorf("variable %s: %v", v.Name, errs)
		}
	}
	// Every metric of meshkeeper's has a panel, but those the alerts alone need.
	inRules := map[string]bool{}
	for _, r := range alertingRules(t) {
		names, _ := checkExpr(r.Expr, known)
		for _, n := range names {
			inRules[n] = true
		}
	}
	for name := range exported(t) {
		_, exempt := withoutPanel[name]
		switch {
		case !used[name] && !exempt:
			t.Errorf("no panel shows %s", name)
		case exempt && !inRules[name]:
			t.Errorf("%s has no panel because %s, but no alert uses it either", name, withoutPanel[name])
		}
	}
}

// TestDashboardInChart checks that the chart ships the same dashboard byte for byte.
func TestDashboardInChart(t *testing.T) {
	d, data := loadDashboard(t)
	if d.UID != "meshkeeper" || d.Title != "meshkeeper" {
		t.Errorf("uid %q, title %q: want meshkeeper, so an update replaces the dashboard", d.UID, d.Title)
	}
	inChart, err := os.ReadFile(filepath.Join(repoRoot(), "charts", "meshkeeper", "dashboards", "meshkeeper.json"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inChart, data) {
		t.Error("charts/meshkeeper/dashboards/meshkeeper.json differs from config/grafana/meshkeeper.json: copy it")
	}
	if !slices.ContainsFunc(d.Templating.List, func(v struct {
		Name  string `json:"name"`
		Type  string `json:"type"`
		Query any    `json:"query"`
	}) bool {
		return v.Type == "datasource"
	}) {
		t.Error("the dashboard has no data source variable; it would only work with a data source of one fixed uid")
	}
}
