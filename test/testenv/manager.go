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

package testenv

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/meshkeeper/meshkeeper/controllers"
)

// InstallCRD applies meshkeeper's CRD with kubectl, as a user following the README would, and waits
// until the API server serves it.
func InstallCRD(kubeconfig string) error {
	out, err := Kubectl(kubeconfig, "", "apply", "--server-side", "-f",
		filepath.Join(RepoRoot(), "config", "crd", "bases"))
	if err != nil {
		return fmt.Errorf("installing the CRD: %w: %s", err, out)
	}
	out, err = Kubectl(kubeconfig, "", "wait", "--for=condition=Established", "--timeout=1m",
		"crd/servicemeshes.mesh.meshkeeper.io")
	if err != nil {
		return fmt.Errorf("waiting for the CRD: %w: %s", err, out)
	}
	return nil
}

// StartManager runs meshkeeper's manager, configured as main.go configures it (or with the controller
// options given), until ctx ends. Its log goes to logTo. It returns once the manager runs; errors after that are logged.
func StartManager(ctx context.Context, config *rest.Config, logTo io.Writer, opts ...controllers.Options) error {
	scheme, err := Scheme()
	if err != nil {
		return err
	}
	logger := zap.New(zap.WriteTo(logTo), zap.UseDevMode(true))
	ctrl.SetLogger(logger)
	mgr, err := controllers.NewManager(config, controllers.ManagerOptions{Options: ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Logger:                 logger,
	}, Controllers: controllerOptions(opts)})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	go func() {
		if err := mgr.Start(ctx); err != nil {
			logger.Error(err, "The manager stopped with an error")
		}
	}()
	return nil
}

// controllerOptions is the one set of controller options StartManager was given, or the defaults.
func controllerOptions(opts []controllers.Options) controllers.Options {
	if len(opts) > 0 {
		return opts[0]
	}
	return controllers.Options{}
}
