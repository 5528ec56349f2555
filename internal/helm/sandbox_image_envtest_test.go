//go:build envtest

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
	"errors"
	"os"
	"strings"
	"testing"

	"helm.sh/helm/v4/pkg/chart/common"

	"github.com/meshkeeper/meshkeeper/internal/charts"
)

// TestTheShippedBinaryIsTheSandbox: the manager's binary as the image builds it (the tier's
// MESHKEEPER_IMAGE_BINARY, testenv.ImageBinaryEnv) is the process a repository's chart renders in:
// started again, it renders the chart as the manager would, and holds a chart that allocates a GiB to
// its bound.
func TestTheShippedBinaryIsTheSandbox(t *testing.T) {
	binary := os.Getenv("MESHKEEPER_IMAGE_BINARY")
	if binary == "" {
		t.Fatal("MESHKEEPER_IMAGE_BINARY names no binary: run this tier through make")
	}
	defer func(executable func() (string, error)) { sandboxExecutable = executable }(sandboxExecutable)
	UseRenderBinary(binary)

	builtin, err := charts.Builtin(charts.Istiod)
	if err != nil {
		t.Fatal(err)
	}
	renderedAlikeInASandbox(t, builtin, map[string]any{"global": map[string]any{"hub": "docker.io/istio"}})

	_, _, err = renderChart(context.Background(), attackChartOf("bomb", `{{ $s := repeat 1073741824 "x" }}{{ len $s }}`), nil,
		sandboxOptions, common.DefaultCapabilities)
	if !errors.Is(err, ErrRenderLimit) || !strings.Contains(err.Error(), "more than 256 MiB of memory") {
		t.Fatalf("a GiB in the shipped binary's render: %v, want ErrRenderLimit for memory", err)
	}
}
