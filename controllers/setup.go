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
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// ClientLimits sets meshkeeper's default client-side rate limits on config: 200 requests per second in
// bursts of 400. client-go's defaults (5 per second, bursts of 10) would stretch a chart install's few
// hundred requests over a minute, and enrolling a large cluster writes once to every Namespace and mesh
// Ingress: 6,000 writes for 1,000 namespaces and 5,000 Ingresses, which take half a minute at this rate.
// The rate is reached only while the mesh converges (steady state writes nothing), and the API server's
// priority and fairness still protects it. main.go's --kube-api-qps and --kube-api-burst override it.
func ClientLimits(config *rest.Config) *rest.Config {
	config = rest.CopyConfig(config)
	config.QPS, config.Burst = 200, 400
	return config
}

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
	chartManager, err := NewChartManager(mgr.GetConfig(), mgr.GetClient(), mgr.GetAPIReader())
	if err != nil {
		return err
	}
	recorder := mgr.GetEventRecorder("meshkeeper")
	if err := (&NamespaceReconciler{Client: mgr.GetClient(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&IngressReconciler{Client: mgr.GetClient(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&PolicyReconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder}).SetupWithManager(mgr); err != nil {
		return err
	}
	workloads, err := newWorkloadCache(mgr)
	if err != nil {
		return err
	}
	if err := mgr.Add(workloads); err != nil {
		return err
	}
	if err := (&IngressNginxReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Workloads: workloads,
		Recorder:  recorder,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&ServiceMeshReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Workloads: workloads,
		Recorder:  recorder,
		Charts:    chartManager,
		Resolver:  opts.Resolver,
	}).SetupWithManager(mgr)
}

// NewChartManager returns the chart manager for a client that caches the chart kinds as CacheByObject
// says (the manager's client): drift checks of unchanged objects then cost a cache read. Unstructured
// reads of that client go to the API server, which is what the comparisons need; reader reads around
// the cache (the manager's API reader).
func NewChartManager(config *rest.Config, c client.Client, reader client.Reader) (*helm.ChartManager, error) {
	m := helm.NewChartManager(config, c, reader)
	m.CachedKinds = map[schema.GroupVersionKind]bool{}
	for _, kind := range chartKinds {
		gvk, err := apiutil.GVKForObject(kind.object, c.Scheme())
		if err != nil {
			return nil, err
		}
		m.CachedKinds[gvk] = true
	}
	return m, nil
}
