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

// Package controlplane runs the real manager against a real kube-apiserver and etcd with the real
// upstream Istio charts, and checks what it installs, upgrades, repairs and removes.
package controlplane

import (
	"context"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
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
	env       *testenv.Env
	cfg       *rest.Config
	k8sClient client.Client
	scheme    *runtime.Scheme
	ctx       context.Context
	// metricsURL is the manager's metrics endpoint.
	metricsURL string
	// managerGets counts the manager's single-object reads by URL path.
	managerGets = &testenv.RequestCounter{Match: func(req *http.Request) bool {
		return req.Method == http.MethodGet && req.URL.Query().Get("watch") == ""
	}}
	// managerInformers counts the informers the manager's caches start, by URL path: with streaming
	// lists each starts with a watch that asks for the initial events (later watches resume from a
	// resource version).
	managerInformers = &testenv.RequestCounter{Match: func(req *http.Request) bool {
		q := req.URL.Query()
		return req.Method == http.MethodGet && q.Get("watch") != "" && q.Get("sendInitialEvents") == "true"
	}}
	// managerRecordLists counts, by URL path, the manager's lists of every Helm release record of a
	// namespace (label selector owner=helm alone), as opposed to those of one release.
	managerRecordLists = &testenv.RequestCounter{Match: func(req *http.Request) bool {
		q := req.URL.Query()
		return req.Method == http.MethodGet && q.Get("watch") == "" && q.Get("labelSelector") == "owner=helm"
	}}
	// managerReleaseLists counts the manager's lists of one Helm release's records (label selector
	// name=<release>,owner=helm), which the chart manager reads a release's state from, by URL path and
	// release.
	managerReleaseLists = &releaseListCounter{}
	cancel              context.CancelFunc

	// helmRepo and ociRegistry serve base, istiod and cni at repoVersion to the manager.
	helmRepo *chartrepo.Repo
	// unreachableRepository is an allowed repository on a port that refuses connections.
	unreachableRepository string
	ociRegistry           *chartrepo.Registry
)

// long marks the containers that take 15 s or more (a minute for the longest): they run before the
// others. The processes take the containers one after the other from a shared list in random order,
// and a long one taken last would run on one process while the others have finished; the short ones
// taken last even out the ends instead.
var long = SpecPriority(1)

func TestControlPlane(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Control plane suite")
}

var _ = BeforeSuite(func() {
	logf.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())

	// The Service range of a kubeadm cluster, which the specs' spec.ingressNginx.serviceCIDRs name: the
	// Ingress decision checks that the controller's sidecar captures each backend's ClusterIP.
	env = testenv.Start(GinkgoT(), testenv.WithServiceCIDR("10.96.0.0/12"))
	cfg, k8sClient, scheme = env.Config, env.Client, env.Scheme
	// The specs' ingress-nginx controllers run as their namespace's default service account, which may
	// list IngressClasses, as the ingress-nginx chart lets its controller.
	grantIngressClasses()

	By("serving base, istiod and cni " + repoVersion + " from a Helm repository and an OCI registry")
	var served []chartrepo.Chart
	for _, name := range []string{charts.Base, charts.Istiod, charts.CNI} {
		c, err := chartrepo.Package(name, repoVersion)
		Expect(err).NotTo(HaveOccurred())
		served = append(served, c)
	}
	refused, err := chartrepo.RefusedAddr()
	Expect(err).NotTo(HaveOccurred())
	unreachableRepository = "https://" + refused
	helmRepo, err = chartrepo.ServeHTTPS(served...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(helmRepo.Close)
	ociRegistry, err = chartrepo.ServeOCI(served...)
	Expect(err).NotTo(HaveOccurred())
	DeferCleanup(ociRegistry.Close)

	// The real manager, as main.go builds it, with metrics over plain HTTP on a free loopback port (the
	// HTTPS and authorization of the metrics endpoint are controller-runtime's, not meshkeeper's).
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	metricsAddr := listener.Addr().String()
	Expect(listener.Close()).To(Succeed())
	metricsURL = "http://" + metricsAddr + "/metrics"
	// The manager main.go builds, with a fetcher that trusts the test servers' certificates instead of
	// the system's roots, and the test servers allowed as the installer allows repositories with
	// --allowed-chart-repositories.
	managerConfig := rest.CopyConfig(cfg)
	managerConfig.Wrap(managerGets.Wrap)
	managerConfig.Wrap(managerInformers.Wrap)
	managerConfig.Wrap(managerRecordLists.Wrap)
	managerConfig.Wrap(managerReleaseLists.Wrap)
	mgr, err := controllers.NewManager(managerConfig, controllers.ManagerOptions{
		Options: ctrl.Options{
			Scheme:                 scheme,
			Metrics:                metricsserver.Options{BindAddress: metricsAddr},
			HealthProbeBindAddress: "0",
		},
		Controllers: controllers.Options{
			Fetcher: charts.RemoteFetcher{HTTPClient: chartrepo.TrustingClient(helmRepo, ociRegistry)},
			Policy:  charts.Policy{Repositories: charts.ParseList(helmRepo.URL() + "," + ociRegistry.URL() + "," + unreachableRepository)},
		},
	})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	// Cleanups run last registered first: the manager stops before the servers it talks to.
	DeferCleanup(cancel)
})

// releaseListCounter counts the lists of one Helm release's records that pass through it, by URL path
// (the namespace's Secrets) and release.
type releaseListCounter struct {
	mu     sync.Mutex
	counts map[string]map[string]int
}

// Wrap counts the lists of one release's records that pass through next.
func (c *releaseListCounter) Wrap(next http.RoundTripper) http.RoundTripper {
	return testenv.RoundTripperFunc(func(req *http.Request) (*http.Response, error) {
		q := req.URL.Query()
		selector := q.Get("labelSelector")
		release, ok := strings.CutSuffix(strings.TrimPrefix(selector, "name="), ",owner=helm")
		if req.Method == http.MethodGet && q.Get("watch") == "" && strings.HasPrefix(selector, "name=") && ok {
			c.mu.Lock()
			if c.counts == nil {
				c.counts = map[string]map[string]int{}
			}
			if c.counts[req.URL.Path] == nil {
				c.counts[req.URL.Path] = map[string]int{}
			}
			c.counts[req.URL.Path][release]++
			c.mu.Unlock()
		}
		return next.RoundTrip(req)
	})
}

// Of is how many lists of each release's records went to path.
func (c *releaseListCounter) Of(path string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts[path])
}
