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

// Package server starts the kube-apiserver and etcd of the tests: test/testenv starts its servers
// with it, and the tests of the packages the controllers import, which cannot use test/testenv (it
// imports the controllers), share one through Shared. It imports nothing of meshkeeper's.
package server

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Server is a kube-apiserver and etcd that Start started, with a scheme and an admin's client.
type Server struct {
	Env    *envtest.Environment
	Config *rest.Config
	Scheme *runtime.Scheme
	Client client.Client
}

// Start starts a kube-apiserver and etcd (StartEnvironment), from the cluster binaries in
// KUBEBUILDER_ASSETS when the Makefile sets it, in bin/ of the checkout otherwise (a package's tests
// run in its directory, two levels below the checkout's root for those that use Shared), with a client
// whose scheme holds schemes. The caller stops it (Env.Stop).
func Start(schemes ...func(*runtime.Scheme) error) (*Server, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "..", "bin")
	}
	scheme := runtime.NewScheme()
	for _, add := range schemes {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	config, err := StartEnvironment(env)
	if err != nil {
		return nil, err
	}
	c, err := client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return &Server{Env: env, Config: config, Scheme: scheme, Client: c}, nil
}

// StartEnvironment starts env, which names the directory of the cluster binaries and may carry CRDs and
// API-server flags, with the settings of every test server: a minute to start, etcd without fsync, and
// the servers' GOGC (GOGCEnv). It fails early, with the command that fixes it, when the cluster binaries
// have not been built, and stops what it started when the start fails.
func StartEnvironment(env *envtest.Environment) (*rest.Config, error) {
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(env.BinaryAssetsDirectory, name)); err != nil {
			return nil, fmt.Errorf("cluster binary %s not found in %s: run 'make envtest' first: %w", name, env.BinaryAssetsDirectory, err)
		}
	}
	// The tiers run side by side on few CPUs, so API servers often start while others are busy: envtest's
	// 20 s to start (each of its retries) is not always enough then.
	env.ControlPlaneStartTimeout = time.Minute
	// etcd's data is thrown away with the test: it need not survive a crash of the machine, so it
	// skips fsync, which on a disk makes every write wait for the device (the simulated cluster's etcd
	// does the same).
	if env.ControlPlane.Etcd == nil {
		env.ControlPlane.Etcd = &envtest.Etcd{}
	}
	env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
	restoreGOGC := serverGOGC()
	config, err := env.Start()
	restoreGOGC()
	if err != nil {
		// envtest may have started etcd before the API server failed.
		_ = env.Stop()
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	return config, nil
}

// Shared is the API server that a package's tests share, each test in namespaces of its own: the first
// test that asks for it (Get) starts it, so a run of the package's other tests starts none, and the
// package's TestMain stops it (Main) once every test has run. A server per test would cost each test
// seconds, and a top-level test with the others as subtests would rename them.
type Shared struct {
	schemes []func(*runtime.Scheme) error
	once    sync.Once
	server  *Server
	err     error
}

// NewShared is a Shared server whose client's scheme holds schemes.
func NewShared(schemes ...func(*runtime.Scheme) error) *Shared {
	return &Shared{schemes: schemes}
}

// Get returns the package's server, started by the first call. When that start failed, every test that
// asks fails with its error.
func (s *Shared) Get(t testing.TB) *Server {
	t.Helper()
	s.once.Do(func() { s.server, s.err = Start(s.schemes...) })
	if s.err != nil {
		t.Fatal(s.err)
	}
	return s.server
}

// Main runs m's tests, then stops the server if a test started it, and returns the exit code: m's, or 1
// when the server did not stop. It is the whole of the package's TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(apiServer.Main(m)) }
func (s *Shared) Main(m *testing.M) int {
	code := m.Run()
	// No server is started from now on: one started after the check below would not be stopped.
	s.once.Do(func() { s.err = fmt.Errorf("the package's tests have run: no API server is started now") })
	if s.server != nil {
		if err := s.server.Env.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "stopping the API server: %v\n", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// GOGCEnv names an environment variable with the GOGC the test servers run with: make's tiers set it,
// since those servers spend a good part of the tiers' CPU collecting garbage.
const GOGCEnv = "TESTENV_SERVER_GOGC"

var serverGOGCMu sync.Mutex

// serverGOGC sets GOGC for the servers envtest starts, which inherit the test process's environment
// (the test process's own collector read GOGC when it started, so it is not changed), and returns what
// puts it back. Starts are serialized while it is set; a process another goroutine of the test starts
// in that window inherits it too (envtest gives its servers no environment of their own).
func serverGOGC() (restore func()) {
	gogc := os.Getenv(GOGCEnv)
	if gogc == "" {
		return func() {}
	}
	serverGOGCMu.Lock()
	old, had := os.LookupEnv("GOGC")
	_ = os.Setenv("GOGC", gogc)
	return func() {
		if had {
			_ = os.Setenv("GOGC", old)
		} else {
			_ = os.Unsetenv("GOGC")
		}
		serverGOGCMu.Unlock()
	}
}
