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

// Package istiod is the control-plane test tier: the real istiod (pilot-discovery, built from the
// istio.io/istio module into bin/ by test/tools/istio) as a local process against a test API server,
// and clients that talk to it as Envoy does (ADS on its plaintext xDS port, see ADS) and as the API
// server does (AdmissionReview to its /inject endpoint, see Inject). istiod reads the mesh config
// (ConfigMap istio) and the injection templates (ConfigMap istio-sidecar-injector) that the istiod
// chart installed into the control-plane namespace, so the stock control plane judges meshkeeper's
// output.
package istiod

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/meshkeeper/meshkeeper/test/testenv"
)

// Options configure Start.
type Options struct {
	// Kubeconfig is the path of a kubeconfig with admin rights on the API server (required); see
	// testenv.WriteKubeconfig.
	Kubeconfig string
	// Namespace is the control-plane namespace, where the istiod chart installed the istio and
	// istio-sidecar-injector ConfigMaps. Default istio-system.
	Namespace string
	// Dir is istiod's working directory; its log goes to Dir/istiod.log. Default: a new temporary
	// directory, removed by Stop.
	Dir string
	// Binary is the pilot-discovery binary. Default: pilot-discovery in testenv.AssetsDir().
	Binary string
	// Env is added to istiod's environment (e.g. PILOT_DEBOUNCE_AFTER=10ms).
	Env []string
	// Args are added to istiod's command line (e.g. --log_output_level=ads:debug).
	Args []string
	// ReadyTimeout bounds the wait for istiod's /ready. Default 2 minutes.
	ReadyTimeout time.Duration
}

// Istiod is a running pilot-discovery.
type Istiod struct {
	// HTTPAddr serves /ready and istiod's /debug endpoints (e.g. /debug/syncz, /debug/configz).
	HTTPAddr string
	// GRPCAddr is the plaintext xDS port (15010 in a cluster), where the ADS clients connect.
	GRPCAddr string
	// HTTPSAddr serves the injection (/inject) and validation webhooks with a self-signed certificate
	// (15017 in a cluster).
	HTTPSAddr string
	// MonitoringAddr serves istiod's Prometheus /metrics (15014 in a cluster).
	MonitoringAddr string
	// LogFile holds istiod's stdout and stderr.
	LogFile string

	cmd     *exec.Cmd
	log     *os.File
	tempDir string
	done    chan struct{}
	waitErr error
	stop    sync.Once
}

// Start runs pilot-discovery out of cluster against the API server of opts.Kubeconfig, on free
// loopback ports, and waits until its /ready says it is ready: its caches are synced, the injector
// has its templates and the validation webhook is up. The process ends with Stop, or when ctx ends.
func Start(ctx context.Context, opts Options) (*Istiod, error) {
	if opts.Kubeconfig == "" {
		return nil, errors.New("istiod: Options.Kubeconfig is required")
	}
	if opts.Namespace == "" {
		opts.Namespace = "istio-system"
	}
	if opts.Binary == "" {
		opts.Binary = filepath.Join(testenv.AssetsDir(), "pilot-discovery")
	}
	if opts.ReadyTimeout == 0 {
		opts.ReadyTimeout = 2 * time.Minute
	}
	if _, err := os.Stat(opts.Binary); err != nil {
		return nil, fmt.Errorf("pilot-discovery not found: run 'make envtest' (or 'make %s') first: %w", opts.Binary, err)
	}
	i := &Istiod{done: make(chan struct{})}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "istiod-")
		if err != nil {
			return nil, err
		}
		opts.Dir, i.tempDir = dir, dir
	}
	ports, err := testenv.FreeAddrs(5)
	if err != nil {
		i.cleanup()
		return nil, err
	}
	i.HTTPAddr, i.GRPCAddr, i.HTTPSAddr, i.MonitoringAddr = ports[0], ports[1], ports[2], ports[3]
	_, ctrlzPort, _ := net.SplitHostPort(ports[4])

	i.LogFile = filepath.Join(opts.Dir, "istiod.log")
	if i.log, err = os.Create(i.LogFile); err != nil {
		i.cleanup()
		return nil, err
	}
	args := []string{"discovery",
		"--kubeconfig", opts.Kubeconfig,
		"--httpAddr", i.HTTPAddr,
		"--grpcAddr", i.GRPCAddr,
		"--secureGRPCAddr", "", // the mTLS xDS port needs istiod's DNS certificate and a client certificate
		"--httpsAddr", i.HTTPSAddr,
		"--monitoringAddr", i.MonitoringAddr,
		// ControlZ listens on localhost:9876 by default, which a second istiod on the machine would want too.
		"--ctrlz_port", ctrlzPort,
		"--shutdownDuration", "1s",
	}
	args = append(args, opts.Args...)
	i.cmd = exec.CommandContext(ctx, opts.Binary, args...)
	// The working directory holds what istiod looks for by relative path (./etc/istio/config/mesh,
	// ./var/lib/istio/inject): nothing, so it reads the ConfigMaps instead.
	i.cmd.Dir = opts.Dir
	i.cmd.Stdout, i.cmd.Stderr = i.log, i.log
	i.cmd.Env = append(os.Environ(),
		"POD_NAMESPACE="+opts.Namespace,
		"REVISION=default",
		"JWT_POLICY=none",
		"PILOT_CERT_PROVIDER=istiod",
	)
	i.cmd.Env = append(i.cmd.Env, opts.Env...)
	i.cmd.WaitDelay = 5 * time.Second
	if err := i.cmd.Start(); err != nil {
		i.cleanup()
		return nil, fmt.Errorf("starting %s: %w", opts.Binary, err)
	}
	go func() {
		i.waitErr = i.cmd.Wait()
		close(i.done)
	}()

	if err := i.waitReady(ctx, opts.ReadyTimeout); err != nil {
		tail := i.LogTail(4000)
		_ = i.Stop()
		return nil, fmt.Errorf("%w; the end of istiod's log:\n%s", err, tail)
	}
	return i, nil
}

// waitReady polls /ready on the HTTP port until it answers 200.
func (i *Istiod) waitReady(ctx context.Context, timeout time.Duration) error {
	deadline := time.After(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	url := "http://" + i.HTTPAddr + "/ready"
	var last string
	for {
		if resp, err := client.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-i.done:
			return fmt.Errorf("istiod exited before it was ready: %v", i.waitErr)
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			return fmt.Errorf("istiod not ready after %s: %s (%s)", timeout, url, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// InjectURL is the URL of the sidecar injection webhook.
func (i *Istiod) InjectURL() string { return "https://" + i.HTTPSAddr + "/inject" }

// ValidateURL is where istiod validates Istio configuration, as its ValidatingWebhookConfiguration
// points the API server to.
func (i *Istiod) ValidateURL() string { return "https://" + i.HTTPSAddr + "/validate" }

// Exited is closed when the process has ended.
func (i *Istiod) Exited() <-chan struct{} { return i.done }

// Stop ends istiod (SIGTERM, then SIGKILL after a few seconds) and removes the temporary directory
// Start made. It returns nil when istiod had to be stopped, and the reason when it had exited on its
// own.
func (i *Istiod) Stop() error {
	var err error
	i.stop.Do(func() {
		select {
		case <-i.done:
			err = fmt.Errorf("istiod had exited: %v", i.waitErr)
		default:
			_ = i.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-i.done:
			case <-time.After(5 * time.Second):
				_ = i.cmd.Process.Kill()
				<-i.done
			}
		}
		i.cleanup()
	})
	return err
}

func (i *Istiod) cleanup() {
	if i.log != nil {
		_ = i.log.Close()
	}
	if i.tempDir != "" && os.Getenv("ISTIOD_KEEP_LOG") == "" {
		_ = os.RemoveAll(i.tempDir)
	}
}

// Log returns istiod's log so far.
func (i *Istiod) Log() string {
	b, _ := os.ReadFile(i.LogFile)
	return string(b)
}

// LogTail returns the last n bytes of istiod's log, from a line start.
func (i *Istiod) LogTail(n int) string {
	b, _ := os.ReadFile(i.LogFile)
	if len(b) > n {
		b = b[len(b)-n:]
		if nl := bytes.IndexByte(b, '\n'); nl >= 0 {
			b = b[nl+1:]
		}
	}
	return string(b)
}
