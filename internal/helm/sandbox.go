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
	"bytes"
	"context"
	"encoding/gob"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"helm.sh/helm/v4/pkg/chart/common"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utiljson "k8s.io/apimachinery/pkg/util/json"

	"github.com/meshkeeper/meshkeeper/internal/helm/trust"
)

// A chart's templates are a program: Helm's template functions (`until`, `repeat`) and `range` over a
// number allocate and loop as much as a template asks, and a render cannot be stopped from outside. So a
// chart meshkeeper did not build in (one from a repository, allow-listed or not) renders in a child
// process, the manager's own binary started again, with a bound on its memory, its CPU and its wall
// time, and what it renders is counted before the manager decodes it. The built-in charts, which are
// part of the binary, render in the manager's process (package trust).

// sandboxEnv, set to "1" in a process's environment, makes it the render sandbox (see init).
const sandboxEnv = "MESHKEEPER_RENDER_SANDBOX"

var (
	// sandboxMemory bounds the memory a sandboxed render's process may take beyond what it holds when it
	// starts rendering.
	sandboxMemory int64 = 256 << 20
	// sandboxTimeout bounds the wall time of a sandboxed render; the process also gets as many seconds
	// of CPU.
	sandboxTimeout = 60 * time.Second
	// maxSandboxOutput bounds what a sandboxed render may hand back, in bytes.
	maxSandboxOutput int64 = 32 << 20
	// maxRenderedNodes bounds the JSON values (objects, arrays and their members) of a sandboxed render's
	// objects, counted before the manager decodes them: 32 MiB of tiny values would take gigabytes to
	// decode. Istio's base chart, CRDs and all, renders about 18,000.
	maxRenderedNodes = 1 << 20
)

// sandboxExecutable is the binary a sandboxed render runs: the manager's own.
var sandboxExecutable = os.Executable

// UseRenderBinary makes the sandboxed renders run binary, a build of meshkeeper's manager, instead of the
// running process's own binary. It is for test binaries that run meshkeeper's controllers in their own
// process, call it before any render, and start more slowly than the manager's binary does.
func UseRenderBinary(binary string) {
	sandboxExecutable = func() (string, error) { return binary, nil }
}

// errSandboxTimeout is the cause of a render stopped at sandboxTimeout.
var errSandboxTimeout = errors.New("the render's time is up")

// sandboxRuns counts the sandbox processes started.
var sandboxRuns atomic.Int64

// sandboxSlot lets one sandboxed render run at a time. Each may take sandboxMemory beyond what it starts
// with, and the manager renders the base and istiod charts side by side: two at their bound, with the
// manager's own memory, would pass the 512 Mi the chart gives the manager's container, and the kernel
// would then kill one of them, or the manager.
var sandboxSlot = make(chan struct{}, 1)

// sandboxesRunning counts the sandbox processes running now, and sandboxesPeak the most that ran at once.
var sandboxesRunning, sandboxesPeak atomic.Int64

// ErrRenderLimit is wrapped by the error of a sandboxed render that went beyond a bound.
var ErrRenderLimit = errors.New("the chart's templates went beyond what meshkeeper lets a chart's render use")

// isTrusted says whether chart renders in the manager's process: a built-in one (trust.Chart).
func isTrusted(chart *chartv2.Chart) bool { return trust.Trusted(chart) }

// sandboxRequest is what the manager hands a sandboxed render.
type sandboxRequest struct {
	// Files asks for Helm's rendered files (Template); otherwise the decoded objects (renderChartTexts).
	Files   bool
	Chart   sandboxChart
	Values  valueNode
	Options common.ReleaseOptions
	Caps    *capabilities
	Memory  int64
	CPU     time.Duration
}

// sandboxChart is a chart with its subcharts, which a chart keeps in a field gob does not see, and its
// values, which gob would not carry as they are (valueNode).
type sandboxChart struct {
	Chart        *chartv2.Chart
	Values       valueNode
	Dependencies []sandboxChart
}

func toSandboxChart(c *chartv2.Chart) (sandboxChart, error) {
	values, err := toValueNode(c.Values)
	if err != nil {
		return sandboxChart{}, fmt.Errorf("the values of chart %s: %w", c.Name(), err)
	}
	bare := *c // the parent's chart is left as it is
	bare.Values = nil
	s := sandboxChart{Chart: &bare, Values: values}
	for _, d := range c.Dependencies() {
		dep, err := toSandboxChart(d)
		if err != nil {
			return sandboxChart{}, err
		}
		s.Dependencies = append(s.Dependencies, dep)
	}
	return s, nil
}

func (s sandboxChart) chart() *chartv2.Chart {
	var deps []*chartv2.Chart
	for _, d := range s.Dependencies {
		deps = append(deps, d.chart())
	}
	s.Chart.Values, _ = s.Values.value().(map[string]any)
	s.Chart.SetDependencies(deps...)
	return s.Chart
}

// valueNode carries one value of a chart's values, with its Go type, to the sandbox: gob decodes an
// empty slice as nil, which a template writes as null where Helm writes [], and JSON would make every
// number a float64. T is the type: 0 nil, 's' string, 'b' bool, 'i' int, 'j' int32, 'I' int64, 'u'
// uint64, 'f' float64, 'g' float32, 'l' []any, 'L' []string, 'm' map[string]any, 'V' common.Values,
// 'M' map[string]string; Nil marks a nil slice or map of its type.
type valueNode struct {
	T   byte
	Nil bool
	S   string
	I   int64
	U   uint64
	F   float64
	L   []valueNode
	M   map[string]valueNode
}

func toValueNode(v any) (valueNode, error) {
	switch v := v.(type) {
	case nil:
		return valueNode{}, nil
	case string:
		return valueNode{T: 's', S: v}, nil
	case bool:
		n := valueNode{T: 'b'}
		if v {
			n.I = 1
		}
		return n, nil
	case int:
		return valueNode{T: 'i', I: int64(v)}, nil
	case int32:
		return valueNode{T: 'j', I: int64(v)}, nil
	case int64:
		return valueNode{T: 'I', I: v}, nil
	case uint64:
		return valueNode{T: 'u', U: v}, nil
	case float64:
		return valueNode{T: 'f', F: v}, nil
	case float32:
		return valueNode{T: 'g', F: float64(v)}, nil
	case []string:
		n := valueNode{T: 'L', Nil: v == nil}
		for _, s := range v {
			n.L = append(n.L, valueNode{T: 's', S: s})
		}
		return n, nil
	case map[string]string:
		n := valueNode{T: 'M', Nil: v == nil, M: make(map[string]valueNode, len(v))}
		for k, s := range v {
			n.M[k] = valueNode{T: 's', S: s}
		}
		return n, nil
	case []any:
		n := valueNode{T: 'l', Nil: v == nil, L: make([]valueNode, len(v))}
		for i, e := range v {
			var err error
			if n.L[i], err = toValueNode(e); err != nil {
				return valueNode{}, err
			}
		}
		return n, nil
	case common.Values:
		n, err := toValueNode(map[string]any(v))
		n.T = 'V'
		return n, err
	case map[string]any:
		n := valueNode{T: 'm', Nil: v == nil, M: make(map[string]valueNode, len(v))}
		for k, e := range v {
			var err error
			if n.M[k], err = toValueNode(e); err != nil {
				return valueNode{}, fmt.Errorf("%s: %w", k, err)
			}
		}
		return n, nil
	}
	return valueNode{}, fmt.Errorf("a value of type %T cannot be handed to the render", v)
}

func (n valueNode) value() any {
	switch n.T {
	case 's':
		return n.S
	case 'b':
		return n.I == 1
	case 'i':
		return int(n.I)
	case 'j':
		return int32(n.I)
	case 'I':
		return n.I
	case 'u':
		return n.U
	case 'f':
		return n.F
	case 'g':
		return float32(n.F)
	case 'L':
		if n.Nil {
			return []string(nil)
		}
		l := make([]string, len(n.L))
		for i, e := range n.L {
			l[i] = e.S
		}
		return l
	case 'M':
		if n.Nil {
			return map[string]string(nil)
		}
		m := make(map[string]string, len(n.M))
		for k, e := range n.M {
			m[k] = e.S
		}
		return m
	case 'l':
		if n.Nil {
			return []any(nil)
		}
		l := make([]any, len(n.L))
		for i, e := range n.L {
			l[i] = e.value()
		}
		return l
	case 'm', 'V':
		var m map[string]any
		if !n.Nil {
			m = make(map[string]any, len(n.M))
			for k, e := range n.M {
				m[k] = e.value()
			}
		}
		if n.T == 'V' {
			return common.Values(m)
		}
		return m
	}
	return nil
}

// sandboxResponse is what a sandboxed render hands back.
type sandboxResponse struct {
	// Objects is the JSON array of the rendered objects, in install order.
	Objects []byte
	// Files are Helm's rendered files, for a request for them; FileNodes counts the JSON values of the
	// objects they decode to.
	Files     map[string]string
	FileNodes int
	Notes     string
	Err       string
}

func init() {
	// A chart's metadata holds these in interface values (a dependency's import-values); gob must know
	// them to carry them.
	for _, v := range []any{map[string]any{}, []any{}, ""} {
		gob.Register(v)
	}
	if os.Getenv(sandboxEnv) == "1" {
		os.Exit(runSandbox(os.Stdin, os.Stdout))
	}
}

// runSandbox is the sandboxed render's process: it reads one request, bounds itself, renders and
// writes the response.
func runSandbox(in io.Reader, out io.Writer) int {
	var req sandboxRequest
	if err := gob.NewDecoder(in).Decode(&req); err != nil {
		fmt.Fprintf(os.Stderr, "reading the render request: %v\n", err)
		return 3
	}
	if err := limitSelf(req.Memory, req.CPU); err != nil {
		fmt.Fprintf(os.Stderr, "bounding the render: %v\n", err)
		return 3
	}
	resp := sandboxRender(req)
	if err := gob.NewEncoder(out).Encode(resp); err != nil {
		fmt.Fprintf(os.Stderr, "writing the render: %v\n", err)
		return 3
	}
	return 0
}

// limitSelf bounds the process's memory and CPU time. The kernel refuses address space beyond what the
// process holds now and memory more (the Go runtime then exits: "out of memory") and kills the process
// when it has used its CPU time. The bound is on address space, which Go's heap grows in and which
// the kernel checks at every mapping; RLIMIT_DATA, on the memory mapped writable alone, did not hold a
// Go process of this size in every run.
func limitSelf(memory int64, cpu time.Duration) error {
	if memory > 0 {
		debug.SetMemoryLimit(memory * 3 / 4) // collect harder before the hard bound
		held, err := addressSpace()
		if err != nil {
			return err
		}
		limit := uint64(held + memory)
		if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: limit, Max: limit}); err != nil {
			return fmt.Errorf("RLIMIT_AS: %w", err)
		}
	}
	if seconds := uint64(cpu / time.Second); seconds > 0 {
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, &syscall.Rlimit{Cur: seconds, Max: seconds + 1}); err != nil {
			return fmt.Errorf("RLIMIT_CPU: %w", err)
		}
	}
	return nil
}

// addressSpace is the process's address space now, in bytes (VmSize).
func addressSpace() (int64, error) {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if rest, ok := strings.CutPrefix(line, "VmSize:"); ok {
			var kib int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kib); err != nil {
				return 0, fmt.Errorf("reading VmSize %q: %w", rest, err)
			}
			return kib << 10, nil
		}
	}
	return 0, errors.New("no VmSize in /proc/self/status")
}

func sandboxRender(req sandboxRequest) sandboxResponse {
	chart := req.Chart.chart()
	values, _ := req.Values.value().(map[string]any)
	if req.Files {
		files, err := renderFilesInProcess(chart, values, req.Options, req.Caps)
		if err != nil {
			return sandboxResponse{Err: err.Error()}
		}
		nodes := 0
		for _, doc := range splitRendered(files) {
			objects, err := decodeManifest([]byte(doc.content))
			if err != nil {
				return sandboxResponse{Err: fmt.Sprintf("YAML parse error on %s: %v", doc.path, err)}
			}
			for _, obj := range objects {
				data, err := obj.MarshalJSON()
				if err != nil {
					return sandboxResponse{Err: err.Error()}
				}
				nodes += jsonNodes(data)
			}
		}
		return sandboxResponse{Files: files, FileNodes: nodes}
	}
	objects, notes, _, err := renderChartTextsInProcess(context.Background(), chart, values, req.Options, req.Caps)
	if err != nil {
		return sandboxResponse{Err: err.Error()}
	}
	list := make([]map[string]any, len(objects))
	for i, obj := range objects {
		list[i] = obj.Object
	}
	data, err := utiljson.Marshal(list)
	if err != nil {
		return sandboxResponse{Err: err.Error()}
	}
	return sandboxResponse{Objects: data, Notes: notes}
}

// renderSandboxed renders chart in a sandbox process (see the top of this file) and returns its objects
// and notes, as renderChartTextsInProcess would.
func renderSandboxed(ctx context.Context, chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) ([]*unstructured.Unstructured, string, error) {
	resp, err := callSandbox(ctx, chart, values, sandboxRequest{Options: options, Caps: caps})
	if err != nil {
		return nil, "", sandboxError(chart, err)
	}
	if n := jsonNodes(resp.Objects); n > maxRenderedNodes {
		return nil, "", fmt.Errorf("rendering chart %s: %w: its objects hold %d JSON values, more than %d", chart.Name(), ErrRenderLimit, n, maxRenderedNodes)
	}
	var list []map[string]any
	if err := utiljson.Unmarshal(resp.Objects, &list); err != nil {
		return nil, "", fmt.Errorf("rendering chart %s: reading what the render returned: %w", chart.Name(), err)
	}
	objects := make([]*unstructured.Unstructured, len(list))
	for i, obj := range list {
		objects[i] = &unstructured.Unstructured{Object: obj}
	}
	return objects, resp.Notes, nil
}

// renderFilesSandboxed renders chart's files in a sandbox process, as renderFilesInProcess would.
func renderFilesSandboxed(chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) (map[string]string, error) {
	resp, err := callSandbox(context.Background(), chart, values, sandboxRequest{Files: true, Options: options, Caps: caps})
	if err != nil {
		return nil, sandboxError(chart, err)
	}
	if resp.FileNodes > maxRenderedNodes {
		return nil, fmt.Errorf("rendering chart %s: %w: its objects hold %d JSON values, more than %d", chart.Name(), ErrRenderLimit, resp.FileNodes, maxRenderedNodes)
	}
	return resp.Files, nil
}

// callSandbox runs one render in a new sandbox process. A render error of the chart's own comes back as
// an error with Helm's message; one that went beyond a bound wraps ErrRenderLimit and says which.
func callSandbox(ctx context.Context, chart *chartv2.Chart, values map[string]any, req sandboxRequest) (*sandboxResponse, error) {
	req.Memory, req.CPU = sandboxMemory, sandboxTimeout
	var err error
	if req.Chart, err = toSandboxChart(chart); err != nil {
		return nil, fmt.Errorf("handing the chart to its render: %w", err)
	}
	if req.Values, err = toValueNode(values); err != nil {
		return nil, fmt.Errorf("handing the values to the render: %w", err)
	}
	var input bytes.Buffer
	if err := gob.NewEncoder(&input).Encode(req); err != nil {
		return nil, fmt.Errorf("handing the chart to its render: %w", err)
	}
	self, err := sandboxExecutable()
	if err != nil {
		return nil, fmt.Errorf("finding meshkeeper's binary to render in: %w", err)
	}
	// The wait for the slot is not the render's time: its bound starts once it has the slot.
	select {
	case sandboxSlot <- struct{}{}:
		defer func() { <-sandboxSlot }()
	case <-ctx.Done():
		return nil, fmt.Errorf("the render was stopped waiting for another to end: %w", context.Cause(ctx))
	}
	running := sandboxesRunning.Add(1)
	defer sandboxesRunning.Add(-1)
	for {
		peak := sandboxesPeak.Load()
		if running <= peak || sandboxesPeak.CompareAndSwap(peak, running) {
			break
		}
	}
	ctx, cancel := context.WithTimeoutCause(ctx, sandboxTimeout, errSandboxTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, self)
	// Nothing of the manager's environment: the render needs none of it.
	cmd.Env = []string{sandboxEnv + "=1", "GOMAXPROCS=1"}
	cmd.Dir = "/"
	cmd.Stdin = &input
	stderr := &headWriter{max: 4096}
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = time.Second
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	// The kernel sends Pdeathsig when the thread that started the process ends, not the manager: this
	// goroutine keeps its thread until the process is gone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	sandboxRuns.Add(1)
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the render's process: %w", err)
	}
	output, readErr := io.ReadAll(io.LimitReader(stdout, maxSandboxOutput+1))
	tooLong := int64(len(output)) > maxSandboxOutput
	if tooLong {
		_ = cmd.Process.Kill()
	}
	waitErr := cmd.Wait()
	switch {
	case tooLong:
		return nil, fmt.Errorf("%w: it rendered more than %d MiB", ErrRenderLimit, maxSandboxOutput>>20)
	case errors.Is(context.Cause(ctx), errSandboxTimeout):
		return nil, fmt.Errorf("%w: it ran longer than %s", ErrRenderLimit, sandboxTimeout)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("the render was stopped: %w", context.Cause(ctx))
	case waitErr != nil:
		return nil, sandboxExitError(waitErr, stderr.String())
	case readErr != nil:
		return nil, fmt.Errorf("reading the render: %w", readErr)
	}
	var resp sandboxResponse
	if err := gob.NewDecoder(bytes.NewReader(output)).Decode(&resp); err != nil {
		return nil, fmt.Errorf("reading the render: %w", err)
	}
	if resp.Err != "" {
		return nil, chartError(resp.Err)
	}
	return &resp, nil
}

// chartError is a render's own error (a template's), as the sandbox process reported it.
type chartError string

func (e chartError) Error() string { return string(e) }

// sandboxError is err as a render of chart reports it: the chart's own errors name it already.
func sandboxError(chart *chartv2.Chart, err error) error {
	var own chartError
	if errors.As(err, &own) {
		return err
	}
	return fmt.Errorf("rendering chart %s: %w", chart.Name(), err)
}

// sandboxExitError says why a sandbox process ended without a response.
func sandboxExitError(err error, stderr string) error {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if status, ok := exit.Sys().(syscall.WaitStatus); ok && status.Signaled() && status.Signal() == syscall.SIGXCPU {
			return fmt.Errorf("%w: it used more than %s of CPU", ErrRenderLimit, sandboxTimeout)
		}
		// The Go runtime's fatal errors when the kernel refuses it memory (the last is a -race build's).
		if strings.Contains(stderr, "out of memory") || strings.Contains(stderr, "cannot allocate memory") ||
			strings.Contains(stderr, "cannot reserve") || strings.Contains(stderr, "address space collisions") {
			return fmt.Errorf("%w: it needed more than %d MiB of memory", ErrRenderLimit, sandboxMemory>>20)
		}
	}
	if line := failureLine(stderr); line != "" {
		return fmt.Errorf("the render's process failed (%v): %s", err, line)
	}
	return fmt.Errorf("the render's process failed: %w", err)
}

// failureLine is the line of a failed process's stderr that says why: the Go runtime's fatal error or
// panic, or else the last line.
func failureLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := range lines {
		if line := strings.TrimSpace(lines[i]); strings.HasPrefix(line, "fatal error") || strings.HasPrefix(line, "panic") {
			return line
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// headWriter keeps the first max bytes written to it: a Go runtime's fatal error comes first.
type headWriter struct {
	max int
	buf bytes.Buffer
}

func (w *headWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (w *headWriter) String() string { return w.buf.String() }

// renderFilesInProcess renders chart's templates with Helm's engine, as `helm template` does.
func renderFilesInProcess(chart *chartv2.Chart, values map[string]any, options common.ReleaseOptions, caps *capabilities) (map[string]string, error) {
	renderValues, err := toRenderValues(chart, values, options, caps)
	if err != nil {
		return nil, fmt.Errorf("preparing values of chart %s: %w", chart.Name(), err)
	}
	files, err := engine.Render(chart, renderValues)
	if err != nil {
		return nil, fmt.Errorf("rendering chart %s: %w", chart.Name(), err)
	}
	return files, nil
}
