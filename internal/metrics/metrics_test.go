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
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// scrape fetches the manager's registry over HTTP, as Prometheus does, and parses the text format.
func scrape(t *testing.T) map[string]*dto.MetricFamily {
	t.Helper()
	server := httptest.NewServer(promhttp.HandlerFor(ctrlmetrics.Registry, promhttp.HandlerOpts{}))
	defer server.Close()
	resp, err := http.Get(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing the scrape: %v", err)
	}
	return families
}

func labels(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func TestBuildInfo(t *testing.T) {
	family := scrape(t)[BuildInfoName]
	if family == nil || len(family.Metric) != 1 {
		t.Fatalf("%s: want exactly one series, got %v", BuildInfoName, family)
	}
	m := family.Metric[0]
	if got := labels(m); got["version"] != Version() || got["goversion"] != runtime.Version() || len(got) != 2 {
		t.Errorf("labels %v: want version %q and goversion %q", got, Version(), runtime.Version())
	}
	if m.GetGauge().GetValue() != 1 {
		t.Errorf("value %v, want 1", m.GetGauge().GetValue())
	}
	if Version() == "" {
		t.Error("the version label is empty")
	}
}

func condition(conditionType string, status metav1.ConditionStatus, reason string) metav1.Condition {
	return metav1.Condition{Type: conditionType, Status: status, Reason: reason, Message: "ignored"}
}

// TestSetConditions checks that each condition type has exactly one series, carrying its current status
// and reason, and that a reason or type that went away loses its series.
func TestSetConditions(t *testing.T) {
	SetConditions([]metav1.Condition{
		condition("Ready", metav1.ConditionFalse, "ChartNotFound"),
		condition("ControlPlaneReady", metav1.ConditionFalse, "ChartNotFound"),
		condition("DataPlaneUpToDate", metav1.ConditionFalse, "RestartStalled"),
	})
	SetConditions([]metav1.Condition{
		condition("Ready", metav1.ConditionTrue, "Succeeded"),
		condition("ControlPlaneReady", metav1.ConditionTrue, "Available"),
	})
	want := `
# HELP meshkeeper_condition 1 for each condition of the ServiceMesh, with its type, status and reason: exactly one series per condition type.
# TYPE meshkeeper_condition gauge
meshkeeper_condition{reason="Available",status="True",type="ControlPlaneReady"} 1
meshkeeper_condition{reason="Succeeded",status="True",type="Ready"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), ConditionName); err != nil {
		t.Error(err)
	}

	SetConditions(nil)
	if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, ConditionName); err != nil || n != 0 {
		t.Errorf("after SetConditions(nil): %d series (%v), want none", n, err)
	}
}

// presentAtStart is the number of series meshkeeper_servicemesh_present had before any test set one.
var presentAtStart int

func TestMain(m *testing.M) {
	n, err := testutil.GatherAndCount(ctrlmetrics.Registry, ServiceMeshPresentName)
	if err != nil {
		panic(err)
	}
	presentAtStart = n
	os.Exit(m.Run())
}

// TestServiceMeshPresent checks meshkeeper_servicemesh_present: no series before a first report, so
// that a replica just started (or a standby) does not end the alerts its predecessor's conditions keep
// up; 1 while conditions are reported; 0 once there are none, the ServiceMesh gone.
func TestServiceMeshPresent(t *testing.T) {
	if presentAtStart != 0 {
		t.Errorf("%s has %d series at start, want none: a replica that has not reconciled knows nothing", ServiceMeshPresentName, presentAtStart)
	}
	SetConditions([]metav1.Condition{condition("Ready", metav1.ConditionFalse, "InstallFailed")})
	want := `
# HELP meshkeeper_servicemesh_present 1 while meshkeeper reconciles a ServiceMesh and exports its conditions, 0 once the ServiceMesh is gone (uninstalled, or its finalizer removed); no series before this replica first reconciled one.
# TYPE meshkeeper_servicemesh_present gauge
meshkeeper_servicemesh_present 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), ServiceMeshPresentName); err != nil {
		t.Error(err)
	}
	SetConditions(nil)
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(strings.Replace(want, "present 1\n", "present 0\n", 1)), ServiceMeshPresentName); err != nil {
		t.Error(err)
	}
}

// TestConditionsNeverMissing scrapes while the same conditions are set again and again: every scrape must
// see them, or an alert's "for" would start over.
func TestConditionsNeverMissing(t *testing.T) {
	cs := []metav1.Condition{condition("Ready", metav1.ConditionFalse, "InstallFailed")}
	SetConditions(cs)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
				SetConditions(cs)
			}
		}
	}()
	for range 200 {
		if n, err := testutil.GatherAndCount(ctrlmetrics.Registry, ConditionName); err != nil || n != 1 {
			t.Errorf("a scrape saw %d series (%v), want 1", n, err)
			break
		}
	}
	close(done)
	wg.Wait()
}

func TestSetIstio(t *testing.T) {
	SetIstio("default", "1.30.2")
	SetIstio("default", "1.31.1")
	want := `
# HELP meshkeeper_istio_info 1 for the Istio revision and version of the control plane meshkeeper manages; no series before one is installed.
# TYPE meshkeeper_istio_info gauge
meshkeeper_istio_info{revision="default",version="1.31.1"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), IstioInfoName); err != nil {
		t.Error(err)
	}
	SetIstio("", "")
	if n, _ := testutil.GatherAndCount(ctrlmetrics.Registry, IstioInfoName); n != 0 {
		t.Errorf("%d series after the control plane was removed, want none", n)
	}
}

func TestSetProxiesAndIngresses(t *testing.T) {
	SetProxies(10, 2, 3, map[string]int{"shop": 4, "legacy": 1})
	SetProxies(10, 2, 3, map[string]int{"shop": 5})
	SetIngresses(7, map[string]int32{"ServiceMissing": 2, "MultipleBackendServices": 1})
	SetIngresses(7, map[string]int32{"MultipleBackendServices": 1})
	want := `
# HELP meshkeeper_proxies Pods of enrolled namespaces by sidecar state: current, without_sidecar, outdated.
# TYPE meshkeeper_proxies gauge
meshkeeper_proxies{state="current"} 5
meshkeeper_proxies{state="outdated"} 3
meshkeeper_proxies{state="without_sidecar"} 2
# HELP meshkeeper_proxies_need_restart Pods of an enrolled namespace without a sidecar or with an outdated one, by target_namespace (only namespaces that have any): the 100 with the most, and those of the others together as target_namespace "_other".
# TYPE meshkeeper_proxies_need_restart gauge
meshkeeper_proxies_need_restart{target_namespace="shop"} 5
# HELP meshkeeper_ingresses_configured Ingresses of enrolled namespaces that carry the mesh annotations.
# TYPE meshkeeper_ingresses_configured gauge
meshkeeper_ingresses_configured 7
# HELP meshkeeper_ingresses_skipped Ingresses of enrolled namespaces and served classes that meshkeeper cannot route through the mesh, by reason.
# TYPE meshkeeper_ingresses_skipped gauge
meshkeeper_ingresses_skipped{reason="MultipleBackendServices"} 1
`
	if err := testutil.GatherAndCompare(ctrlmetrics.Registry, strings.NewReader(want), ProxiesName, ProxiesNeedingRestartName,
		IngressesConfiguredName, IngressesSkippedName); err != nil {
		t.Error(err)
	}
	SetProxies(0, 0, 0, nil)
	SetIngresses(0, nil)
}

// populate gives every metric at least one series.
func populate() {
	SetConditions([]metav1.Condition{condition("Ready", metav1.ConditionTrue, "Succeeded")})
	SetIstio("default", "1.31.1")
	HelmOperations.WithLabelValues("istiod", "installed", "success").Inc()
	SetIngresses(1, map[string]int32{"ServiceMissing": 1})
	SetProxies(3, 1, 1, map[string]int{"shop": 2})
	SetRevisions([]Revision{{Name: "1-31-1", Version: "1.31.1", State: "Active", Ready: true, Proxies: 3}})
	RestartsTotal.WithLabelValues("started").Inc()
	RestartsPending.Set(2)
	SetCNINodes(true, 3, 2)
}

// TestNoNamespaceLabel scrapes every metric meshkeeper exports: none may carry a label Prometheus
// Operator sets on the target itself.
func TestNoNamespaceLabel(t *testing.T) {
	populate()
	families := scrape(t)
	seen := 0
	for name, family := range families {
		if !strings.HasPrefix(name, "meshkeeper_") {
			continue
		}
		seen++
		for _, m := range family.Metric {
			for label := range labels(m) {
				if slices.Contains([]string{"namespace", "pod", "service", "job", "instance", "container", "endpoint"}, label) {
					t.Errorf("%s has a label %q, which collides with the target's", name, label)
				}
			}
		}
	}
	if seen != len(Collectors) {
		t.Errorf("scraped %d meshkeeper metrics, want %d", seen, len(Collectors))
	}
}

// TestNoDuplicateOfControllerRuntime checks that meshkeeper does not measure again what controller-runtime
// measures per controller.
func TestNoDuplicateOfControllerRuntime(t *testing.T) {
	populate()
	for name := range scrape(t) {
		if strings.HasPrefix(name, "meshkeeper_reconcile") || strings.HasPrefix(name, "meshkeeper_workqueue") {
			t.Errorf("%s duplicates controller-runtime's controller_runtime_reconcile_* or workqueue_* metrics", name)
		}
	}
}

// TestDocumented checks docs/install.md#metrics: its table lists exactly the metrics meshkeeper
// exports, each with its labels.
func TestDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string][]string{}
	row := regexp.MustCompile("(?m)^\\| `(meshkeeper_[a-z_]+)(?:\\{([a-z_, ]*)\\})?` \\|")
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		var ls []string
		for l := range strings.SplitSeq(m[2], ",") {
			if l = strings.TrimSpace(l); l != "" {
				ls = append(ls, l)
			}
		}
		slices.Sort(ls)
		documented[m[1]] = ls
	}

	populate()
	exported := map[string][]string{}
	for name, family := range scrape(t) {
		if !strings.HasPrefix(name, "meshkeeper_") {
			continue
		}
		var ls []string
		for l := range labels(family.Metric[0]) {
			ls = append(ls, l)
		}
		slices.Sort(ls)
		exported[name] = ls
	}
	for name, ls := range exported {
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("docs/install.md#metrics does not list %s", name)
		case !slices.Equal(got, ls):
			t.Errorf("docs/install.md#metrics gives %s the labels %v, it has %v", name, got, ls)
		}
	}
	for name := range documented {
		if _, ok := exported[name]; !ok {
			t.Errorf("docs/install.md#metrics lists %s, which meshkeeper does not export", name)
		}
	}
}

// TestCollectorsDescribe checks that each collector describes itself, so the registry can detect
// collisions at registration.
func TestCollectorsDescribe(t *testing.T) {
	for _, c := range Collectors {
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(c); err != nil {
			t.Errorf("%T: %v", c, err)
		}
	}
}
