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
	"context"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/promql/promqltest"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
	"sigs.k8s.io/yaml"
)

// loadRules parses the rule groups of config/prometheus/prometheusrule.yaml with Prometheus's own rule
// file parser, which also parses every expression and annotation template.
func loadRules(t *testing.T) *rulefmt.RuleGroups {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(), "config", "prometheus", "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var object struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(data, &object, yaml.DisallowUnknownFields); err != nil {
		t.Fatal(err)
	}
	if object.APIVersion != "monitoring.coreos.com/v1" || object.Kind != "PrometheusRule" {
		t.Fatalf("config/prometheus/prometheusrule.yaml is a %s %s", object.APIVersion, object.Kind)
	}
	spec, err := yaml.Marshal(object.Spec)
	if err != nil {
		t.Fatal(err)
	}
	return parseGroups(t, spec)
}

func parseGroups(t *testing.T, content []byte) *rulefmt.RuleGroups {
	t.Helper()
	groups, errs := rulefmt.Parse(content, false, model.UTF8Validation, promql, slog.New(slog.DiscardHandler))
	for _, err := range errs {
		t.Error(err)
	}
	if len(errs) > 0 {
		t.FailNow()
	}
	return groups
}

func alertingRules(t *testing.T) map[string]rulefmt.Rule {
	t.Helper()
	out := map[string]rulefmt.Rule{}
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				t.Errorf("group %s has a recording rule %s; the tests here cover alerts only", g.Name, r.Record)
				continue
			}
			if _, dup := out[r.Alert]; dup {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			out[r.Alert] = r
		}
	}
	return out
}

// TestChartRulesMatchConfig checks that the chart's rule file holds the same groups as the PrometheusRule
// of config/prometheus (test/chart checks that the chart renders them unchanged).
func TestChartRulesMatchConfig(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot(), "charts", "meshkeeper", "files", "prometheus-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	inChart, err := yaml.Marshal(parseGroups(t, data))
	if err != nil {
		t.Fatal(err)
	}
	inConfig, err := yaml.Marshal(loadRules(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(inChart, inConfig) {
		t.Errorf("charts/meshkeeper/files/prometheus-rules.yaml and config/prometheus/prometheusrule.yaml differ:\n%s\n---\n%s", inChart, inConfig)
	}
}

// TestRulesReferenceKnownMetrics checks that every expression names only metrics meshkeeper exports or
// well-known ones, and matches only on labels they have.
func TestRulesReferenceKnownMetrics(t *testing.T) {
	known := known(t)
	for name, r := range alertingRules(t) {
		names, errs := checkExpr(r.Expr, known)
		for _, err := range errs {
			t.Errorf("%s: %v", name, err)
		}
		if !slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "meshkeeper_") }) {
			t.Errorf("%s: %q must select a meshkeeper metric, or it could fire for another operator's series", name, r.Expr)
		}
	}
}

// headingAnchors returns the anchors GitHub gives the headings of a Markdown file.
func headingAnchors(t *testing.T, file string) []string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var anchors []string
	drop := regexp.MustCompile(`[^a-z0-9 _-]`)
	for line := range strings.SplitSeq(string(data), "\n") {
		if !strings.HasPrefix(line, "#") {
			continue
		}
		heading := strings.TrimSpace(strings.TrimLeft(line, "#"))
		anchors = append(anchors, strings.ReplaceAll(drop.ReplaceAllString(strings.ToLower(heading), ""), " ", "-"))
	}
	return anchors
}

// TestAlertsDocumented checks what on-call needs from every alert: a severity, a summary and a
// description, and a runbook_url that points at an existing section of docs/troubleshooting.md.
func TestAlertsDocumented(t *testing.T) {
	anchors := headingAnchors(t, filepath.Join(repoRoot(), "docs", "troubleshooting.md"))
	const base = "https://github.com/meshkeeper/meshkeeper/blob/main/docs/troubleshooting.md#"
	for name, r := range alertingRules(t) {
		if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
			t.Errorf("%s: severity %q, want critical, warning or info", name, r.Labels["severity"])
		}
		if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
			t.Errorf("%s needs a summary and a description", name)
		}
		url := r.Annotations["runbook_url"]
		anchor, ok := strings.CutPrefix(url, base)
		if !ok || !slices.Contains(anchors, anchor) {
			t.Errorf("%s: runbook_url %q is not a section of docs/troubleshooting.md", name, url)
		}
		if anchor != strings.ToLower(name) {
			t.Errorf("%s: runbook_url %q, want the section named after the alert", name, url)
		}
	}
}

// series on one scraped meshkeeper (job and instance as prometheus-operator sets them), and on another
// operator built with controller-runtime in the same Prometheus.
const (
	meshkeeper   = `job="meshkeeper-metrics", instance="10.0.0.1:8443", namespace="meshkeeper-system"`
	otherManager = `job="other-operator", instance="10.0.0.2:8443", namespace="other-system"`
)

// series of one meshkeeper before and after its pod was replaced (an upgrade, a drain, a leader
// failover): the same job and namespace, another pod and instance.
const (
	oldPod = `job="meshkeeper-metrics", instance="10.0.0.1:8443", pod="meshkeeper-5f7d8b9c4-2xkqp", namespace="meshkeeper-system"`
	newPod = `job="meshkeeper-metrics", instance="10.0.0.9:8443", pod="meshkeeper-5f7d8b9c4-w8r6n", namespace="meshkeeper-system"`
)

// present is the line of a load that gives meshkeeper_servicemesh_present of target the samples values:
// 1 while meshkeeper reconciles the ServiceMesh, 0 once it is gone (deleted, or its finalizer removed).
// A replica has no series before its first reconcile.
func present(target, values string) string {
	return "\n" + `meshkeeper_servicemesh_present{` + target + `} ` + values
}

// alertCase loads series (promqltest's "load" syntax) and checks which alerts of the rule fire when.
type alertCase struct {
	load string
	// firing maps an evaluation time (since the start of the series) to the label sets, as
	// "name=value" pairs, of the alerts that must fire then; a time with no entry must have none firing.
	firing map[time.Duration][][]string
	// description is a fragment the expanded description of each firing alert must contain.
	description string
	// step is the interval between the samples of load; by default a minute (two minutes for the long
	// series of "1600" samples).
	step time.Duration
}

// chartNotFound is a typo in spec.version: no chart to upgrade to, so meshkeeper changes nothing and the
// running istiod keeps serving; Ready copies ControlPlaneReady's reason.
const chartNotFound = `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="ChartNotFound", ` + meshkeeper + `} 1x40
	meshkeeper_condition{type="Ready", status="False", reason="ChartNotFound", ` + meshkeeper + `} 1x40`

// istiodNotServing are the reasons of ControlPlaneReady (api/v1alpha1: conditions.go, revision_types.go)
// that say istiod itself is not serving, which page (MeshkeeperIstiodUnavailable): its Deployment is
// missing or not available, or its namespace is being deleted. phaseFailures are all the others: failures
// of the control-plane phase before any Helm action, which leave the running istiod as it is, and failed
// Helm actions (InstallFailed), which do not take it away (controllers/servicemesh: setControlPlaneReady
// then reports the failure, followed by what the istiod that serves the mesh is doing). They page only
// while that istiod is not available (meshkeeper_control_plane_ready 0, which then follows it); the
// warning reports them all.
var (
	istiodNotServing = []string{"DeploymentMissing", "RollingOut", "ProgressDeadlineExceeded", "NamespaceTerminating"}
	phaseFailures    = []string{"ChartNotFound", "ChartRepositoryUnreachable", "RepositoryNotAllowed", "ImageHubNotAllowed",
		"NamespaceNotAllowed", "UpgradeNotSupported", "InvalidSpec", "InstallFailed"}
)

// controlPlaneReady is the line of a load that gives meshkeeper_control_plane_ready of target the samples
// values: whether the istiod that ControlPlaneReady is about, or while the control-plane phase fails the
// one that serves the mesh, is available. A standby replica reports 0.
func controlPlaneReady(target, values string) string {
	return "\n" + `meshkeeper_control_plane_ready{` + target + `} ` + values
}

// init adds the cases of every ControlPlaneReady reason: the critical alert fires for those where
// istiod is not serving, and for the failures of the control-plane phase only while the running istiod
// is not available; the warning covers them all.
func init() {
	for _, reason := range istiodNotServing {
		alertCases["MeshkeeperIstiodUnavailable"]["fires on "+reason] = alertCase{
			load:        `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="` + reason + `", ` + meshkeeper + `} 1x40`,
			firing:      map[time.Duration][][]string{9 * time.Minute: nil, 11 * time.Minute: {{"severity=critical"}}},
			description: "ControlPlaneReady reason " + reason,
		}
	}
	for _, reason := range phaseFailures {
		condition := `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="` + reason + `", ` + meshkeeper + `} 1x40`
		alertCases["MeshkeeperIstiodUnavailable"]["stays silent on "+reason] = alertCase{
			load:   condition,
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 30 * time.Minute: nil},
		}
		alertCases["MeshkeeperIstiodUnavailable"]["stays silent on "+reason+" while the running istiod is available"] = alertCase{
			load:   condition + controlPlaneReady(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 30 * time.Minute: nil},
		}
		alertCases["MeshkeeperIstiodUnavailable"]["fires on "+reason+" while the running istiod is not available"] = alertCase{
			load:        condition + controlPlaneReady(meshkeeper, "0x40"),
			firing:      map[time.Duration][][]string{9 * time.Minute: nil, 11 * time.Minute: {{"type=ControlPlaneReady", "reason=", "severity=critical"}}},
			description: "ControlPlaneReady reason " + reason,
		}
	}
	for _, reason := range append(slices.Clone(istiodNotServing), phaseFailures...) {
		// Ready is False whenever ControlPlaneReady is, with its reason when it is the first condition not True.
		alertCases["MeshkeeperMeshNotReady"]["fires on ControlPlaneReady "+reason] = alertCase{
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="` + reason + `", ` + meshkeeper + `} 1x40
			       meshkeeper_condition{type="Ready", status="False", reason="` + reason + `", ` + meshkeeper + `} 1x40`,
			firing:      map[time.Duration][][]string{14 * time.Minute: nil, 16 * time.Minute: {{"severity=warning"}}},
			description: "reason " + reason,
		}
	}
}

// TestIstiodAlertReasons checks that MeshkeeperIstiodUnavailable selects exactly the reasons of
// istiodNotServing and phaseFailures (these only with meshkeeper_control_plane_ready, which the cases
// check), and that what ends the carried-over istiodNotServing is exactly every other reason.
func TestIstiodAlertReasons(t *testing.T) {
	r, ok := alertingRules(t)["MeshkeeperIstiodUnavailable"]
	if !ok {
		t.Fatal("the rules have no alert MeshkeeperIstiodUnavailable")
	}
	expr, err := promql.ParseExpr(r.Expr)
	if err != nil {
		t.Fatal(err)
	}
	selected, excluded := map[string]bool{}, map[string]bool{}
	parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		for _, m := range vs.LabelMatchers {
			if m.Name != "reason" {
				continue
			}
			into := selected
			if m.Type == labels.MatchNotEqual || m.Type == labels.MatchNotRegexp {
				into = excluded
			}
			for reason := range strings.SplitSeq(m.Value, "|") {
				into[reason] = true
			}
		}
		return nil
	})
	want := slices.Sorted(slices.Values(istiodNotServing))
	if got, all := slices.Sorted(maps.Keys(selected)), slices.Sorted(slices.Values(append(slices.Clone(istiodNotServing), phaseFailures...))); !slices.Equal(got, all) {
		t.Errorf("MeshkeeperIstiodUnavailable selects the reasons %v, want %v", got, all)
	}
	if got := slices.Sorted(maps.Keys(excluded)); !slices.Equal(got, want) {
		t.Errorf("MeshkeeperIstiodUnavailable ends on any reason but %v, want any but %v", got, want)
	}
}

// alertCases is the behaviour of each alert; every alert of the rules must have cases here.
var alertCases = map[string]map[string]alertCase{
	"MeshkeeperMeshNotReady": {
		"fires after 15 minutes not Ready, with the reason": {
			load: `meshkeeper_condition{type="Ready", status="False", reason="ChartNotFound", ` + meshkeeper + `} 1x40`,
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				// The reason is in the description, not a label: a new reason must not start the alert over.
				16 * time.Minute: {{"type=Ready", "reason=", "status=", "severity=warning"}},
			},
			description: "reason ChartNotFound",
		},
		"fires for ChartNotFound, which does not page": {
			load: chartNotFound,
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"severity=warning"}},
				30 * time.Minute: {{"severity=warning"}},
			},
			description: "reason ChartNotFound",
		},
		"keeps its 15 minutes when the reason changes": {
			// Ready copies the reason of the first condition that is not True; it changes as an install
			// moves on (RollingOut, then InstallFailed) while the mesh stays not Ready.
			load: `meshkeeper_condition{type="Ready", status="False", reason="RollingOut", ` + meshkeeper + `} 1x7 stale
			       meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + meshkeeper + `} _x8 1x30`,
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				30 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
			},
			description: "reason InstallFailed",
		},
		"keeps its 15 minutes across a replaced meshkeeper pod": {
			// The old pod's series go stale at 8m; the new pod reports from 11m on, after it took over
			// the leader lease and reconciled.
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + oldPod + `} 1x7 stale
			       meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + newPod + `} _x11 1x30` +
				present(oldPod, "1x7 stale") + present(newPod, "_x11 1x30"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "instance=", "pod=", "severity=warning"}},
			},
			description: "reason InstallFailed",
		},
		"stops at once when the ServiceMesh is gone": {
			// Deleted at 21m (uninstalled, or its finalizer removed by hand): meshkeeper removes the
			// condition series and reports the ServiceMesh gone.
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + meshkeeper + `} 1x20 stale` +
				present(meshkeeper, "1x20 0x20"),
			firing: map[time.Duration][][]string{
				16 * time.Minute: {{"type=Ready", "severity=warning"}},
				20 * time.Minute: {{"type=Ready", "severity=warning"}},
				21 * time.Minute: nil,
				25 * time.Minute: nil,
				30 * time.Minute: nil,
			},
			description: "reason InstallFailed",
		},
		"stays silent once the ServiceMesh is gone and meshkeeper is removed": {
			// The uninstall of docs/uninstall.md: the ServiceMesh first (21m), then the operator (23m),
			// whose last report was that the ServiceMesh is gone.
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + meshkeeper + `} 1x20 stale` +
				present(meshkeeper, "1x20 0x1 stale"),
			firing: map[time.Duration][][]string{
				20 * time.Minute: {{"type=Ready"}},
				21 * time.Minute: nil,
				23 * time.Minute: nil,
				26 * time.Minute: nil,
				30 * time.Minute: nil,
			},
			description: "reason InstallFailed",
		},
		"stops when a replaced meshkeeper pod finds the ServiceMesh gone": {
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + oldPod + `} 1x20 stale` +
				present(oldPod, "1x20 stale") + present(newPod, "_x24 0x10"),
			firing: map[time.Duration][][]string{
				20 * time.Minute: {{"type=Ready"}},
				23 * time.Minute: {{"type=Ready"}},
				24 * time.Minute: nil,
				28 * time.Minute: nil,
			},
			// Only the current Ready series has the reason: none while the new pod has not reported.
			description: "has not been Ready for 15 minutes",
		},
		"starts over for a ServiceMesh created after the last one was deleted": {
			// Deleted at 11m, created again at 12m: the new ServiceMesh's 15 minutes start then.
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + meshkeeper + `} 1x10 stale _ 1x30` +
				present(meshkeeper, "1x10 0 1x30"),
			firing: map[time.Duration][][]string{
				11 * time.Minute: nil,
				16 * time.Minute: nil,
				26 * time.Minute: nil,
				28 * time.Minute: {{"type=Ready"}},
			},
			description: "reason InstallFailed",
		},
		"keeps its 15 minutes into an uninstall some object blocks": {
			// The releases are gone at 6m, but a namespace refuses to give its injection label back:
			// meshkeeper reports the Ready condition only (UninstallBlocked), and the ServiceMesh stays.
			load: `meshkeeper_condition{type="Ready", status="False", reason="RollingOut", ` + meshkeeper + `} 1x5 stale
			       meshkeeper_condition{type="Ready", status="False", reason="UninstallBlocked", ` + meshkeeper + `} _x6 1x30` +
				present(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				30 * time.Minute: {{"type=Ready"}},
			},
			description: "reason UninstallBlocked",
		},
		"stays silent while the CNI agent rolls out node by node": {
			// An Istio upgrade on a cluster of 121 nodes: the agent's DaemonSet replaces one pod at a
			// time (maxUnavailable 1), a node every 30 seconds, and Ready is NodesNotReady for an hour.
			load: `meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + meshkeeper + `} 1x120
			       meshkeeper_cni_nodes{state="desired", ` + meshkeeper + `} 121x120
			       meshkeeper_cni_nodes{state="ready", ` + meshkeeper + `} 0+1x120` +
				present(meshkeeper, "1x120"),
			firing: map[time.Duration][][]string{16 * time.Minute: nil, 30 * time.Minute: nil, 60 * time.Minute: nil},
			step:   30 * time.Second,
		},
		"stays silent while the CNI agent rolls out across a replaced meshkeeper pod": {
			// The old pod's series go stale at 20m; the new pod reports from 23m on. Its first samples
			// have nothing to compare with: the old pod's tell that the rollout moves.
			load: `meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + oldPod + `} 1x40 stale
			       meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + newPod + `} _x46 1x74
			       meshkeeper_cni_nodes{state="ready", ` + oldPod + `} 0+1x40 stale
			       meshkeeper_cni_nodes{state="ready", ` + newPod + `} _x46 46+1x74` +
				present(oldPod, "1x40 stale") + present(newPod, "_x46 1x74"),
			firing: map[time.Duration][][]string{16 * time.Minute: nil, 22 * time.Minute: nil, 24 * time.Minute: nil, 40 * time.Minute: nil, 60 * time.Minute: nil},
			step:   30 * time.Second,
		},
		"fires when the CNI agent's rollout is stuck": {
			// The rollout moves for 10 minutes, then a node's new agent pod never becomes ready: 15
			// minutes without a change end the rollout's grace, and the alert's 15 minutes follow.
			load: `meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + meshkeeper + `} 1x100
			       meshkeeper_cni_nodes{state="ready", ` + meshkeeper + `} 0+1x20 20x80` +
				present(meshkeeper, "1x100"),
			firing: map[time.Duration][][]string{
				16 * time.Minute: nil,
				39 * time.Minute: nil,
				41 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				50 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
			},
			description: "reason NodesNotReady",
			step:        30 * time.Second,
		},
		"fires on an agent pod in a crash loop, whose ready count only goes up and down": {
			// One node's agent pod restarts and is ready for moments: the count changes all the time,
			// but never gets past 40 of 41.
			load: `meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + meshkeeper + `} 1x80
			       meshkeeper_cni_nodes{state="desired", ` + meshkeeper + `} 41x80
			       meshkeeper_cni_nodes{state="ready", ` + meshkeeper + `} ` + strings.Repeat("40 39 ", 40) + "40" +
				present(meshkeeper, "1x80"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				30 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
			},
			description: "reason NodesNotReady",
			step:        30 * time.Second,
		},
		"fires after 15 minutes on a CNI rollout that never moves": {
			// The ready count has not changed for 20 minutes: nothing to wait for.
			load: `meshkeeper_condition{type="Ready", status="False", reason="NodesNotReady", ` + meshkeeper + `} 1x40
			       meshkeeper_cni_nodes{state="desired", ` + meshkeeper + `} 121x40
			       meshkeeper_cni_nodes{state="ready", ` + meshkeeper + `} 120x40` +
				present(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				20 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
			},
			description: "reason NodesNotReady",
		},
		"fires after 15 minutes on another reason while the CNI agent rolls out": {
			// Only NodesNotReady waits for the agent's rollout: an install that failed does not.
			load: `meshkeeper_condition{type="Ready", status="False", reason="InstallFailed", ` + meshkeeper + `} 1x80
			       meshkeeper_cni_nodes{state="ready", ` + meshkeeper + `} 0+1x80` +
				present(meshkeeper, "1x80"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
				30 * time.Minute: {{"type=Ready", "reason=", "severity=warning"}},
			},
			description: "reason InstallFailed",
			step:        30 * time.Second,
		},
		"leaves a rolled-back canary to its own alert": {
			load: `meshkeeper_condition{type="Ready", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x40
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x40` +
				present(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{16 * time.Minute: nil, 30 * time.Minute: nil},
		},
		"stays silent while Ready": {
			load: `meshkeeper_condition{type="Ready", status="True", reason="Succeeded", ` + meshkeeper + `} 1x40
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartNeeded", ` + meshkeeper + `} 1x40`,
			firing: map[time.Duration][][]string{30 * time.Minute: nil},
		},
		"starts over when Ready comes back": {
			// meshkeeper_condition has one series per condition type: Ready True replaces Ready False.
			load: `meshkeeper_condition{type="Ready", status="False", reason="RollingOut", ` + meshkeeper + `} 1x10 stale _x9 1x20
			       meshkeeper_condition{type="Ready", status="True", reason="Succeeded", ` + meshkeeper + `} _x11 1x9 stale`,
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				12 * time.Minute: nil,
				25 * time.Minute: nil,
				38 * time.Minute: {{"type=Ready"}},
			},
			description: "reason RollingOut",
		},
	},
	"MeshkeeperReconcileErrors": {
		"fires when meshkeeper's reconciles keep failing": {
			load: `controller_runtime_reconcile_errors_total{controller="servicemesh", ` + meshkeeper + `} 0+1x60
			       meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + meshkeeper + `} 1x60`,
			firing: map[time.Duration][][]string{
				10 * time.Minute: nil,
				25 * time.Minute: {{"controller=servicemesh", "job=meshkeeper-metrics", "severity=warning"}},
			},
			description: "The servicemesh controller",
		},
		"keeps its 15 minutes across a replaced meshkeeper pod": {
			load: `controller_runtime_reconcile_errors_total{controller="servicemesh", ` + oldPod + `} 0+1x8 stale
			       meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + oldPod + `} 1x8 stale
			       controller_runtime_reconcile_errors_total{controller="servicemesh", ` + newPod + `} _x11 0+1x30
			       meshkeeper_build_info{version="0.3.0", goversion="go1.26.8", ` + newPod + `} _x11 1x30`,
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				17 * time.Minute: {{"controller=servicemesh", "job=meshkeeper-metrics", "instance=", "pod=", "severity=warning"}},
			},
			description: "The servicemesh controller",
		},
		// A failure meshkeeper keeps retrying with backoff fails once every few minutes: the
		// servicemesh controller's control-plane backoff and every controller's retries stop growing
		// at 5 minutes (meshctx.ControllerOptions), and an attempt takes its own time. Here one error
		// every 5.5 minutes, sampled every 30 s as the chart's ServiceMonitor scrapes.
		"fires when failures keep coming back at the retry cap": {
			load: `controller_runtime_reconcile_errors_total{controller="servicemesh", ` + meshkeeper + `} 0x10 1x10 2x10 3x10 4x10 5x10 6x10 7x10 8x10
			       meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + meshkeeper + `} 1x100`,
			step: 30 * time.Second,
			firing: map[time.Duration][][]string{
				18 * time.Minute: nil,
				25 * time.Minute: {{"controller=servicemesh", "job=meshkeeper-metrics", "severity=warning"}},
				45 * time.Minute: {{"controller=servicemesh", "severity=warning"}},
			},
			description: "The servicemesh controller",
		},
		"stays silent after one failure that the next attempt fixes": {
			load: `controller_runtime_reconcile_errors_total{controller="servicemesh", ` + meshkeeper + `} 0x10 1x80
			       meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + meshkeeper + `} 1x100`,
			step:   30 * time.Second,
			firing: map[time.Duration][][]string{40 * time.Minute: nil},
		},
		"ignores another operator's errors": {
			load: `controller_runtime_reconcile_errors_total{controller="servicemesh", ` + otherManager + `} 0+1x60
			       controller_runtime_reconcile_errors_total{controller="servicemesh", ` + meshkeeper + `} 3x60
			       meshkeeper_build_info{version="0.2.0", goversion="go1.26.8", ` + meshkeeper + `} 1x60`,
			firing: map[time.Duration][][]string{40 * time.Minute: nil},
		},
	},
	"MeshkeeperIstiodUnavailable": {
		"fires after 10 minutes without istiod": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				11 * time.Minute: {{"type=ControlPlaneReady", "reason=", "severity=critical"}},
			},
			description: "ControlPlaneReady reason RollingOut",
		},
		"keeps firing when the stuck rollout passes its deadline": {
			// RollingOut for the Deployment's 10-minute progressDeadlineSeconds, then ProgressDeadlineExceeded.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x10 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="False", reason="ProgressDeadlineExceeded", ` + meshkeeper + `} _x11 1x30`,
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				11 * time.Minute: {{"type=ControlPlaneReady", "reason=", "severity=critical"}},
				12 * time.Minute: {{"severity=critical"}},
				30 * time.Minute: {{"severity=critical"}},
			},
			description: "ControlPlaneReady reason ProgressDeadlineExceeded",
		},
		"stays silent on ChartNotFound: the running istiod keeps serving": {
			load:   chartNotFound + controlPlaneReady(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 30 * time.Minute: nil},
		},
		"fires on ChartNotFound once the running istiod is down for 10 minutes": {
			// A mistyped spec.version left for days, then istiod goes down on its own (a node drained, a
			// crash loop) at 15m: ControlPlaneReady keeps ChartNotFound, the gauge follows istiod.
			load: chartNotFound + controlPlaneReady(meshkeeper, "1x14 0x25"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				24 * time.Minute: nil,
				26 * time.Minute: {{"type=ControlPlaneReady", "reason=", "status=", "severity=critical"}},
				40 * time.Minute: {{"severity=critical"}},
			},
			description: "ControlPlaneReady reason ChartNotFound",
		},
		"stops on ChartNotFound as soon as the running istiod is available again": {
			load:        chartNotFound + controlPlaneReady(meshkeeper, "0x12 1x27"),
			firing:      map[time.Duration][][]string{12 * time.Minute: {{"severity=critical"}}, 13 * time.Minute: nil, 30 * time.Minute: nil},
			description: "ControlPlaneReady reason ChartNotFound",
		},
		"ignores a standby replica's gauge": {
			// Only the leader reconciles and reports the conditions; a standby reports the gauge 0.
			load: chartNotFound + controlPlaneReady(meshkeeper, "1x40") +
				controlPlaneReady(`job="meshkeeper-metrics", instance="10.0.0.5:8443", namespace="meshkeeper-system"`, "0x40"),
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 30 * time.Minute: nil},
		},
		"keeps its 10 minutes when a rollout that does not come up turns into InstallFailed": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x5 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="False", reason="InstallFailed", ` + meshkeeper + `} _x6 1x30` +
				controlPlaneReady(meshkeeper, "0x40"),
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				11 * time.Minute: {{"type=ControlPlaneReady", "reason=", "severity=critical"}},
			},
			description: "ControlPlaneReady reason InstallFailed",
		},
		"stops at once on ChartNotFound when the ServiceMesh is gone": {
			// Deleted at 21m: meshkeeper removes the condition series and sets the gauge to 0.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="ChartNotFound", ` + meshkeeper + `} 1x20 stale` +
				controlPlaneReady(meshkeeper, "0x40") + present(meshkeeper, "1x20 0x20"),
			firing: map[time.Duration][][]string{
				16 * time.Minute: {{"severity=critical"}},
				20 * time.Minute: {{"severity=critical"}},
				21 * time.Minute: nil,
				30 * time.Minute: nil,
			},
			description: "ControlPlaneReady reason ChartNotFound",
		},
		"stays silent while the canary revision fails beside the ready active one": {
			// RevisionBased: the canary revision's install failed; while the phase fails the gauge follows the
			// istiod of the active revision, which serves the mesh.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="InstallFailed", ` + meshkeeper + `} 1x30
			       meshkeeper_revision_proxies{revision="1-31-1", version="1.31.1", state="Active", ready="true", ` + meshkeeper + `} 40x30
			       meshkeeper_revision_proxies{revision="1-32-0", version="1.32.0", state="Canary", ready="false", ` + meshkeeper + `} 0x30` +
				controlPlaneReady(meshkeeper, "1x30"),
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 25 * time.Minute: nil},
		},
		"fires when the active revision goes down while the phase fails, whatever the revisions last reported": {
			// meshkeeper_revision_proxies keeps what the last phase that succeeded reported.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="ChartNotFound", ` + meshkeeper + `} 1x30
			       meshkeeper_revision_proxies{revision="1-31-1", version="1.31.1", state="Active", ready="true", ` + meshkeeper + `} 40x30` +
				controlPlaneReady(meshkeeper, "0x30"),
			firing:      map[time.Duration][][]string{9 * time.Minute: nil, 11 * time.Minute: {{"severity=critical"}}},
			description: "ControlPlaneReady reason ChartNotFound",
		},
		"keeps its 10 minutes when the reason changes": {
			// The Deployment is created (DeploymentMissing), then its pods do not become available
			// (RollingOut): istiod is not serving all along.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="DeploymentMissing", ` + meshkeeper + `} 1x4 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} _x5 1x30`,
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				11 * time.Minute: {{"type=ControlPlaneReady", "reason=", "severity=critical"}},
			},
			description: "ControlPlaneReady reason RollingOut",
		},
		"keeps its 10 minutes across a replaced meshkeeper pod": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="DeploymentMissing", ` + oldPod + `} 1x4 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="False", reason="DeploymentMissing", ` + newPod + `} _x8 1x30` +
				present(oldPod, "1x4 stale") + present(newPod, "_x8 1x30"),
			firing: map[time.Duration][][]string{
				9 * time.Minute:  nil,
				11 * time.Minute: {{"type=ControlPlaneReady", "instance=", "pod=", "severity=critical"}},
			},
			description: "ControlPlaneReady reason DeploymentMissing",
		},
		"never fires for a rollout cut short by the deletion of the ServiceMesh": {
			// istiod rolls out from 0m; the ServiceMesh is deleted at 6m, and its uninstall removes istiod.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x5 stale` +
				present(meshkeeper, "1x5 0x30"),
			firing: map[time.Duration][][]string{
				6 * time.Minute:  nil,
				10 * time.Minute: nil,
				11 * time.Minute: nil,
				14 * time.Minute: nil,
				20 * time.Minute: nil,
			},
		},
		"never fires for a rollout cut short by the deletion, once meshkeeper is removed too": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x5 stale` +
				present(meshkeeper, "1x5 0x1 stale"),
			firing: map[time.Duration][][]string{10 * time.Minute: nil, 11 * time.Minute: nil, 14 * time.Minute: nil},
		},
		"never fires for a rollout cut short by an uninstall some object blocks": {
			// The releases are gone at 6m, but the uninstall is blocked: the ServiceMesh stays, and
			// meshkeeper reports its Ready condition only.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x5 stale
			       meshkeeper_condition{type="Ready", status="False", reason="UninstallBlocked", ` + meshkeeper + `} _x6 1x30` +
				present(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{10 * time.Minute: nil, 11 * time.Minute: nil, 14 * time.Minute: nil},
		},
		"stops as soon as istiod is available again": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x12 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="True", reason="Available", ` + meshkeeper + `} _x13 1x20`,
			firing: map[time.Duration][][]string{
				12 * time.Minute: {{"severity=critical"}},
				13 * time.Minute: nil,
				20 * time.Minute: nil,
			},
			description: "ControlPlaneReady reason RollingOut",
		},
		"stops when a configuration error replaces the rollout: the running istiod serves": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x12 stale
			       meshkeeper_condition{type="ControlPlaneReady", status="False", reason="ChartNotFound", ` + meshkeeper + `} _x13 1x20`,
			firing:      map[time.Duration][][]string{12 * time.Minute: {{"severity=critical"}}, 13 * time.Minute: nil, 30 * time.Minute: nil},
			description: "ControlPlaneReady reason RollingOut",
		},
		"stays silent while a new revision rolls out beside the ready active one": {
			// RevisionBased: ControlPlaneReady is about the istiod of spec.version's revision; the tag
			// stays on the active revision, which serves the mesh, until it is ready.
			// The gauge follows ControlPlaneReady's istiod, the new revision's, which is not available.
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x30
			       meshkeeper_revision_proxies{revision="1-31-1", version="1.31.1", state="Active", ready="true", ` + meshkeeper + `} 40x30
			       meshkeeper_revision_proxies{revision="1-32-0", version="1.32.0", state="Canary", ready="false", ` + meshkeeper + `} 0x30` +
				controlPlaneReady(meshkeeper, "0x30"),
			firing: map[time.Duration][][]string{11 * time.Minute: nil, 25 * time.Minute: nil},
		},
		"fires when the active revision is not available": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="RollingOut", ` + meshkeeper + `} 1x30
			       meshkeeper_revision_proxies{revision="1-31-1", version="1.31.1", state="Active", ready="false", ` + meshkeeper + `} 40x30`,
			firing:      map[time.Duration][][]string{9 * time.Minute: nil, 11 * time.Minute: {{"severity=critical"}}},
			description: "ControlPlaneReady reason RollingOut",
		},
		"fires while the control-plane namespace is deleted, whatever the revisions last reported": {
			load: `meshkeeper_condition{type="ControlPlaneReady", status="False", reason="NamespaceTerminating", ` + meshkeeper + `} 1x30
			       meshkeeper_revision_proxies{revision="1-31-1", version="1.31.1", state="Active", ready="true", ` + meshkeeper + `} 40x30`,
			firing:      map[time.Duration][][]string{9 * time.Minute: nil, 11 * time.Minute: {{"severity=critical"}}},
			description: "ControlPlaneReady reason NamespaceTerminating",
		},
		"stays silent while istiod is available": {
			load:   `meshkeeper_condition{type="ControlPlaneReady", status="True", reason="Available", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{20 * time.Minute: nil},
		},
	},
	"MeshkeeperProxiesOutdated": {
		"fires after a day of outdated proxies": {
			load: `meshkeeper_proxies{state="outdated", ` + meshkeeper + `} 3x1600
			       meshkeeper_proxies{state="current", ` + meshkeeper + `} 10x1600`,
			firing: map[time.Duration][][]string{
				23 * time.Hour: nil,
				25 * time.Hour: {{"state=outdated", "severity=info"}},
			},
			description: "3 pods",
		},
		"stays silent with none outdated": {
			load:   `meshkeeper_proxies{state="outdated", ` + meshkeeper + `} 0x1600`,
			firing: map[time.Duration][][]string{25 * time.Hour: nil},
		},
		"keeps its day across a replaced meshkeeper pod": {
			// A sample every 2 minutes: the old pod's series goes stale at 12h, and the new pod reports
			// from 12h04m on.
			load: `meshkeeper_proxies{state="outdated", ` + oldPod + `} 3x359 stale
			       meshkeeper_proxies{state="outdated", ` + newPod + `} _x362 3x400`,
			step: 2 * time.Minute,
			firing: map[time.Duration][][]string{
				12*time.Hour + 3*time.Minute: nil,
				23 * time.Hour:               nil,
				25 * time.Hour:               {{"state=outdated", "instance=", "pod=", "severity=info"}},
			},
			description: "3 pods",
		},
		"ends as soon as none are outdated": {
			load:        `meshkeeper_proxies{state="outdated", ` + meshkeeper + `} 3x750 0x100`,
			step:        2 * time.Minute,
			firing:      map[time.Duration][][]string{25 * time.Hour: {{"state=outdated"}}, 25*time.Hour + 4*time.Minute: nil},
			description: "3 pods",
		},
	},
	"MeshkeeperRestartsStalled": {
		"fires after 15 minutes stalled": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=DataPlaneUpToDate", "severity=warning"}},
			},
		},
		"keeps its 15 minutes across a replaced meshkeeper pod": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + oldPod + `} 1x7 stale
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + newPod + `} _x11 1x30` +
				present(oldPod, "1x7 stale") + present(newPod, "_x11 1x30"),
			firing: map[time.Duration][][]string{
				14 * time.Minute: nil,
				16 * time.Minute: {{"type=DataPlaneUpToDate", "instance=", "pod=", "severity=warning"}},
			},
		},
		"stops at once when the ServiceMesh is gone": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + meshkeeper + `} 1x20 stale` +
				present(meshkeeper, "1x20 0x20"),
			firing: map[time.Duration][][]string{
				16 * time.Minute: {{"type=DataPlaneUpToDate", "severity=warning"}},
				21 * time.Minute: nil,
				25 * time.Minute: nil,
			},
		},
		"stops at once when an uninstall some object blocks reports Ready only": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + meshkeeper + `} 1x20 stale
			       meshkeeper_condition{type="Ready", status="False", reason="UninstallBlocked", ` + meshkeeper + `} _x21 1x20` +
				present(meshkeeper, "1x40"),
			firing: map[time.Duration][][]string{
				16 * time.Minute: {{"type=DataPlaneUpToDate"}},
				21 * time.Minute: nil,
				25 * time.Minute: nil,
			},
		},
		"stops as soon as the restarts move on": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + meshkeeper + `} 1x20 stale
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="Restarting", ` + meshkeeper + `} _x21 1x20`,
			firing: map[time.Duration][][]string{16 * time.Minute: {{"reason=RestartStalled"}}, 21 * time.Minute: nil},
		},
		"stays silent while restarts are only needed": {
			load:   `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartNeeded", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{20 * time.Minute: nil},
		},
	},
	"MeshkeeperCanaryRolledBack": {
		"fires at once and while the rollback holds": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{
				0:                {{"type=DataPlaneUpToDate", "reason=CanaryRolledBack", "severity=warning"}},
				25 * time.Minute: {{"reason=CanaryRolledBack"}},
			},
			description: "canary namespaces back to the active revision",
		},
		"stops once a new spec ends the rollback": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x10
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="Restarting", ` + meshkeeper + `} _x11 1x20`,
			firing: map[time.Duration][][]string{5 * time.Minute: {{"reason=CanaryRolledBack"}}, 20 * time.Minute: nil},
		},
		"keeps firing across a replaced meshkeeper pod": {
			// The rollback holds in status.canaryRollback across a restart of meshkeeper (an upgrade, a
			// drain, a leader failover): the alert must not end and start over as a new one, as if a
			// second canary had been rolled back.
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + oldPod + `} 1x7 stale
			       meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + newPod + `} _x11 1x30` +
				present(oldPod, "1x7 stale") + present(newPod, "_x11 1x30"),
			firing: map[time.Duration][][]string{
				0:                {{"reason=CanaryRolledBack", "instance=", "pod="}},
				9 * time.Minute:  {{"reason=CanaryRolledBack", "instance=", "pod="}},
				10 * time.Minute: {{"reason=CanaryRolledBack", "instance=", "pod="}},
				12 * time.Minute: {{"reason=CanaryRolledBack", "instance=", "pod="}},
			},
			description: "canary namespaces back to the active revision",
		},
		"stops at once when the ServiceMesh is gone": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x10 stale` +
				present(meshkeeper, "1x10 0x20"),
			firing: map[time.Duration][][]string{
				10 * time.Minute: {{"reason=CanaryRolledBack"}},
				11 * time.Minute: nil,
				20 * time.Minute: nil,
			},
			description: "canary namespaces back to the active revision",
		},
		"stays silent once the ServiceMesh is gone and meshkeeper is removed": {
			// The uninstall of docs/uninstall.md: the ServiceMesh first (11m), then the operator (13m), whose
			// last report was that the ServiceMesh is gone. Without a "for", the rollback of the last 10
			// minutes must not fire again.
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x10 stale` +
				present(meshkeeper, "1x10 0x1 stale"),
			firing: map[time.Duration][][]string{
				10 * time.Minute: {{"reason=CanaryRolledBack"}},
				11 * time.Minute: nil,
				13 * time.Minute: nil,
				15 * time.Minute: nil,
				20 * time.Minute: nil,
			},
			description: "canary namespaces back to the active revision",
		},
		"stops at once when an uninstall some object blocks reports Ready only": {
			load: `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="CanaryRolledBack", ` + meshkeeper + `} 1x10 stale
			       meshkeeper_condition{type="Ready", status="False", reason="UninstallBlocked", ` + meshkeeper + `} _x11 1x20` +
				present(meshkeeper, "1x30"),
			firing:      map[time.Duration][][]string{10 * time.Minute: {{"reason=CanaryRolledBack"}}, 11 * time.Minute: nil, 20 * time.Minute: nil},
			description: "canary namespaces back to the active revision",
		},
		"stays silent on a stall outside a canary": {
			load:   `meshkeeper_condition{type="DataPlaneUpToDate", status="False", reason="RestartStalled", ` + meshkeeper + `} 1x30`,
			firing: map[time.Duration][][]string{0: nil, 20 * time.Minute: nil},
		},
	},
}

// TestAlerts evaluates each alert with Prometheus's own rule evaluation (the AlertingRule that the rule
// manager and `promtool test rules` run) over series loaded into Prometheus's test storage, once a
// minute as a Prometheus with a 1m evaluation interval would.
func TestAlerts(t *testing.T) {
	alerts := alertingRules(t)
	for name := range alerts {
		if len(alertCases[name]) == 0 {
			t.Errorf("alert %s has no test cases", name)
		}
	}
	for name, cases := range alertCases {
		r, ok := alerts[name]
		if !ok {
			t.Errorf("the rules have no alert %s", name)
			continue
		}
		for caseName, tc := range cases {
			t.Run(name+"/"+caseName, func(t *testing.T) {
				runAlertCase(t, r, tc)
			})
		}
	}
}

func runAlertCase(t *testing.T, r rulefmt.Rule, tc alertCase) {
	step := tc.step
	switch {
	case step != 0:
	case strings.Contains(tc.load, "1600"):
		step = time.Hour / 60 * 2 // long series: one sample every 2 minutes
	default:
		step = time.Minute
	}
	// The load appends series one after the other, in no set order, and the test storage accepts only
	// samples within half its block duration of the newest one appended: a series that starts hours
	// after another (a replaced pod's) needs blocks longer than the 24h of teststorage.
	longBlocks := func(o *tsdb.Options) {
		o.MinBlockDuration = (7 * 24 * time.Hour).Milliseconds()
		o.MaxBlockDuration = o.MinBlockDuration
	}
	storage := promqltest.LoadedStorage(t, "load "+step.String()+"\n"+indent(tc.load), longBlocks)
	engine := promqltest.NewTestEngine(t, false, 0, promqltest.DefaultMaxSamplesPerQuery)
	query := rules.EngineQueryFunc(engine, storage)

	expr, err := promql.ParseExpr(r.Expr)
	if err != nil {
		t.Fatal(err)
	}
	rule := rules.NewAlertingRule(r.Alert, expr, time.Duration(r.For), time.Duration(r.KeepFiringFor),
		labels.FromMap(r.Labels), labels.FromMap(r.Annotations), labels.EmptyLabels(), "", true, nil)

	var last time.Duration
	for at := range tc.firing {
		last = max(last, at)
	}
	start := time.Unix(0, 0).UTC()
	for at := time.Duration(0); at <= last; at += time.Minute {
		if _, err := rule.Eval(context.Background(), 0, start.Add(at), query, nil, 0); err != nil {
			t.Fatalf("evaluating at %s: %v", at, err)
		}
		want, check := tc.firing[at]
		if !check {
			continue
		}
		var firing []*rules.Alert
		for _, a := range rule.ActiveAlerts() {
			if a.State == rules.StateFiring {
				firing = append(firing, a)
			}
		}
		if len(firing) != len(want) {
			var firingLabels []string
			for _, a := range firing {
				firingLabels = append(firingLabels, a.Labels.String())
			}
			t.Errorf("at %s: %d alerts firing %v, want %d", at, len(firing), firingLabels, len(want))
			continue
		}
		for i, a := range firing {
			for _, pair := range want[i] {
				k, v, _ := strings.Cut(pair, "=")
				if got := a.Labels.Get(k); got != v {
					t.Errorf("at %s: alert label %s=%q, want %q (labels %s)", at, k, got, v, a.Labels)
				}
			}
			if description := a.Annotations.Get("description"); !strings.Contains(description, tc.description) {
				t.Errorf("at %s: description %q lacks %q", at, description, tc.description)
			}
			if d := a.Annotations.Get("description"); strings.Contains(d, "<error expanding template") || strings.Contains(d, "<no value>") {
				t.Errorf("at %s: description %q did not expand", at, d)
			}
			if strings.Contains(a.Annotations.Get("description"), "{{") {
				t.Errorf("at %s: description %q has an unexpanded template", at, a.Annotations.Get("description"))
			}
		}
	}
}

func indent(s string) string {
	var b strings.Builder
	for line := range strings.SplitSeq(s, "\n") {
		b.WriteString("  " + strings.TrimSpace(line) + "\n")
	}
	return b.String()
}
