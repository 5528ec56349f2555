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

package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// unlinked are packages the manager must not link: each pulls in megabytes of code that meshkeeper never
// calls. The metrics endpoint's guard (internal/metricsauth) calls the review APIs itself rather than
// through controller-runtime's metrics/filters, which links the API server's authentication and
// authorization stacks and with them CEL, gRPC and OpenTelemetry's exporters. The chart manager
// (internal/helm) renders with Helm's engine and applies and stores releases itself rather than through
// Helm's actions, which link Helm's plugin runtime (WebAssembly), kustomize, kubectl's resource builder
// with its OpenAPI schema validation, and the SQL release storage; the chart resolver (internal/charts)
// reads repository indexes itself rather than through Helm's repo package, whose getters link the same
// plugin runtime.
var unlinked = []string{
	"helm.sh/helm/v4/pkg/action",
	"helm.sh/helm/v4/pkg/kube",
	"helm.sh/helm/v4/pkg/getter",
	"helm.sh/helm/v4/pkg/repo",
	"helm.sh/helm/v4/pkg/storage",
	"helm.sh/helm/v4/internal/plugin",
	"github.com/tetratelabs/wazero",
	"github.com/extism/go-sdk",
	"sigs.k8s.io/kustomize",
	"k8s.io/cli-runtime",
	"k8s.io/kubectl",
	"github.com/lib/pq",
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters",
	"k8s.io/apiserver/pkg/authentication",
	"k8s.io/apiserver/pkg/authorization",
	"k8s.io/apiserver/pkg/server",
	"github.com/google/cel-go",
	"cel.dev/expr",
	"google.golang.org/grpc",
	"go.opentelemetry.io/otel/exporters",
	"go.opentelemetry.io/otel/sdk",
}

// TestBinaryLeavesOutUnusedPackages lists the manager's dependencies as a plain go build links them and
// fails if one of the unlinked packages is among them. Which packages a build links is deterministic,
// unlike the binary's size, which moves with the Go version.
func TestBinaryLeavesOutUnusedPackages(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	checkUnlinked(t, strings.Fields(string(out)))
}

// imageAPIGroups are the only API groups the image's manager links (hack/trimdeps): those it reads or
// writes, and those its dependencies' code that it calls imports (discovery, events, evictions,
// admission reviews, scale).
var imageAPIGroups = []string{
	"k8s.io/api/admission/v1",
	"k8s.io/api/admission/v1beta1",
	"k8s.io/api/admissionregistration/v1",
	"k8s.io/api/apidiscovery/v2",
	"k8s.io/api/apps/v1",
	"k8s.io/api/authentication/v1",
	"k8s.io/api/authorization/v1",
	"k8s.io/api/autoscaling/v1",
	"k8s.io/api/autoscaling/v2",
	"k8s.io/api/coordination/v1",
	"k8s.io/api/core/v1",
	"k8s.io/api/events/v1",
	"k8s.io/api/events/v1beta1",
	"k8s.io/api/networking/v1",
	"k8s.io/api/policy/v1",
	"k8s.io/api/policy/v1beta1",
	"k8s.io/api/rbac/v1",
}

// TestImageBinaryLinksOnlyTheAPIGroupsItUses lists the dependencies of the manager as the image builds
// it (hack/trimdeps) and fails if it links client-go's clientset, informers or listers, an API group
// outside imageAPIGroups, or one of the unlinked packages.
func TestImageBinaryLinksOnlyTheAPIGroupsItUses(t *testing.T) {
	cmd := exec.Command("go", "run", "./hack/trimdeps", "-list")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go run ./hack/trimdeps -list: %v\n%s", err, stderr.String())
	}
	deps := strings.Fields(string(out))
	checkUnlinked(t, deps)
	for _, dep := range deps {
		switch {
		case dep == "k8s.io/client-go/kubernetes", strings.HasPrefix(dep, "k8s.io/client-go/informers"),
			strings.HasPrefix(dep, "k8s.io/client-go/listers"):
			t.Errorf("the image's manager links %s, which imports every API group", dep)
		case strings.HasPrefix(dep, "k8s.io/api/") && !slices.Contains(imageAPIGroups, dep):
			t.Errorf("the image's manager links the API group %s, which is not in imageAPIGroups", dep)
		}
	}
}

func checkUnlinked(t *testing.T, deps []string) {
	t.Helper()
	if len(deps) < 100 || !slices.Contains(deps, "sigs.k8s.io/controller-runtime/pkg/manager") {
		t.Fatalf("the listing has %d packages without controller-runtime's manager: it is broken", len(deps))
	}
	for _, dep := range deps {
		for _, prefix := range unlinked {
			if dep == prefix || strings.HasPrefix(dep, prefix+"/") {
				t.Errorf("the manager links %s (matching %s): see unlinked for why it must not", dep, prefix)
			}
		}
	}
}
