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

package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"time"

	"k8s.io/client-go/kubernetes"
)

// RestartAPIServer stops kube-apiserver (SIGTERM, then SIGKILL after a grace period) and starts it again
// with the same flags, so on the same port, certificates and etcd: clients see their connections drop
// and requests fail until it serves again. It returns once /readyz answers. The other components and
// etcd keep running; the log goes on in the same kube-apiserver.log.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	i := c.component("kube-apiserver")
	if i < 0 {
		return fmt.Errorf("the cluster runs no kube-apiserver")
	}
	old := c.procs[i]
	if err := old.stop(stopGrace); err != nil {
		return fmt.Errorf("stopping kube-apiserver: %w", err)
	}
	p, err := restartProcess(old)
	if err != nil {
		return err
	}
	c.procs[i] = p
	client, err := kubernetes.NewForConfig(c.config)
	if err != nil {
		return fmt.Errorf("creating a client: %w", err)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultStartTimeout)
		defer cancel()
	}
	return c.waitFor(ctx, "kube-apiserver after its restart", func(ctx context.Context) error {
		return client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	})
}

// component is the index of the named component in c.procs, or -1.
func (c *Cluster) component(name string) int {
	for i, p := range c.procs {
		if p.name == name {
			return i
		}
	}
	return -1
}

// restartProcess starts a stopped process's command again, with the same binary, arguments and
// environment, appending to its log.
func restartProcess(old *process) (*process, error) {
	p := &process{name: old.name, logPath: old.logPath, done: make(chan struct{})}
	log, err := os.OpenFile(p.logPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the log of %s: %w", p.name, err)
	}
	_, _ = fmt.Fprintf(log, "\n--- restarted at %s ---\n", time.Now().UTC().Format(time.RFC3339Nano))
	p.cmd = exec.Command(old.cmd.Path, old.cmd.Args[1:]...)
	p.cmd.Env = old.cmd.Env
	p.cmd.Stdout, p.cmd.Stderr = log, log
	p.cmd.SysProcAttr = SysProcAttr()
	if err := p.cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("starting %s again: %w", p.name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p, nil
}
