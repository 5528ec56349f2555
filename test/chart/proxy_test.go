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

package chart

import (
	"bufio"
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// proxyProbeEnv marks the test binary run by TestProxyExampleSparesTheAPIServer as the one that
// prints where Go's HTTP transport sends each URL.
const proxyProbeEnv = "MESHKEEPER_PROXY_PROBE"

// TestProxyExampleSparesTheAPIServer renders the chart with the extraEnv example of values.yaml and of
// docs/install.md and runs a process with the environment the manager gets. client-go, without a
// Proxy in its rest.Config, sends through http.ProxyFromEnvironment, which reads the environment once
// per process: an HTTPS_PROXY without a NO_PROXY for the in-cluster API server sends every API call to
// the proxy. The example must spare the API server (the kubernetes Service's IP in kubeadm's Service
// CIDR, and its name) and still proxy a chart repository.
func TestProxyExampleSparesTheAPIServer(t *testing.T) {
	if os.Getenv(proxyProbeEnv) != "" {
		t.Skip("the probe runs only as TestProxyProbe")
	}
	for source, example := range map[string][]any{
		"values.yaml":     valuesProxyExample(t),
		"docs/install.md": docsProxyExample(t),
	} {
		t.Run(source, func(t *testing.T) {
			objects := render(t, map[string]any{"extraEnv": example}, defaultRelease, defaultNamespace)
			manager := container(t, as[appsv1.Deployment](t, objects.get(t, "Deployment", "meshkeeper")), "manager")
			env := []string{proxyProbeEnv + "=1"}
			for _, v := range manager.Env {
				env = append(env, v.Name+"="+v.Value)
			}
			probe := exec.Command(os.Args[0], "-test.run=^TestProxyProbe$", "-test.count=1")
			probe.Env = env
			out, err := probe.CombinedOutput()
			if err != nil {
				t.Fatalf("probe: %v\n%s", err, out)
			}
			routes := map[string]string{}
			for line := range strings.Lines(string(out)) {
				if url, proxy, ok := strings.Cut(strings.TrimSpace(line), " -> "); ok {
					routes[url] = proxy
				}
			}
			for _, apiServer := range []string{"https://10.96.0.1:443", "https://kubernetes.default.svc:443"} {
				if proxy := routes[apiServer]; proxy != "direct" {
					t.Errorf("the API server at %s is reached through %s with the env %v", apiServer, proxy, manager.Env)
				}
			}
			if repo := "https://istio-release.storage.googleapis.com/charts/index.yaml"; routes[repo] == "direct" ||
				routes[repo] == "" {
				t.Errorf("the chart repository %s is reached %q, want through the proxy", repo, routes[repo])
			}
		})
	}
}

// TestProxyProbe prints where http.ProxyFromEnvironment sends the API server's and a chart
// repository's URLs; only TestProxyExampleSparesTheAPIServer runs it, in a process of its own.
func TestProxyProbe(t *testing.T) {
	if os.Getenv(proxyProbeEnv) == "" {
		t.Skip("run by TestProxyExampleSparesTheAPIServer")
	}
	for _, url := range []string{"https://10.96.0.1:443", "https://kubernetes.default.svc:443",
		"https://istio-release.storage.googleapis.com/charts/index.yaml"} {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		proxy, err := http.ProxyFromEnvironment(req)
		if err != nil {
			t.Fatal(err)
		}
		route := "direct"
		if proxy != nil {
			route = proxy.String()
		}
		fmt.Printf("%s -> %s\n", url, route)
	}
}

// valuesProxyExample is the extraEnv example in the comments of the chart's values.yaml.
func valuesProxyExample(t *testing.T) []any {
	data, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var example bytes.Buffer
	scanner := bufio.NewScanner(bytes.NewReader(data))
	for scanner.Scan() {
		line := scanner.Text()
		if line == "# extraEnv:" || example.Len() > 0 && strings.HasPrefix(line, "# - ") {
			example.WriteString(strings.TrimPrefix(line, "# ") + "\n")
		} else if example.Len() > 0 {
			break
		}
	}
	return parseProxyExample(t, "values.yaml", example.Bytes())
}

// docsProxyExample is the extraEnv example of docs/install.md: its yaml block that sets extraEnv.
func docsProxyExample(t *testing.T) []any {
	data, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "docs", "install.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, block, _ := strings.Cut(string(data), "```yaml\nextraEnv:\n")
	block, _, _ = strings.Cut(block, "```")
	return parseProxyExample(t, "docs/install.md", []byte("extraEnv:\n"+block))
}

// parseProxyExample reads an extraEnv example as the chart's values, as Helm would, and fails t
// unless it sets HTTPS_PROXY.
func parseProxyExample(t *testing.T, source string, data []byte) []any {
	var values struct {
		ExtraEnv []corev1.EnvVar `json:"extraEnv"`
	}
	if err := yaml.UnmarshalStrict(data, &values); err != nil {
		t.Fatalf("%s: the extraEnv example: %v\n%s", source, err, data)
	}
	if !slices.ContainsFunc(values.ExtraEnv, func(v corev1.EnvVar) bool { return v.Name == "HTTPS_PROXY" }) {
		t.Fatalf("%s has no extraEnv example with HTTPS_PROXY:\n%s", source, data)
	}
	var raw map[string][]any
	if err := yaml.Unmarshal(data, &raw); err != nil {
		t.Fatal(err)
	}
	return raw["extraEnv"]
}
