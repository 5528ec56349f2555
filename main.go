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

// Command meshkeeper is the manager: it runs the controllers that reconcile a ServiceMesh into an
// Istio mesh. It runs in cluster or, for development, out of cluster against a kubeconfig.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/logging"
	"github.com/meshkeeper/meshkeeper/internal/metricsauth"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(meshv1alpha1.AddToScheme(scheme))
}

// The environment variables that give the allow-list flags their defaults. OLM runs the manager with the
// arguments of the bundle's Deployment, and a Subscription can set its environment (spec.config.env) but
// not its arguments: without these, an OperatorHub install could not widen or narrow the allow-lists. A
// flag on the command line wins. They are the installer's to set, as the flags are: whoever may edit the
// manager's Deployment or Subscription holds its rights already.
const (
	envAllowedRepositories    = "MESHKEEPER_ALLOWED_CHART_REPOSITORIES"
	envAllowedHubs            = "MESHKEEPER_ALLOWED_IMAGE_HUBS"
	envControlPlaneNamespaces = "MESHKEEPER_CONTROL_PLANE_NAMESPACES"
)

// fromEnv is the value of the environment variable name when it is set, even empty, else builtin.
func fromEnv(name, builtin string) string {
	if value, ok := os.LookupEnv(name); ok {
		return value
	}
	return builtin
}

// managerFlags are the manager's command-line flags (docs/install.md lists them: TestInstallDocListsEveryFlag).
type managerFlags struct {
	metricsAddr            string
	probeAddr              string
	pprofAddr              string
	qps                    float64
	burst                  int
	secureMetrics          bool
	enableHTTP2            bool
	enableLeaderElection   bool
	leaderElectionNS       string
	leaseDuration          time.Duration
	renewDeadline          time.Duration
	retryPeriod            time.Duration
	allowedRepositories    string
	allowedHubs            string
	controlPlaneNamespaces string
	zap                    zap.Options
}

// bindFlags registers the manager's flags on fs; their values land in the managerFlags it returns once
// fs is parsed.
func bindFlags(fs *flag.FlagSet) *managerFlags {
	f := &managerFlags{zap: zap.Options{Development: false}}
	fs.StringVar(&f.metricsAddr, "metrics-bind-address", ":8443",
		"The address the metrics endpoint binds to; \"0\" disables it.")
	fs.StringVar(&f.probeAddr, "health-probe-bind-address", ":8081", "The address the health probes bind to.")
	fs.BoolVar(&f.secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS with authentication and authorization through the API server.")
	fs.BoolVar(&f.enableHTTP2, "enable-http2", false,
		"Allow HTTP/2 on the metrics server (off by default: HTTP/2 rapid reset, CVE-2023-44487).")
	fs.Float64Var(&f.qps, "kube-api-qps", 0, "Requests per second to the API server (0: meshkeeper's default, 200; -1: no client-side limit, the API server's priority and fairness alone paces the manager).")
	fs.IntVar(&f.burst, "kube-api-burst", 0, "Bursts of requests to the API server (0: meshkeeper's default, 400).")
	fs.StringVar(&f.pprofAddr, "pprof-bind-address", "0",
		"The address Go's pprof profiles are served on, for diagnosing CPU and memory use; 0 turns them off.")
	fs.BoolVar(&f.enableLeaderElection, "leader-elect", false,
		"Elect a leader, so that only one replica of the manager reconciles at a time.")
	fs.StringVar(&f.leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the leader-election Lease; empty means the manager's own namespace in a pod (required outside a cluster).")
	fs.DurationVar(&f.leaseDuration, "leader-election-lease-duration", 15*time.Second,
		"How long a standby waits after the last renewal of the leader's Lease before it takes the lead.")
	fs.DurationVar(&f.renewDeadline, "leader-election-renew-deadline", 10*time.Second,
		"How long the leader keeps trying to renew its Lease before it gives up the lead and exits.")
	fs.DurationVar(&f.retryPeriod, "leader-election-retry-period", 2*time.Second,
		"How often the replicas try to take or renew the Lease.")
	fs.StringVar(&f.allowedRepositories, "allowed-chart-repositories", fromEnv(envAllowedRepositories, strings.Join(charts.DefaultRepositories, ",")),
		"Comma-separated chart repository URL prefixes (https://… or oci://…) a ServiceMesh may install charts from; an empty value allows only the built-in charts. Default: $"+envAllowedRepositories+" when set.")
	fs.StringVar(&f.allowedHubs, "allowed-image-hubs", fromEnv(envAllowedHubs, strings.Join(charts.DefaultImageHubs, ",")),
		"Comma-separated image hub prefixes a ServiceMesh may pull Istio images from. Default: $"+envAllowedHubs+" when set.")
	fs.StringVar(&f.controlPlaneNamespaces, "control-plane-namespaces", fromEnv(envControlPlaneNamespaces, "istio-system"),
		"Comma-separated namespaces a ServiceMesh may install its control plane and istio-cni agent into (spec.namespace, spec.cni.namespace), where meshkeeper keeps Helm's release Secrets; \"*\" allows any. Default: $"+envControlPlaneNamespaces+" when set.")
	f.zap.BindFlags(fs)
	return f
}

func main() {
	f := bindFlags(flag.CommandLine)
	flag.Parse()

	// Names and values are added to a reconcile's logger when it writes a line, not for every reconcile.
	ctrl.SetLogger(logging.Lazy(zap.New(zap.UseFlagOptions(&f.zap))))
	setupLog := ctrl.Log.WithName("setup")

	namespaces, err := namespaceList(f.controlPlaneNamespaces)
	if err != nil {
		setupLog.Error(err, "Invalid flag")
		os.Exit(1)
	}

	var tlsOpts []func(*tls.Config)
	if !f.enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   f.metricsAddr,
		SecureServing: f.secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if f.secureMetrics {
		metricsOpts.FilterProvider = metricsauth.Filter
	}

	mgr, err := controllers.NewManager(ctrl.GetConfigOrDie(), controllers.ManagerOptions{
		Options: ctrl.Options{
			Scheme:                  scheme,
			Metrics:                 metricsOpts,
			HealthProbeBindAddress:  f.probeAddr,
			PprofBindAddress:        f.pprofAddr,
			LeaderElection:          f.enableLeaderElection,
			LeaderElectionID:        "meshkeeper.mesh.meshkeeper.io",
			LeaderElectionNamespace: f.leaderElectionNS,
			LeaseDuration:           &f.leaseDuration,
			RenewDeadline:           &f.renewDeadline,
			RetryPeriod:             &f.retryPeriod,
			// The manager exits right after it loses the lease, so it can release it at once on shutdown.
			LeaderElectionReleaseOnCancel: true,
		},
		QPS:   float32(f.qps),
		Burst: f.burst,
		Controllers: controllers.Options{Policy: charts.Policy{
			Repositories: charts.ParseList(f.allowedRepositories),
			ImageHubs:    charts.ParseList(f.allowedHubs),
			Namespaces:   namespaces,
		}},
	})
	if err != nil {
		setupLog.Error(err, "Unable to set up the manager")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting the manager")
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// namespaceList reads --control-plane-namespaces: nil (any namespace) for "*". A value that names no
// namespace is refused: it would allow a ServiceMesh none, and the manager's cache, which it limits to
// the namespaces listed, cannot be limited to none (it would hold the labelled objects of every one).
func namespaceList(s string) ([]string, error) {
	list := charts.ParseList(s)
	if slices.Contains(list, "*") {
		return nil, nil
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("--control-plane-namespaces %q names no namespace: name the namespaces a ServiceMesh may install into, or * for any", s)
	}
	return list, nil
}
