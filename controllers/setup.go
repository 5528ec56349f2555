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

// Package controllers holds meshkeeper's reconcilers, one per concern, all driven by the ServiceMesh.
package controllers

import (
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// Options configure the controllers.
type Options struct {
	// Resolver finds the Istio charts. Nil means the built-in charts, and charts fetched from
	// spec.charts.repository.
	Resolver charts.Resolver
}

// SetupWithManager registers every meshkeeper controller with the manager. The manager's cache must be
// limited with CacheByObject.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Resolver == nil {
		opts.Resolver = &charts.CachingResolver{Fetcher: charts.RemoteFetcher{}}
	}
	return (&ServiceMeshReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Recorder:  mgr.GetEventRecorder("meshkeeper"),
		// The manager's client reads unstructured objects from the API server, not the cache, which is
		// what drift checks need.
		Charts:   helm.NewChartManager(mgr.GetConfig(), mgr.GetClient()),
		Resolver: opts.Resolver,
	}).SetupWithManager(mgr)
}
