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

// Package cluster starts a simulated Kubernetes cluster on this machine, for the tests that need more
// than an API server: etcd, kube-apiserver, kube-controller-manager and kube-scheduler as test/tools
// builds them, and kwok playing the kubelets of fake nodes. Workloads really roll out on it (the
// scheduler binds pods, kwok reports them Running and Ready, the controllers mark Deployments
// Available) without a container runtime: no image is ever pulled and no container runs. Optionally
// (Options.Injection) a simulated istiod answers Istio's sidecar-injection webhooks.
package cluster

import (
	"context"
	"crypto/tls"
	_ "embed"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

const (
	// serviceCIDR is the Service range; kubernetesServiceIP is its first address, the kubernetes Service.
	serviceCIDR         = "10.96.0.0/12"
	kubernetesServiceIP = "10.96.0.1"

	defaultNodes        = 3
	defaultStartTimeout = 2 * time.Minute
	stopGrace           = 10 * time.Second
)

// ownStages are the kwok stages of this package, played beside the ones `make envtest` assembles
// from kwok's module.
//
//go:embed stages/pod-ready-again.yaml
var ownStages []byte

// Options configure Start.
type Options struct {
	// Nodes is the number of fake nodes; 0 means 3.
	Nodes int
	// Dir holds etcd's data, the certificates, the kubeconfig and one log file per component
	// (<component>.log); a cluster needs one of its own, new or empty. Empty means a new temporary
	// directory that Stop removes; a given directory is left in place, so the logs of a failed test can
	// be read.
	Dir string
	// BinDir holds the binaries; empty means testenv.AssetsDir() (KUBEBUILDER_ASSETS, else bin/).
	BinDir string
	// Scale raises the client rate limits of kube-controller-manager and kube-scheduler and the
	// controllers' parallel syncs, for clusters with thousands of pods: their defaults (20 and 50
	// requests per second) would make them, not the code under test, the bottleneck.
	Scale bool
	// Injection, when set, makes the API server call Istio's injection webhooks, which a simulated
	// istiod answers (see Injection). Without it the API server calls no webhook.
	Injection *Injection
}

// Cluster is a running simulated cluster. Stop it when done; its processes also die with the test
// binary on Linux.
type Cluster struct {
	dir        string
	removeDir  bool
	kubeconfig string
	config     *rest.Config
	procs      []*process
	injector   *Injector

	stopOnce sync.Once
	stopErr  error
}

// Start starts a cluster and returns once it can run workloads: every component is healthy, the fake
// nodes are Ready and the default ServiceAccount, which pod creation requires, exists. Without a
// deadline on ctx, starting may take up to 2 minutes.
func Start(ctx context.Context, opts Options) (_ *Cluster, err error) {
	switch {
	case opts.Nodes == 0:
		opts.Nodes = defaultNodes
	case opts.Nodes < 0:
		return nil, fmt.Errorf("%d nodes: want at least one", opts.Nodes)
	}
	if opts.BinDir == "" {
		opts.BinDir = testenv.AssetsDir()
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	bin := func(name string) string { return filepath.Join(opts.BinDir, name) }
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"} {
		if _, err := os.Stat(bin(name)); err != nil {
			return nil, fmt.Errorf("cluster binary %s not found in %s: run 'make envtest' first: %w", name, opts.BinDir, err)
		}
	}

	c := &Cluster{dir: opts.Dir}
	if c.dir == "" {
		if c.dir, err = os.MkdirTemp("", "meshkeeper-cluster-"); err != nil {
			return nil, fmt.Errorf("creating a working directory: %w", err)
		}
		c.removeDir = true
	} else if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the working directory: %w", err)
	} else if _, err := os.Stat(filepath.Join(c.dir, "etcd")); err == nil {
		// Another cluster's data would bring its nodes and objects back, signed by another CA.
		return nil, fmt.Errorf("%s already holds a cluster's data: give each cluster a new directory", c.dir)
	}
	defer func() {
		// A cluster that failed to start keeps its directory, whoever made it: the logs say why. Stop's
		// own error would only repeat a component's exit that err already reports.
		if err != nil {
			c.removeDir = false
			_ = c.Stop()
			err = fmt.Errorf("starting the simulated cluster in %s: %w", c.dir, err)
		}
	}()

	pki, err := newPKI(filepath.Join(c.dir, "pki"))
	if err != nil {
		return nil, err
	}
	ports, err := testenv.FreePorts(5)
	if err != nil {
		return nil, err
	}
	etcdPort, etcdPeerPort, apiPort, kcmPort, schedulerPort := ports[0], ports[1], ports[2], ports[3], ports[4]

	// Istio's webhooks point at in-cluster Services, which an API server outside any pod network cannot
	// reach: with them, every object they match would be rejected. Without a simulated injector, the
	// API server calls no webhook.
	admission := []string{"--disable-admission-plugins=MutatingAdmissionWebhook,ValidatingAdmissionWebhook"}
	if opts.Injection != nil {
		if c.injector, err = startInjector(opts.Injection); err != nil {
			return nil, err
		}
		egress, err := c.injector.egressConfig(c.dir)
		if err != nil {
			return nil, err
		}
		admission = []string{"--disable-admission-plugins=ValidatingAdmissionWebhook", "--egress-selector-config-file=" + egress}
	}

	etcdURL := "http://127.0.0.1:" + strconv.Itoa(etcdPort)
	etcdPeerURL := "http://127.0.0.1:" + strconv.Itoa(etcdPeerPort)
	if err := c.start("etcd", bin("etcd"), nil,
		"--name=default",
		"--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+etcdPeerURL,
		"--initial-advertise-peer-urls="+etcdPeerURL,
		"--initial-cluster=default="+etcdPeerURL,
		// A test cluster's data need not survive a power cut; fsync is what makes etcd slow on CI disks.
		"--unsafe-no-fsync",
	); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "etcd", func(ctx context.Context) error { return httpOK(ctx, etcdURL+"/health") }); err != nil {
		return nil, err
	}

	if err := c.start("kube-apiserver", bin("kube-apiserver"), nil, append([]string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		// Left alone, the API server would advertise the machine's own address in the kubernetes
		// Service's endpoints, where it does not listen; the loopback address is what it has, but
		// endpoints may not name it. Nothing in a cluster without a pod network could use them.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--tls-cert-file=" + pki.serverCert,
		"--tls-private-key-file=" + pki.serverKey,
		"--client-ca-file=" + pki.caCert,
		"--service-cluster-ip-range=" + serviceCIDR,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + pki.serviceAccountKey,
		"--service-account-signing-key-file=" + pki.serviceAccountKey,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
	}, admission...)...); err != nil {
		return nil, err
	}
	c.config = &rest.Config{
		Host: "https://127.0.0.1:" + strconv.Itoa(apiPort),
		TLSClientConfig: rest.TLSClientConfig{
			CAData:   pki.caPEM,
			CertData: pki.adminCertPEM,
			KeyData:  pki.adminKeyPEM,
		},
	}
	if c.kubeconfig, err = writeKubeconfig(filepath.Join(c.dir, "kubeconfig"), c.config); err != nil {
		return nil, err
	}
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return nil, fmt.Errorf("creating a client: %w", err)
	}
	if err := c.waitFor(ctx, "kube-apiserver", func(ctx context.Context) error {
		return client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	}); err != nil {
		return nil, err
	}
	if c.injector != nil {
		// The injector reads a ConfigMap for every pod it injects: at client-go's default 5 requests per
		// second, a rollout of hundreds of pods would wait on it.
		config := c.RESTConfig()
		config.QPS, config.Burst = 500, 1000
		injectorClient, err := kubernetes.NewForConfig(config)
		if err != nil {
			return nil, fmt.Errorf("creating the injector's client: %w", err)
		}
		c.injector.start(injectorClient)
	}

	// Both serve on 127.0.0.1 only, where Start checks their health; one instance each needs no
	// leader election.
	common := func(port int, certDir string) []string {
		return []string{
			"--kubeconfig=" + c.kubeconfig,
			"--leader-elect=false",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(c.dir, certDir),
		}
	}
	var scale, schedulerScale []string
	if opts.Scale {
		scale = []string{"--kube-api-qps=500", "--kube-api-burst=1000", "--concurrent-deployment-syncs=20", "--concurrent-replicaset-syncs=20"}
		schedulerScale = []string{"--kube-api-qps=500", "--kube-api-burst=1000"}
	}
	if err := c.start("kube-controller-manager", bin("kube-controller-manager"), nil, append(append(common(kcmPort, "kube-controller-manager"), scale...),
		// The token controller signs with the API server's key; the root CA is what the
		// kube-root-ca.crt ConfigMap of every namespace publishes; the CA also signs approved CSRs.
		"--service-account-private-key-file="+pki.serviceAccountKey,
		"--root-ca-file="+pki.caCert,
		"--cluster-signing-cert-file="+pki.caCert,
		"--cluster-signing-key-file="+pki.caKey,
	)...); err != nil {
		return nil, err
	}
	if err := c.start("kube-scheduler", bin("kube-scheduler"), nil, append(common(schedulerPort, "kube-scheduler"), schedulerScale...)...); err != nil {
		return nil, err
	}

	// The node and pod lifecycles kwok plays, assembled from kwok's module by `make envtest`.
	kwokConfig := bin("kwok-stages.yaml")
	if _, err := os.Stat(kwokConfig); err != nil {
		return nil, fmt.Errorf("kwok's stages: run 'make envtest': %w", err)
	}
	// What kwok's own stages leave out of a kubelet: stages/*.yaml, written next to the cluster's logs.
	ownConfig := filepath.Join(c.dir, "kwok-own-stages.yaml")
	if err := os.WriteFile(ownConfig, ownStages, 0o644); err != nil {
		return nil, fmt.Errorf("writing kwok's own stages: %w", err)
	}
	// kwok serves nothing without --server-address (the kubelet API for logs and exec, which nothing
	// here uses). KWOK_WORKDIR keeps it from loading a ~/.kwok/kwok.yaml of whoever runs the tests.
	if err := c.start("kwok", bin("kwok"), []string{"KWOK_WORKDIR=" + filepath.Join(c.dir, "kwok")},
		"--kubeconfig="+c.kubeconfig,
		"--config="+kwokConfig,
		"--config="+ownConfig,
		"--manage-nodes-with-annotation-selector="+kwokNodeAnnotation+"="+kwokNodeAnnotationValue,
		// Renewing each node's Lease is the heartbeat the node lifecycle controller checks; the
		// heartbeat-with-lease stage then updates node status only every ten minutes.
		"--node-lease-duration-seconds=40",
	); err != nil {
		return nil, err
	}

	for name, port := range map[string]int{"kube-controller-manager": kcmPort, "kube-scheduler": schedulerPort} {
		if err := c.waitFor(ctx, name, func(ctx context.Context) error {
			return httpOK(ctx, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz")
		}); err != nil {
			return nil, err
		}
	}
	if err := createNodes(ctx, client, opts.Nodes); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "Ready nodes", func(ctx context.Context) error { return nodesReady(ctx, client, opts.Nodes) }); err != nil {
		return nil, err
	}
	if err := c.waitFor(ctx, "the default ServiceAccount", func(ctx context.Context) error {
		_, err := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		return err
	}); err != nil {
		return nil, err
	}
	return c, nil
}

// Kubeconfig is the path of a kubeconfig file for the cluster's admin (group system:masters).
func (c *Cluster) Kubeconfig() string { return c.kubeconfig }

// RESTConfig returns a new client configuration for the cluster's admin.
func (c *Cluster) RESTConfig() *rest.Config { return rest.CopyConfig(c.config) }

// Injector is the simulated sidecar injector; nil unless Options.Injection was set.
func (c *Cluster) Injector() *Injector { return c.injector }

// Dir is the working directory, where each component's log is.
func (c *Cluster) Dir() string { return c.dir }

// Stop stops the components, newest first, and waits for them to exit; it removes the working
// directory when Start created it. It reports a component that had exited before, since the cluster
// was then broken. Calling it again returns the first result.
func (c *Cluster) Stop() error {
	c.stopOnce.Do(func() {
		var errs []error
		for i := len(c.procs) - 1; i >= 0; i-- {
			errs = append(errs, c.procs[i].stop(stopGrace))
		}
		if c.injector != nil {
			c.injector.Stop()
		}
		if c.removeDir {
			errs = append(errs, os.RemoveAll(c.dir))
		}
		c.stopErr = errors.Join(errs...)
	})
	return c.stopErr
}

func (c *Cluster) start(name, binary string, env []string, args ...string) error {
	p, err := startProcess(c.dir, name, binary, args, append(testenv.ServerEnv(), env...))
	if err != nil {
		return err
	}
	c.procs = append(c.procs, p)
	return nil
}

// waitFor polls ready until it succeeds, failing early when a component exits: a component that cannot
// start (a flag its version rejects, a port taken) shows its log instead of a timeout.
func (c *Cluster) waitFor(ctx context.Context, what string, ready func(context.Context) error) error {
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready(ctx)
		if err == nil {
			return nil
		}
		for _, p := range c.procs {
			if exit := p.exited(); exit != nil {
				return fmt.Errorf("waiting for %s: %w", what, exit)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %w)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

// httpOK is a health check: GET url answers 200. The components' serving certificates are
// self-signed and the check carries no credentials, so it does not verify them.
func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := insecureClient.Do(req)
	if err != nil {
		return err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

var insecureClient = &http.Client{
	Timeout:   5 * time.Second,
	Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, //nolint:gosec // health checks of local components
}

// writeKubeconfig writes config as a kubeconfig file at path, for the components and for kubectl.
func writeKubeconfig(path string, config *rest.Config) (string, error) {
	kubeconfig := clientcmdapi.NewConfig()
	kubeconfig.Clusters["simulated"] = &clientcmdapi.Cluster{
		Server:                   config.Host,
		CertificateAuthorityData: config.CAData,
	}
	kubeconfig.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: config.CertData,
		ClientKeyData:         config.KeyData,
	}
	kubeconfig.Contexts["simulated"] = &clientcmdapi.Context{Cluster: "simulated", AuthInfo: "admin"}
	kubeconfig.CurrentContext = "simulated"
	if err := clientcmd.WriteToFile(*kubeconfig, path); err != nil {
		return "", fmt.Errorf("writing the kubeconfig: %w", err)
	}
	return path, nil
}
