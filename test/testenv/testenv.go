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

// Package testenv starts the real kube-apiserver and etcd that test/tools built into bin/, with
// meshkeeper's CRDs installed, for the envtest tiers.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// RepoRoot is the root of the meshkeeper checkout.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// AssetsDir is where the cluster binaries are: KUBEBUILDER_ASSETS when the Makefile sets it, bin/
// otherwise, so `go test ./...` works after `make envtest` too.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin")
}

// New returns an envtest environment that installs meshkeeper's CRDs. It fails early, with the command
// that fixes it, when the cluster binaries have not been built.
func New() (*envtest.Environment, error) {
	assets := AssetsDir()
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, fmt.Errorf("cluster binary %s not found in %s: run 'make envtest' first: %w", name, assets, err)
		}
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(RepoRoot(), "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: assets,
	}
	// The istiod chart's webhooks point at the in-cluster istiod Service, which no test API server can
	// reach; the tier that runs a real istiod calls its endpoints directly.
	env.ControlPlane.GetAPIServer().Configure().Append("disable-admission-plugins",
		"MutatingAdmissionWebhook,ValidatingAdmissionWebhook")
	return env, nil
}

// StartRecording starts env for one test and stops it when the test ends. It returns a client whose
// API warnings are recorded, for tests that must fail on a warning as well as on an error.
func StartRecording(t testing.TB, env *envtest.Environment) (client.Client, *Warnings) {
	t.Helper()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting the API server: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	recorded := &Warnings{}
	cfg.WarningHandlerWithContext = recorded
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return c, recorded
}

// WriteKubeconfig writes a kubeconfig for an admin user of env into dir and returns its path.
func WriteKubeconfig(env *envtest.Environment, dir string) (string, error) {
	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return "", fmt.Errorf("adding an admin user: %w", err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		return "", fmt.Errorf("writing a kubeconfig: %w", err)
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, os.WriteFile(path, kubeconfig, 0o600)
}

// Kubectl runs the kubectl that test/tools built against kubeconfig, with stdin as its input, and
// returns its combined output.
func Kubectl(kubeconfig, stdin string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(AssetsDir(), "kubectl"), append([]string{"--kubeconfig", kubeconfig}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// Warnings records the Warning headers of the API server's answers (deprecated APIs, unknown or
// duplicate fields, Pod Security findings), so a test can require that there are none. Set it as a
// rest.Config's WarningHandlerWithContext.
type Warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeaderWithContext implements rest.WarningHandlerWithContext.
func (w *Warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// Take returns the warnings recorded since the last Take.
func (w *Warnings) Take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	list := w.list
	w.list = nil
	return list
}

// Scheme holds every type the tests read: Kubernetes', the CRD API's and meshkeeper's.
func Scheme() (*k8sruntime.Scheme, error) {
	scheme := k8sruntime.NewScheme()
	for _, add := range []func(*k8sruntime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, meshv1alpha1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	return scheme, nil
}
