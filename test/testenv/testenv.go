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
	"strings"
	"sync"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/test/testenv/server"
)

// modulePath is the main module's path, the first line of the go.mod at the root of the checkout.
const modulePath = "github.com/meshkeeper/meshkeeper"

// RepoRoot is the root of the meshkeeper checkout: the nearest directory above the working directory
// (a test's package, or wherever `go run` was started) whose go.mod declares the main module. Source
// file paths are not used, so tests built with -trimpath (as the Makefile builds them) find it too.
func RepoRoot() string {
	dir, err := os.Getwd()
	if err != nil {
		panic(fmt.Sprintf("testenv: no working directory: %v", err))
	}
	return findModuleRoot(dir)
}

// findModuleRoot walks up from dir to the directory whose go.mod declares modulePath.
func findModuleRoot(dir string) string {
	for d := dir; ; d = filepath.Dir(d) {
		if data, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && declaresModule(data, modulePath) {
			return d
		}
		if filepath.Dir(d) == d {
			panic(fmt.Sprintf("testenv: no go.mod of %s above %s", modulePath, dir))
		}
	}
}

// declaresModule reports whether the go.mod text declares module path.
func declaresModule(gomod []byte, path string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if fields := strings.Fields(line); len(fields) == 2 && fields[0] == "module" {
			return strings.Trim(fields[1], `"`) == path
		}
	}
	return false
}

// AssetsDir is where the cluster binaries are: KUBEBUILDER_ASSETS when the Makefile sets it, bin/
// otherwise, so `go test ./...` works after `make envtest` too.
func AssetsDir() string {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir
	}
	return filepath.Join(RepoRoot(), "bin")
}

// T is what Start needs of the test it serves: *testing.T, *testing.B, Ginkgo's GinkgoT() and *Suite
// (for a TestMain) all have it. What Start starts is stopped by the cleanups it registers.
type T interface {
	Helper()
	Cleanup(func())
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Env is a running kube-apiserver and etcd with meshkeeper's CRDs installed.
type Env struct {
	// Environment is envtest's handle, for adding users.
	Environment *envtest.Environment
	// Config is an admin's connection to the API server.
	Config *rest.Config
	// Client is a client for Config that knows Scheme's types.
	Client client.Client
	// Scheme holds every type the tests read (see Scheme).
	Scheme *k8sruntime.Scheme
	// Warnings records the API server's warnings to Client when the environment was started with
	// RecordWarnings; it is nil otherwise.
	Warnings *Warnings
}

// Option changes what Start starts.
type Option func(*options)

type options struct {
	crds           []*apiextensionsv1.CustomResourceDefinition
	noCRDs         bool
	serviceCIDR    string
	recordWarnings bool
}

// WithCRDs installs crds instead of config/crd/bases, for tests of CRDs shipped elsewhere (the OLM
// bundle).
func WithCRDs(crds ...*apiextensionsv1.CustomResourceDefinition) Option {
	return func(o *options) {
		for _, crd := range crds {
			o.crds = append(o.crds, crd.DeepCopy())
		}
	}
}

// WithoutCRDs installs no CRD, for tests that install them the way an installer does.
func WithoutCRDs() Option {
	return func(o *options) { o.noCRDs = true }
}

// WithServiceCIDR sets the API server's Service range. envtest's default, a /24, holds 254 ClusterIPs.
func WithServiceCIDR(cidr string) Option {
	return func(o *options) { o.serviceCIDR = cidr }
}

// RecordWarnings makes Env.Client record the API server's warnings in Env.Warnings instead of
// logging them, for tests that must fail on a warning as well as on an error.
func RecordWarnings() Option {
	return func(o *options) { o.recordWarnings = true }
}

// Start starts a kube-apiserver and etcd for t, from the cluster binaries test/tools built, with
// meshkeeper's CRDs installed, and stops them when t cleans up. It is the one way the test tiers start
// an API server: a test passes its *testing.T or *testing.B, a Ginkgo suite GinkgoT() in its
// BeforeSuite, a TestMain a *Suite. It fails t early, with the command that fixes it, when the cluster
// binaries have not been built.
func Start(t T, opts ...Option) *Env {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	scheme, err := Scheme()
	if err != nil {
		t.Fatalf("building the scheme: %v", err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: AssetsDir(), CRDs: o.crds}
	if len(o.crds) == 0 && !o.noCRDs {
		env.CRDDirectoryPaths = []string{filepath.Join(RepoRoot(), "config", "crd", "bases")}
		env.ErrorIfCRDPathMissing = true
	}
	apiserver := env.ControlPlane.GetAPIServer().Configure()
	// The istiod chart's webhooks point at the in-cluster istiod Service, which no test API server can
	// reach; the tier that runs a real istiod calls its endpoints directly.
	apiserver.Append("disable-admission-plugins", "MutatingAdmissionWebhook,ValidatingAdmissionWebhook")
	if o.serviceCIDR != "" {
		apiserver.Set("service-cluster-ip-range", o.serviceCIDR)
	}
	cfg, err := server.StartEnvironment(env)
	if err != nil {
		t.Fatalf("%v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping the API server: %v", err)
		}
	})
	e := &Env{Environment: env, Config: cfg, Scheme: scheme}
	clientConfig := cfg
	if o.recordWarnings {
		e.Warnings = &Warnings{}
		clientConfig = rest.CopyConfig(cfg)
		clientConfig.WarningHandlerWithContext = e.Warnings
	}
	if e.Client, err = client.New(clientConfig, client.Options{Scheme: scheme}); err != nil {
		t.Fatalf("creating a client: %v", err)
	}
	return e
}

// ServerGOGCEnv names an environment variable with the GOGC the test servers (etcd, kube-apiserver, the
// simulated cluster's controllers and kwok) run with: make's tiers set it, since those servers spend a
// good part of the tiers' CPU collecting garbage (the control-plane suite's API server: 43.0 s of CPU
// at Go's default, 36.7 s at 400). The test processes and the managers they start do not get it, and the
// benchmarks run without it unless it is set.
const ServerGOGCEnv = server.GOGCEnv

// ServerEnv is what the test servers add to the test's environment: GOGC from ServerGOGCEnv, or nothing.
func ServerEnv() []string {
	if gogc := os.Getenv(ServerGOGCEnv); gogc != "" {
		return []string{"GOGC=" + gogc}
	}
	return nil
}

// WriteKubeconfig writes a kubeconfig for an admin user of the API server into dir and returns its
// path, for the processes a test runs (kubectl, the manager binary, istiod).
func (e *Env) WriteKubeconfig(dir string) (string, error) {
	return WriteKubeconfig(e.Environment, dir)
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
