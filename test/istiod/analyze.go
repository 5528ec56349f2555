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

package istiod

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// meshValidationWarning starts the line Istio logs, in istiod and in istioctl alike, when the mesh
// config it loads passes validation with warnings (pkg/config/mesh: ApplyMeshConfig).
const meshValidationWarning = "warnings occurred during mesh validation"

// AnalysisMessage is one finding of istioctl analyze, as its JSON output has it.
type AnalysisMessage struct {
	// Code is the analyzer's message code, e.g. IST0102.
	Code string `json:"code"`
	// Level is Error, Warning or Info.
	Level string `json:"level"`
	// Origin names the object, e.g. "Namespace app" or "Sidecar shop/default".
	Origin string `json:"origin"`
	// Reference is where in the object, when the analyzer knows.
	Reference string `json:"reference"`
	// Message says what is wrong.
	Message string `json:"message"`
	// DocumentationURL explains the code.
	DocumentationURL string `json:"documentationUrl"`
}

func (m AnalysisMessage) String() string {
	return fmt.Sprintf("%s [%s] (%s) %s", m.Level, m.Code, m.Origin, m.Message)
}

// Analysis is what istioctl analyze found.
type Analysis struct {
	// Messages are the analyzers' findings of every level.
	Messages []AnalysisMessage
	// MeshConfigWarnings are the warnings of Istio's validation of the mesh config istioctl loaded.
	MeshConfigWarnings []string
	// Stderr is what istioctl wrote to stderr.
	Stderr string
	// Log is istioctl's log: the lines it wrote before the messages, and stderr.
	Log string
}

// AtLeast returns the messages of the level or above: "Error", or "Warning" for warnings and errors.
func (a Analysis) AtLeast(level string) []AnalysisMessage {
	var out []AnalysisMessage
	for _, m := range a.Messages {
		if m.Level == "Error" || (level == "Warning" && m.Level == "Warning") {
			out = append(out, m)
		}
	}
	return out
}

// AnalyzeOptions configure Analyze.
type AnalyzeOptions struct {
	// Kubeconfig is the path of a kubeconfig with admin rights on the API server (required).
	Kubeconfig string
	// Namespace is the control-plane namespace, whose istio ConfigMap holds the mesh config. Default
	// istio-system.
	Namespace string
	// MeshConfigFile, when set, is analyzed instead of the cluster's mesh config.
	MeshConfigFile string
	// Binary is the istioctl binary. Default: istioctl in testenv.AssetsDir().
	Binary string
}

// Analyze runs Istio's analyzers (istioctl analyze, built from the same istio.io/istio module as
// pilot-discovery) over every namespace of the cluster: the mesh config, webhooks, injection and
// policies as the API server has them.
func Analyze(ctx context.Context, opts AnalyzeOptions) (Analysis, error) {
	if opts.Namespace == "" {
		opts.Namespace = "istio-system"
	}
	if opts.Binary == "" {
		opts.Binary = filepath.Join(testenv.AssetsDir(), "istioctl")
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return Analysis{}, fmt.Errorf("istioctl not found: run 'make envtest' (or 'make %s') first: %w", opts.Binary, err)
	}
	args := []string{"analyze", "--all-namespaces",
		"--kubeconfig", opts.Kubeconfig,
		"--istioNamespace", opts.Namespace,
		"--output", "json",
		"--output-threshold", "Info",
		"--timeout", "1m",
	}
	if opts.MeshConfigFile != "" {
		args = append(args, "--meshConfigFile", opts.MeshConfigFile)
	}
	cmd := exec.CommandContext(ctx, opts.Binary, args...)
	// istioctl keeps a config file and a cache under HOME; the test's are its own.
	cmd.Env = append(os.Environ(), "HOME="+os.TempDir())
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	// istioctl's log lines (the mesh-config warnings among them) can come before the JSON on stdout.
	logged, messages := splitJSONList(stdout.String())
	analysis := Analysis{Stderr: stderr.String(), Log: logged + stderr.String()}
	if err != nil {
		return analysis, fmt.Errorf("istioctl %s: %w\n%s", strings.Join(args, " "), err, analysis.Log)
	}
	if err := json.Unmarshal([]byte(messages), &analysis.Messages); err != nil {
		return analysis, fmt.Errorf("istioctl analyze printed no JSON list of messages: %w\n%s", err, stdout.String())
	}
	analysis.MeshConfigWarnings = MeshConfigWarnings(analysis.Log)
	return analysis, nil
}

// splitJSONList splits istioctl's output into the log lines before the JSON list of messages and the
// list, which starts at the first line that is "[".
func splitJSONList(out string) (logged, list string) {
	if strings.HasPrefix(out, "[") {
		return "", out
	}
	if i := strings.Index(out, "\n[\n"); i >= 0 {
		return out[:i+1], out[i+1:]
	}
	return out, ""
}

// MeshConfigWarnings returns the warnings of Istio's mesh-config validation in a log (istiod's or
// istioctl's): each the line that announces them with the lines of detail that follow it, up to an
// empty line or the next log entry.
func MeshConfigWarnings(log string) []string {
	var out []string
	var current []string
	flush := func() {
		if current != nil {
			out = append(out, strings.Join(current, " "))
			current = nil
		}
	}
	for line := range strings.Lines(log) {
		line = strings.TrimSpace(line)
		switch {
		case strings.Contains(line, meshValidationWarning):
			flush()
			current = []string{line}
		case current != nil && line != "" && !logEntry.MatchString(line):
			current = append(current, line)
		default:
			flush()
		}
	}
	flush()
	return out
}

// logEntry matches the start of an Istio log line: its RFC 3339 timestamp.
var logEntry = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T`)
