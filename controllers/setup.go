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

// Package controllers starts meshkeeper's controllers, one package per concern, all driven by the
// ServiceMesh: servicemesh (the control plane and the status), namespace (enrollment), ingress (the
// ingress-nginx workload and the mesh Ingresses) and policy (PeerAuthentication and Sidecar). What they
// share is in meshctx.
package controllers

import (
	"bytes"
	"fmt"
	"slices"
	"sync/atomic"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	"github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/controllers/servicemesh"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	internalpolicy "github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// ClientLimits sets meshkeeper's default client-side rate limits on config: 200 requests per second in
// bursts of 400. client-go's defaults (5 per second, bursts of 10) would stretch a chart install's few
// hundred requests over a minute, and enrolling a large cluster writes once to every Namespace and mesh
// Ingress: 6,000 writes for 1,000 namespaces and 5,000 Ingresses, which take half a minute at this rate.
// The rate is reached only while the mesh converges (steady state writes nothing), and the API server's
// priority and fairness still protects it. The limit holds for each kind on its own: client-go gives
// every REST client a token bucket, and the manager's client builds one REST client per kind. main.go's
// --kube-api-qps and --kube-api-burst override it; a negative --kube-api-qps lifts it.
func ClientLimits(config *rest.Config) *rest.Config {
	config = rest.CopyConfig(config)
	config.QPS, config.Burst = 200, 400
	return config
}

// withLimits returns config with ClientLimits' client-side rate limits, or qps and burst where they are
// set; a negative qps lifts the limit.
func withLimits(config *rest.Config, qps float32, burst int) *rest.Config {
	config = ClientLimits(config)
	if qps != 0 {
		config.QPS = qps
	}
	if burst > 0 {
		config.Burst = burst
	}
	return config
}

// ManagerOptions configure the manager NewManager builds.
type ManagerOptions struct {
	// Options are the manager's options; NewManager sets their Cache to CacheOptions.
	ctrl.Options
	// QPS and Burst, when set, override ClientLimits' client-side rate limits. A negative QPS lifts
	// them: client-go then builds its clients without a rate limiter, and only the API server's priority
	// and fairness paces the manager.
	QPS   float32
	Burst int
	// Controllers configure the controllers.
	Controllers Options
}

// NewManager returns meshkeeper's manager with every controller registered: the client rate limits of
// ClientLimits, the cache of CacheOptions and the controllers of SetupWithManager. main.go and every
// test tier that runs the manager build it here, so they run the same manager.
func NewManager(config *rest.Config, opts ManagerOptions) (ctrl.Manager, error) {
	config = withLimits(config, opts.QPS, opts.Burst)
	opts.Cache = CacheOptions(opts.Controllers.Policy.Namespaces)
	mgr, err := ctrl.NewManager(config, opts.Options)
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	if err := SetupWithManager(mgr, opts.Controllers); err != nil {
		return nil, fmt.Errorf("setting up the controllers: %w", err)
	}
	return mgr, nil
}

// Options configure the controllers.
type Options struct {
	// Fetcher fetches charts from spec.charts.repository. Nil means charts.RemoteFetcher with Go's
	// default HTTP client; tests set one that trusts their own repositories' certificates.
	Fetcher charts.Fetcher
	// Policy is what a ServiceMesh may install from: the chart repositories and image hubs the
	// operator's installer allows (main.go's --allowed-chart-repositories and --allowed-image-hubs).
	Policy charts.Policy
}

// SetupWithManager registers every meshkeeper controller with the manager. The manager's cache must be
// limited with CacheByObject.
func SetupWithManager(mgr ctrl.Manager, opts Options) error {
	if opts.Fetcher == nil {
		opts.Fetcher = charts.RemoteFetcher{}
	}
	// The built-in charts, and charts fetched from spec.charts.repository within the allow-lists, with
	// credentials read around the cache: meshkeeper caches no Secrets.
	resolver := &charts.CachingResolver{Fetcher: opts.Fetcher, Policy: opts.Policy, Secrets: mgr.GetAPIReader()}
	chartManager, err := NewChartManager(mgr.GetConfig(), mgr.GetClient(), mgr.GetAPIReader())
	if err != nil {
		return err
	}
	// The chart guard holds a chart's own images to the same image hubs as the spec's values.
	chartManager.CheckImage = opts.Policy.CheckImage
	// No Event is lost for its length: the API server refuses a note over 1 KiB whole.
	recorder := meshctx.BoundedRecorder{EventRecorder: mgr.GetEventRecorder("meshkeeper")}
	// The namespaces whose label write the API server refuses, for NamespacesEnrolled.
	namespaceRefusals := meshctx.NewRefusals()
	if err := (&namespace.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Refusals: namespaceRefusals}).SetupWithManager(mgr); err != nil {
		return err
	}
	// One wait for discovery to serve the policy kinds, for the policy controller and the status.
	policiesServed, err := meshctx.NewKindsServedFor(mgr, render.PolicyKinds)
	if err != nil {
		return err
	}
	if err := mgr.Add(policiesServed); err != nil {
		return err
	}
	rivals := policy.NewRivals(mgr.GetAPIReader())
	meshSidecars := policy.NewMeshSidecars(mgr.GetAPIReader())
	policySpecs := &policy.AppliedSpecs{}
	if err := (&policy.Reconciler{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder,
		Served: policiesServed, Rivals: rivals, MeshSidecars: meshSidecars, Applied: policySpecs}).SetupWithManager(mgr); err != nil {
		return err
	}
	workloads, err := ingress.NewWorkloadCache(mgr)
	if err != nil {
		return err
	}
	if err := mgr.Add(workloads); err != nil {
		return err
	}
	ingressWorkload := ingress.NewWorkloadReport()
	// The Ingresses whose write the API server refuses, for IngressesConfigured.
	ingressRefusals := meshctx.NewRefusals()
	if err := (&ingress.Reconciler{Client: mgr.GetClient(), Recorder: recorder, Refusals: ingressRefusals, Controller: ingress.ControllerSource{
		Report: ingressWorkload, Workloads: workloads, APIReader: mgr.GetAPIReader(), Namespaces: mgr.GetClient(), Reviews: mgr.GetClient()}}).SetupWithManager(mgr); err != nil {
		return err
	}
	if err := (&ingress.WorkloadReconciler{
		Client:    mgr.GetClient(),
		APIReader: mgr.GetAPIReader(),
		Workloads: workloads,
		Recorder:  recorder,
		Report:    ingressWorkload,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	restartWorkloads, err := restart.NewWorkloadCache(mgr)
	if err != nil {
		return err
	}
	if err := mgr.Add(restartWorkloads); err != nil {
		return err
	}
	restarts := restart.NewReport()
	if err := (&restart.Reconciler{
		Client:    mgr.GetClient(),
		Workloads: restartWorkloads,
		Recorder:  recorder,
		Report:    restarts,
		Policy:    opts.Policy,
	}).SetupWithManager(mgr); err != nil {
		return err
	}
	return (&servicemesh.Reconciler{
		Client:             mgr.GetClient(),
		APIReader:          mgr.GetAPIReader(),
		Workloads:          workloads,
		ReplicaSets:        restartWorkloads,
		Recorder:           recorder,
		Charts:             chartManager,
		Resolver:           resolver,
		Policy:             opts.Policy,
		Restarts:           restarts,
		IngressWorkload:    ingressWorkload,
		IngressRefusals:    ingressRefusals,
		NamespaceRefusals:  namespaceRefusals,
		PolicyRivals:       rivals,
		PolicyMeshSidecars: meshSidecars,
		PolicySpecs:        policySpecs,
		PoliciesServed:     policiesServed,
	}).SetupWithManager(mgr)
}

// NewChartManager returns the chart manager for a client that caches the chart kinds as CacheByObject
// says (the manager's client): drift checks of unchanged objects then cost a cache read. Unstructured
// reads of that client go to the API server, which is what the comparisons need; reader reads around
// the cache (the manager's API reader).
func NewChartManager(config *rest.Config, c client.Client, reader client.Reader) (*helm.ChartManager, error) {
	m := helm.NewChartManager(config, c, reader)
	m.CachedKinds = map[schema.GroupVersionKind]bool{}
	for _, kind := range servicemesh.ChartKinds {
		gvk, err := apiutil.GVKForObject(kind.Object, c.Scheme())
		if err != nil {
			return nil, err
		}
		m.CachedKinds[gvk] = true
	}
	return m, nil
}

// CacheOptions are the manager's cache options: CacheByObject, and of every cached object's managed
// fields only meshkeeper's (the ones OwnedKeys reads). Other managers' entries can outweigh the rest of
// an Ingress or a Namespace, and a cluster has thousands of them. controlPlaneNamespaces are the
// namespaces a ServiceMesh may install into (charts.Policy.Namespaces; nil for any).
func CacheOptions(controlPlaneNamespaces []string) cache.Options {
	return cache.Options{ByObject: CacheByObject(controlPlaneNamespaces), DefaultTransform: keepOwnManagedFields}
}

// keepOwnManagedFields drops the managed-fields entries of every manager but meshkeeper, and makes
// meshkeeper's share what thousands of objects hold alike (sharedManagedFields).
func keepOwnManagedFields(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	entries := o.GetManagedFields()
	mine := entries
	if slices.ContainsFunc(entries, notMine) {
		mine = nil
		for _, entry := range entries {
			if !notMine(entry) {
				mine = append(mine, entry)
			}
		}
	}
	for i := range mine {
		sharedManagedFields.share(&mine[i])
	}
	if len(entries) > 0 {
		o.SetManagedFields(mine)
	}
	return obj, nil
}

func notMine(entry metav1.ManagedFieldsEntry) bool { return entry.Manager != meshv1alpha1.FieldManager }

// CacheByObject limits the manager's cache for every chart kind to the objects meshkeeper labelled, so
// the cache never holds every ConfigMap or Deployment of the cluster, and keeps of each Pod only what
// the proxy count reads (and of each Ingress and IngressClass what the Ingress decisions read). The label is one anyone can set, so the namespaced chart kinds are cached
// only in controlPlaneNamespaces, where meshkeeper installs, when the installer limited them: a
// namespace owner who labels large ConfigMaps of their own as meshkeeper's does not fill its memory.
func CacheByObject(controlPlaneNamespaces []string) map[client.Object]cache.ByObject {
	var namespaces map[string]cache.Config
	if len(controlPlaneNamespaces) > 0 {
		namespaces = map[string]cache.Config{}
		for _, ns := range controlPlaneNamespaces {
			namespaces[ns] = cache.Config{}
		}
	}
	byObject := map[client.Object]cache.ByObject{}
	for _, kind := range servicemesh.ChartKinds {
		if !kind.CacheAll {
			by := cache.ByObject{Label: meshctx.ManagedBySelector}
			if !kind.ClusterScoped {
				by.Namespaces = namespaces
			}
			byObject[kind.Object] = by
		}
	}
	byObject[&corev1.Pod{}] = cache.ByObject{Transform: proxyFields}
	byObject[&corev1.Service{}] = cache.ByObject{Transform: serviceFields(controlPlaneNamespaces)}
	byObject[&networkingv1.Ingress{}] = cache.ByObject{Transform: ingressFields}
	byObject[&networkingv1.IngressClass{}] = cache.ByObject{Transform: ingressClassFields}
	byObject[&corev1.Namespace{}] = cache.ByObject{Transform: namespaceFields}
	return byObject
}

// sharedKeys are keys of one map of an object (a Namespace's labels, an Ingress's annotations) that
// meshkeeper writes, and that another field manager may own too.
type sharedKeys struct {
	keys, path []string
	// markers are the keys as a managed-fields set names them, to pass over an entry without any at
	// once, the common case, without parsing it.
	markers [][]byte
	// last is the set keysOnly cut last and what it kept of it: meshkeeper writes the same keys on
	// thousands of objects, whose entries would otherwise each be parsed to the same cut.
	last *atomic.Pointer[cutSet]
}

// cutSet is a managed-fields set and what sharedKeys.keysOnly keeps of it.
type cutSet struct {
	raw  []byte
	kept *metav1.FieldsV1
}

func newSharedKeys(keys []string, path ...string) sharedKeys {
	s := sharedKeys{keys: keys, path: path, last: &atomic.Pointer[cutSet]{}}
	for _, key := range keys {
		s.markers = append(s.markers, []byte(`"f:`+key+`"`))
	}
	return s
}

// othersEntries returns the managed-fields entries of managers other than meshkeeper that own one of
// the keys, each cut down to those keys (apply.KeysOnly): what the cache keeps of them, so that a key
// the object's owner applied as well as meshkeeper is seen without a read around the cache.
func (s sharedKeys) othersEntries(entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	var kept []metav1.ManagedFieldsEntry
	for _, entry := range entries {
		if !notMine(entry) || entry.FieldsV1 == nil || entry.Subresource != "" {
			continue
		}
		if trimmed := s.keysOnly(entry.FieldsV1); trimmed != nil {
			kept = append(kept, metav1.ManagedFieldsEntry{Manager: entry.Manager, Operation: entry.Operation,
				APIVersion: entry.APIVersion, FieldsType: entry.FieldsType, FieldsV1: trimmed})
		}
	}
	return kept
}

// ownEntries returns meshkeeper's managed-fields entries, each cut down to the keys as othersEntries
// cuts the others' (to no fields when it holds none of them), and without those of a subresource, which
// no reader of the keys reads. On an object of which meshkeeper writes these keys alone (an Ingress's
// annotations) that is all there is in them, as the API server records them; but whoever may update the
// object may write its managed fields, entries of meshkeeper's name among them, up to the API server's
// limit on an object, and the cache holds every such object of the cluster.
func (s sharedKeys) ownEntries(entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	var kept []metav1.ManagedFieldsEntry
	for _, entry := range entries {
		if notMine(entry) || entry.Subresource != "" {
			continue
		}
		if entry.FieldsV1 != nil {
			entry.FieldsV1 = s.keysOnly(entry.FieldsV1)
		}
		kept = append(kept, entry)
	}
	return kept
}

// keysOnly is a managed-fields set cut down to the keys (apply.KeysOnly): fields itself when that
// changes nothing, as with the sets the API server records of meshkeeper's applies; nil when it holds
// none of them.
func (s sharedKeys) keysOnly(fields *metav1.FieldsV1) *metav1.FieldsV1 {
	raw := fields.GetRawBytes()
	if !slices.ContainsFunc(s.markers, func(marker []byte) bool { return bytes.Contains(raw, marker) }) {
		return nil
	}
	if last := s.last.Load(); last != nil && bytes.Equal(last.raw, raw) {
		return last.kept
	}
	var kept *metav1.FieldsV1
	switch trimmed := apply.KeysOnly(raw, s.keys, s.path...); {
	case trimmed == nil:
	case bytes.Equal(trimmed, raw):
		kept = fields
	default:
		kept = metav1.NewFieldsV1(string(trimmed))
	}
	if len(raw) <= maxSharedFieldsSize {
		s.last.Store(&cutSet{raw: raw, kept: kept})
	}
	return kept
}

// namespaceInjectionLabels are the namespace labels enrollment writes.
var namespaceInjectionLabels = newSharedKeys([]string{internalpolicy.LabelIstioInjection, internalpolicy.LabelIstioRevision}, "metadata", "labels")

// namespaceFields is the cache's transform of Namespaces: meshkeeper's managed-fields entries, as for
// every kind, and of every other manager's only the injection labels it owns. A label the namespace's
// owner applied as well as meshkeeper (a manifest Flux or Argo CD applies server-side) stays the
// owner's when meshkeeper gives up or changes its share (the namespace controller's keptByOthers), and
// the cache must say so without a read around it; the rest of the other managers' entries, which
// nothing reads, is not kept.
func namespaceFields(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return keepOwnManagedFields(obj)
	}
	kept := namespaceInjectionLabels.othersEntries(ns.ManagedFields)
	if _, err := keepOwnManagedFields(ns); err != nil {
		return nil, err
	}
	if len(kept) > 0 {
		ns.ManagedFields = append(slices.Clip(ns.ManagedFields), kept...)
	}
	return ns, nil
}

// serviceFields is the cache's transform of Services, which it holds of every namespace. The charts'
// Services (labelled as meshkeeper's, in the control-plane namespaces; in any namespace when those are
// not limited, nil) are kept whole for the drift check; of every other Service, which the Ingress
// decisions look up by name, only what they read: the metadata that identifies it, its type and
// ClusterIPs, and of its annotations only Istio's exportTo. Its labels are left out too (real Services carry a chart's five or more): nothing reads
// them but the test for meshkeeper's own label, which a Service without it fails either way. So a
// namespace owner who labels Services of their own as meshkeeper's, large annotations and all, neither
// fills the manager's memory nor wakes the ServiceMesh's reconciles with their changes (its watch of the
// chart kinds passes labelled objects only).
func serviceFields(controlPlaneNamespaces []string) toolscache.TransformFunc {
	return func(obj any) (any, error) {
		svc, ok := obj.(*corev1.Service)
		if !ok || meshctx.IsManaged(svc) && (controlPlaneNamespaces == nil || slices.Contains(controlPlaneNamespaces, svc.Namespace)) {
			return keepOwnManagedFields(obj)
		}
		return slimService(svc), nil
	}
}

// slimService is what the cache keeps of a Service that is not one of the charts'.
func slimService(svc *corev1.Service) *corev1.Service {
	slim := &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Name: svc.Name, Namespace: svc.Namespace, UID: svc.UID, ResourceVersion: svc.ResourceVersion,
		Generation: svc.Generation, CreationTimestamp: svc.CreationTimestamp, DeletionTimestamp: svc.DeletionTimestamp,
	}}
	slim.Spec.Type, slim.Spec.ClusterIP, slim.Spec.ClusterIPs = svc.Spec.Type, svc.Spec.ClusterIP, svc.Spec.ClusterIPs
	if exportTo, ok := svc.Annotations[internalpolicy.AnnotationServiceExportTo]; ok {
		slim.Annotations = map[string]string{internalpolicy.AnnotationServiceExportTo: exportTo}
	}
	return slim
}

// ingressFields is the cache's transform of Ingresses: of the spec only what the decisions read (the
// class and each backend once: policy.IngressSpecRead), meshkeeper's managed fields, and of the
// annotations only policy.IngressAnnotationsRead. Real Ingresses carry kubectl's
// last-applied-configuration (a copy of the whole Ingress) and ingress-nginx's own annotations, which
// nothing of meshkeeper reads and which the cache would otherwise hold for every Ingress of the
// cluster; the status (the load balancer's addresses) is not read either. meshkeeper writes Ingresses
// only by server-side apply of its own annotations, so nothing it writes is built from this copy.
//
// Of every manager's managed-fields entry, only the annotations meshkeeper writes
// (policy.IngressAnnotationsWritten) are kept, as namespaceFields keeps the injection labels of other
// managers': one the Ingress's owner applied with meshkeeper's value (Argo CD with ServerSideApply, Helm
// 4, Flux) is the owner's too, and stays the owner's value when meshkeeper's moves, which the decision
// must see without a read around the cache. An entry of another manager that holds none of them, the
// common Ingress's, is not kept. meshkeeper's own entries are cut alike (ownEntries): they hold nothing
// else unless someone wrote them by hand, at any size.
func ingressFields(obj any) (any, error) {
	ing, ok := obj.(*networkingv1.Ingress)
	if !ok {
		return keepOwnManagedFields(obj)
	}
	if len(ing.ManagedFields) > 0 {
		mine := ingressWrittenAnnotations.ownEntries(ing.ManagedFields)
		for i := range mine {
			sharedManagedFields.share(&mine[i])
		}
		ing.ManagedFields = append(mine, ingressWrittenAnnotations.othersEntries(ing.ManagedFields)...)
	}
	if len(ing.Annotations) > 0 {
		var read map[string]string
		for _, key := range internalpolicy.IngressAnnotationsRead {
			if value, ok := ing.Annotations[key]; ok {
				if read == nil {
					read = make(map[string]string, len(internalpolicy.IngressAnnotationsRead))
				}
				read[key] = value
			}
		}
		ing.Annotations = read
	}
	ing.Spec = internalpolicy.IngressSpecRead(ing.Spec)
	ing.Status = networkingv1.IngressStatus{}
	return ing, nil
}

// ingressClassFields is the cache's transform of IngressClasses: only what tells which controller
// serves an Ingress of the class (its name and spec.controller), the rest of them (parameters,
// annotations, managed fields) being read by nothing of meshkeeper.
func ingressClassFields(obj any) (any, error) {
	class, ok := obj.(*networkingv1.IngressClass)
	if !ok {
		return keepOwnManagedFields(obj)
	}
	return &networkingv1.IngressClass{
		ObjectMeta: metav1.ObjectMeta{Name: class.Name, UID: class.UID, ResourceVersion: class.ResourceVersion,
			CreationTimestamp: class.CreationTimestamp, DeletionTimestamp: class.DeletionTimestamp},
		Spec: networkingv1.IngressClassSpec{Controller: class.Spec.Controller},
	}, nil
}

// ingressWrittenAnnotations are the Ingress annotations meshkeeper writes.
var ingressWrittenAnnotations = newSharedKeys(internalpolicy.IngressAnnotationsWritten, "metadata", "annotations")

// proxyFields is the cache's transform of Pods: each is stored as a policy.ProxyPod, the proxy count's
// fields, and the controller reference and restarted-at annotation the restarts follow to the pod's
// workload and its last restart (read them through meshctx.CachedPods).
func proxyFields(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		return internalpolicy.NewProxyPod(pod), nil
	}
	return obj, nil
}
