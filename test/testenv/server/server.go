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

// Package server starts the kube-apiserver and etcd that a package's own tests share when they cannot
// use test/testenv, which imports the controllers: the tests of the packages the controllers import.
// It imports nothing of meshkeeper's.
package server

import (
	"fmt"
	"os"
	"path/filepath"
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

// Start starts a kube-apiserver and etcd with test/testenv's settings, from the cluster binaries in
// KUBEBUILDER_ASSETS when the Makefile sets it, in bin/ of the checkout otherwise (a package's tests
// run in its directory, two levels below the checkout's root for those that use this package), with a
// client whose scheme holds schemes. A package's tests share one: the first test that needs it starts
// it, and the package's TestMain stops it (Env.Stop) once every test has run, since a server per test
// would cost each test seconds.
func Start(schemes ...func(*runtime.Scheme) error) (*Server, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join("..", "..", "bin")
	}
	for _, name := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, name)); err != nil {
			return nil, fmt.Errorf("cluster binary %s not found in %s: run 'make envtest' first: %w", name, assets, err)
		}
	}
	scheme := runtime.NewScheme()
	for _, add := range schemes {
		if err := add(scheme); err != nil {
			return nil, err
		}
	}
	// The tiers run side by side on few CPUs: envtest's 20 s to start is not always enough then.
	env := &envtest.Environment{BinaryAssetsDirectory: assets, ControlPlaneStartTimeout: time.Minute}
	// etcd's data is thrown away with the test run: it need not survive a crash of the machine.
	env.ControlPlane.Etcd = &envtest.Etcd{}
	env.ControlPlane.Etcd.Configure().Set("unsafe-no-fsync", "true")
	restoreGOGC := serverGOGC()
	config, err := env.Start()
	restoreGOGC()
	if err != nil {
		// envtest may have started etcd before the API server failed.
		_ = env.Stop()
		return nil, fmt.Errorf("starting the API server: %w", err)
	}
	c, err := client.New(config, client.Options{Scheme: scheme})
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	return &Server{Env: env, Config: config, Scheme: scheme, Client: c}, nil
}

// gogcEnv names the environment variable with the GOGC the tiers give their test servers: test/testenv's
// ServerGOGCEnv.
const gogcEnv = "TESTENV_SERVER_GOGC"

// serverGOGC sets GOGC for the servers envtest starts, which inherit the test process's environment
// (whose own collector read GOGC when it started), and returns what puts it back. A package's tests
// start one server, before any test of theirs could start a process of its own.
func serverGOGC() (restore func()) {
	gogc := os.Getenv(gogcEnv)
	if gogc == "" {
		return func() {}
	}
	old, had := os.LookupEnv("GOGC")
	_ = os.Setenv("GOGC", gogc)
	return func() {
		if had {
			_ = os.Setenv("GOGC", old)
		} else {
			_ = os.Unsetenv("GOGC")
		}
	}
}
