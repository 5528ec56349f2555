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

// Package controlplane runs the real manager against a real kube-apiserver and etcd with the real
// upstream Istio charts, and checks what it installs, upgrades, repairs and removes.
package controlplane

import (
	"context"
	"net"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/test/chartrepo"
	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// repoVersion is the version the suite's Helm repository and OCI registry serve: one the built-in
// charts do not, so only a repository can install it.
const repoVersion = "1.30.2"

var (
	env       *envtest.Environment
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme
	ctx       context.Context
	// metricsURL is the manager's metrics endpoint.
	metricsURL string
	cancel     context.CancelFunc

	// helmRepo and ociRegistry serve base and istiod at repoVersion to the manager.
	helmRepo *chartrepo.Repo
	// unreachableRepository is an allowed repository on a port that refuses connections.
	unreachableRepository string
	ociRegistry           *chartrepo.Registry
)

func TestControlPlane(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Control plane suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	var err error
	scheme, err = testenv.Scheme()
	Expect(err).NotTo(HaveOccurred())
	env, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8sClient, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	By("serving base and istiod " + repoVersion + " from a Helm repository and an OCI registry")
	var served []chartrepo.Chart
	for _, name := range []string{charts.Base, charts.Istiod} {
		c, err := chartrepo.Package(name, repoVersion)
		Expect(err).NotTo(HaveOccurred())
		served = append(served, c)
	}
	refused, err := chartrepo.RefusedAddr()
	Expect(err).NotTo(HaveOccurred())
	unreachableRepository = "https://" + refused
	helmRepo, err = chartrepo.ServeHTTPS(served...)
	Expect(err).NotTo(HaveOccurred())
	ociRegistry, err = chartrepo.ServeOCI(served...)
	Expect(err).NotTo(HaveOccurred())

	// The real manager, as main.go builds it, with metrics over plain HTTP on a free loopback port (the
	// HTTPS and authorization of the metrics endpoint are controller-runtime's, not meshkeeper's).
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	metricsAddr := listener.Addr().String()
	Expect(listener.Close()).To(Succeed())
	metricsURL = "http://" + metricsAddr + "/metrics"
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress: "0",
		Cache:                  controllers.CacheOptions(),
	})
	Expect(err).NotTo(HaveOccurred())
	// The resolver SetupWithManager defaults to, with a client that trusts the test servers'
	// certificates instead of the system's roots, and the test servers allowed as the installer
	// allows repositories with --allowed-chart-repositories.
	resolver := &charts.CachingResolver{
		Fetcher: charts.RemoteFetcher{HTTPClient: chartrepo.TrustingClient(helmRepo, ociRegistry)},
		Policy:  charts.Policy{Repositories: charts.ParseList(helmRepo.URL() + "," + ociRegistry.URL() + "," + unreachableRepository)},
		Secrets: mgr.GetAPIReader(),
	}
	Expect(controllers.SetupWithManager(mgr, controllers.Options{Resolver: resolver})).To(Succeed())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
})

var _ = AfterSuite(func() {
	cancel()
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
	if helmRepo != nil {
		helmRepo.Close()
	}
	if ociRegistry != nil {
		ociRegistry.Close()
	}
})
