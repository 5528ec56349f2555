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

package helm

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

var sandboxOptions = common.ReleaseOptions{Name: "bomb", Namespace: "istio-system", Revision: 1, IsInstall: true}

// TestAChartsRenderIsBounded: a chart's templates may loop and allocate as much as they ask (`repeat`,
// `until`, `range` over a number), and Helm's engine cannot be stopped from outside. A chart that is not
// built in renders in a sandbox process whose memory, CPU and wall time are bounded, and what it renders
// is counted before the manager decodes it: each bomb fails its render with ErrRenderLimit, saying which
// bound it met, and the manager's process neither allocates nor loops for it. In the manager's process,
// the first would allocate a GiB and the second loop for hours.
func TestAChartsRenderIsBounded(t *testing.T) {
	defer func(timeout time.Duration) { sandboxTimeout = timeout }(sandboxTimeout)
	for name, tc := range map[string]struct {
		template string
		timeout  time.Duration
		want     string
	}{
		"memory": {`{{ $s := repeat 1073741824 "x" }}{{ len $s }}`, time.Minute, "more than 256 MiB of memory"},
		"time":   {`{{ range $i := until 1000000 }}{{ range $j := until 1000000 }}{{ end }}{{ end }}`, 5 * time.Second, "longer than 5s"},
		"values": {`{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "items": [{{ range until 1100000 }}0,{{ end }}0]}`,
			time.Minute, "JSON values, more than 1048576"},
	} {
		t.Run(name, func(t *testing.T) {
			sandboxTimeout = tc.timeout
			chart := attackChartOf("bomb", tc.template)
			_, _, err := renderChart(context.Background(), chart, nil, sandboxOptions, common.DefaultCapabilities)
			if !errors.Is(err, ErrRenderLimit) || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "chart bomb") {
				t.Fatalf("render: %v, want ErrRenderLimit saying %q of chart bomb", err, tc.want)
			}
			if name == "time" {
				return // the same process and bound as the render's; a second wait proves nothing more
			}
			_, err = Template(chart, nil, "bomb", "istio-system")
			if !errors.Is(err, ErrRenderLimit) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Template: %v, want ErrRenderLimit saying %q", err, tc.want)
			}
		})
	}
}

// TestASandboxedRenderIsTheSame: a chart rendered in the sandbox gives the objects, notes and errors the
// same chart gives in the manager's process, and the built-in charts render in the manager's process.
func TestASandboxedRenderIsTheSame(t *testing.T) {
	builtin, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]any{"global": map[string]any{"hub": "docker.io/istio"}, "pilot": map[string]any{"replicaCount": int64(2),
		"autoscaleEnabled": false, "env": map[string]any{"PILOT_TRACE_SAMPLING": 1.5}}, "revision": "canary"}
	fromRepository := renderedAlikeInASandbox(t, builtin, values)
	inProcessText, err := Template(builtin, values, "istiod", "istio-system")
	if err != nil {
		t.Fatal(err)
	}
	sandboxedText, err := Template(fromRepository, values, "istiod", "istio-system")
	if err != nil || string(sandboxedText) != string(inProcessText) {
		t.Fatalf("Template sandboxed: %v, same text: %t", err, string(sandboxedText) == string(inProcessText))
	}

	failing := attackChartOf("failing", `{{ fail "no such profile" }}`)
	_, _, err = renderChart(context.Background(), failing, nil, sandboxOptions, common.DefaultCapabilities)
	if err == nil || errors.Is(err, ErrRenderLimit) || !strings.Contains(err.Error(), "no such profile") ||
		strings.Count(err.Error(), "rendering chart failing") != 1 {
		t.Fatalf("a failing template: %v, want Helm's message naming the chart once", err)
	}
}

// renderedAlikeInASandbox renders the built-in chart builtin in the manager's process, which starts no
// sandbox, and a copy of it (the same content, as a repository would serve it) in one sandbox process,
// fails t unless both give the same objects and notes, and returns the copy.
func renderedAlikeInASandbox(t *testing.T, builtin *chartv2.Chart, values map[string]any) *chartv2.Chart {
	t.Helper()
	runs := sandboxRuns.Load()
	inProcess, inProcessNotes, err := renderChart(context.Background(), builtin, values, sandboxOptions, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if n := sandboxRuns.Load() - runs; n != 0 {
		t.Fatalf("the built-in chart started %d sandbox processes, want none", n)
	}
	fromRepository := *builtin
	sandboxed, sandboxedNotes, err := renderChart(context.Background(), &fromRepository, values, sandboxOptions, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	if n := sandboxRuns.Load() - runs; n != 1 {
		t.Fatalf("the repository's chart started %d sandbox processes, want 1", n)
	}
	if len(inProcess) < 10 || len(sandboxed) != len(inProcess) || sandboxedNotes != inProcessNotes {
		t.Fatalf("sandboxed: %d objects, in process: %d; notes equal: %t", len(sandboxed), len(inProcess), sandboxedNotes == inProcessNotes)
	}
	for i := range inProcess {
		want, _ := json.Marshal(inProcess[i].Object)
		got, _ := json.Marshal(sandboxed[i].Object)
		if string(got) != string(want) {
			t.Errorf("object %d differs:\nsandboxed:  %s\nin process: %s", i, got, want)
		}
	}
	return &fromRepository
}

// TestASandboxedChartKeepsItsSubcharts: a chart's subcharts render with it in the sandbox.
func TestASandboxedChartKeepsItsSubcharts(t *testing.T) {
	parent := attackChartOf("parent", yamlObject("v1", "ConfigMap", "", "parent", ""))
	parent.AddDependency(attackChartOf("child", yamlObject("v1", "ConfigMap", "", "child", "")))
	objects, _, err := renderChart(context.Background(), parent, nil, sandboxOptions, common.DefaultCapabilities)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, obj := range objects {
		names = append(names, obj.GetName())
	}
	if strings.Join(names, ",") != "child,parent" && strings.Join(names, ",") != "parent,child" {
		t.Fatalf("rendered %v, want the parent's and the subchart's ConfigMaps", names)
	}
}

// TestSandboxedRendersRunOneAtATime: each sandboxed render may take 256 MiB beyond what it starts with,
// and the manager renders the base and istiod charts side by side: two at their bound, with the
// manager's own memory, would pass the memory limit of the manager's container. Renders started at once
// run one after another, and the time one waits for another is not counted against its own bound.
func TestSandboxedRendersRunOneAtATime(t *testing.T) {
	defer func(timeout time.Duration) { sandboxTimeout = timeout }(sandboxTimeout)
	render := func(ctx context.Context, template string) error {
		_, _, err := renderChart(ctx, attackChartOf("slow", template), nil, sandboxOptions, common.DefaultCapabilities)
		return err
	}
	sandboxesPeak.Store(0)
	errs := make(chan error, 3)
	for range 3 {
		go func() { errs <- render(context.Background(), `{{ range until 1000000 }}{{ end }}`) }()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if peak := sandboxesPeak.Load(); peak != 1 {
		t.Errorf("%d renders ran at once, want 1", peak)
	}

	// A render that waits longer than its bound for another to end still renders. The bound leaves a
	// trivial render seconds to start and render on a loaded machine.
	sandboxTimeout = 4 * time.Second
	sandboxSlot <- struct{}{}
	go func() { errs <- render(context.Background(), `{}`) }()
	time.Sleep(sandboxTimeout + 500*time.Millisecond)
	<-sandboxSlot
	if err := <-errs; err != nil {
		t.Errorf("a render that waited %s for another: %v, want it rendered within its own bound of %s",
			sandboxTimeout+500*time.Millisecond, err, sandboxTimeout)
	}

	// One that waits stops waiting when its caller gives up.
	sandboxSlot <- struct{}{}
	defer func() { <-sandboxSlot }()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := render(ctx, `{}`); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a render waiting for another past its caller's deadline: %v, want the deadline", err)
	}
}
