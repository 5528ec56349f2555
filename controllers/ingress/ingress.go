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

// Package ingress wires ingress-nginx into the mesh: the sidecar settings of the ingress-nginx
// controller workload (WorkloadReconciler), and the two annotations on every mesh Ingress (Reconciler).
package ingress

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Reconciler routes the Ingresses of enrolled namespaces through the mesh: it puts
// service-upstream and upstream-vhost on those it can, reports those it cannot, and takes its
// annotations back from Ingresses that leave the mesh.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Informers is the cache the Ingresses' Services and Namespaces are read from without copies; nil
	// is SetupWithManager's cache.
	Informers meshctx.Informers
	// Controller is where the decision about the ingress-nginx controller workload is read from; the
	// Ingresses get their annotations only while it gets its sidecar. SetupWithManager fills in a nil
	// APIReader with the manager's, and wakes every Ingress when Controller.Report changes.
	Controller ControllerSource
	// Refusals records the Ingresses whose write the API server refuses, for the ServiceMesh's status;
	// nil records none.
	Refusals *meshctx.Refusals

	// reported holds, per Ingress, the skip last reported.
	reported meshctx.Transitions
	// refused holds, per Ingress, the failures of meshkeeper's writes and the refusal last reported.
	refused meshctx.RefusedWrites
	// kept holds the Ingresses that keep meshkeeper's annotations while the pods of their namespace,
	// which left the mesh, still run a sidecar: a pod of such a namespace that stops running one wakes
	// them.
	kept keptIngresses
}

// Ingresses get two annotations; Services tell whether a backend has a ClusterIP.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingresses,verbs=get;list;watch;patch
// IngressClasses tell which Ingresses the controller serves besides those of the listed classes.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=ingressclasses,verbs=get;list;watch

// Workers is how many Ingresses the controller reconciles at once. A reconcile reads the cache and
// makes at most one write, so a worker mostly waits for the API server's answer: with 4, a busy API
// server's latency held the benchmark's 4,900 writes to 130 a second, below the client limit of 200.
// Together with the namespace controller's workers they keep as many writes in flight as the floor of
// the scale benchmark (docs/performance.md, "Convergence at scale").
const Workers = 12

// backendServiceIndex indexes Ingresses by the names of their backend Services.
const backendServiceIndex = "meshkeeper.backendServices"

// upstreamIndex indexes Ingresses by the upstreams of ingress-nginx they send to (policy.IngressUpstreams).
const upstreamIndex = "meshkeeper.upstreams"

// Reconcile brings one Ingress's mesh annotations to what the ServiceMesh asks for.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ing := &networkingv1.Ingress{}
	if err := r.Get(ctx, req.NamespacedName, ing); err != nil {
		if apierrors.IsNotFound(err) {
			r.reported.Forget(req.String())
			r.forgetRefusal(req.String())
			r.kept.set(req.NamespacedName, false)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	mesh, err := meshctx.Get(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if meshctx.Kept(mesh) {
		// No ServiceMesh, or one deleted with orphan propagation: the Ingresses keep sending to the
		// meshed Services of the control plane it kept running, and a ServiceMesh created again takes
		// their annotations over.
		r.reported.Forget(req.String())
		r.forgetRefusal(req.String())
		r.kept.set(req.NamespacedName, false)
		return ctrl.Result{}, nil
	}
	view, err := NewView(ctx, r.Client, r.Informers, mesh, r.Controller)
	if err != nil {
		return meshctx.Result(ctx, err)
	}
	decision, err := view.Decide(ctx, ing)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.report(mesh, ing, decision)
	r.kept.set(req.NamespacedName, decision.KeptForSidecars)
	if decision.Annotations == nil || meshctx.OwnsExactly(ing.Annotations, apply.OwnedKeys(ing, "annotations"), decision.Annotations) {
		r.forgetRefusal(req.String())
		return ctrl.Result{}, nil
	}
	if err := apply.Metadata(ctx, r.Client, ing, nil, decision.Annotations); err != nil {
		// Returned, so the Ingress is retried with backoff; the other Ingresses are reconciled on their
		// own and configured meanwhile.
		r.reportRefused(mesh, ing, len(decision.Annotations) == 0, err)
		return ctrl.Result{}, err
	}
	r.forgetRefusal(req.String())
	return ctrl.Result{}, nil
}

// ReasonApplyFailed is the reason of the Warning Event on an Ingress when the API server refuses
// meshkeeper's write of its annotations (an admission webhook or policy of the cluster's, ingress-nginx's
// own admission webhook without a controller to answer it).
const ReasonApplyFailed = "IngressApplyFailed"

// reportRefused emits a Warning on the Ingress when the API server refuses meshkeeper's write of its
// annotations (releasing: the write that takes them back), once per change of the API server's answer
// rather than on every retry. A failure only of the API server's making (meshctx.Transient: a 503, a
// timeout) is warned about only when the attempt after the backoff fails too: the retry a moment later
// usually gets past it. ingress-nginx's admission webhook without a ready controller pod fails every
// Ingress write with such an error (an internal error, "no endpoints available"), and keeps failing it.
func (r *Reconciler) reportRefused(mesh *meshv1alpha1.ServiceMesh, ing *networkingv1.Ingress, releasing bool, err error) {
	key := client.ObjectKeyFromObject(ing).String()
	what := "put nginx.ingress.kubernetes.io/service-upstream and upstream-vhost on the Ingress"
	if releasing {
		what = "take its nginx.ingress.kubernetes.io/service-upstream and upstream-vhost back from the Ingress"
	}
	reported, news := r.refused.Failed(key, what+"\x00"+err.Error(), err)
	if !reported {
		return
	}
	r.Refusals.Set(key, meshctx.Refusal{Releasing: releasing, Answer: err.Error()})
	if !news {
		return
	}
	r.Recorder.Eventf(ing, meshctx.Related(mesh), corev1.EventTypeWarning, ReasonApplyFailed, "ConfigureIngress",
		"meshkeeper cannot %s: %v. An admission webhook or policy of the cluster's refuses the change, or the API server "+
			"cannot answer (ingress-nginx's own "+
			"admission webhook refuses every Ingress write while the controller has no ready pod to answer it): allow "+
			"meshkeeper's change, or make the webhook answer; retried with backoff", what, err)
}

// forgetRefusal drops what was recorded of the refusals of the Ingress at key: its write went through,
// there was nothing to write, or it is gone.
func (r *Reconciler) forgetRefusal(key string) {
	r.refused.Succeeded(key)
	r.Refusals.Forget(key)
}

// report emits a Warning on the Ingress when it becomes, or changes the way it is, a mesh Ingress
// meshkeeper cannot configure.
func (r *Reconciler) report(mesh *meshv1alpha1.ServiceMesh, ing *networkingv1.Ingress, d policy.IngressDecision) {
	key := client.ObjectKeyFromObject(ing).String()
	// A controller without its sidecar is reported once, on the ServiceMesh and the workload, not on
	// every mesh Ingress.
	if !d.Skipped() || d.Reason == policy.ControllerWithoutSidecar {
		r.reported.Forget(key)
		return
	}
	if !r.reported.Changed(key, d.Message) {
		return
	}
	r.Recorder.Eventf(ing, meshctx.Related(mesh), corev1.EventTypeWarning, d.Reason, "ConfigureIngress", "%s", d.Message)
}

// View is what deciding about Ingresses needs besides the Ingress, read once and shared by the
// decisions of one reconcile (of the Ingress controller, or of the ServiceMesh's status).
type View struct {
	reader client.Reader
	// informers, when not nil, is the manager's cache, whose Services and Namespaces Decide reads
	// without copying them.
	informers  meshctx.Informers
	spec       meshv1alpha1.IngressNginxSpec
	enrollment *policy.Enrollment
	// exportToDefault is the mesh's meshConfig.defaultServiceExportTo: where Istio exports a Service
	// without its own exportTo annotation.
	exportToDefault []string
	namespaces      map[string]namespaceState
	// proxies counts, per namespace read, the pods that still run an Istio proxy.
	proxies map[string]int
	// controller is the decision about the ingress-nginx controller workload while the integration is
	// on, whether its pod template carries it, and how far that is rolled out.
	controller ControllerState
	// alone holds the decisions made on their own (policy.Ingress) about the Ingresses met in the
	// groups of others, by namespace/name.
	alone map[string]policy.IngressDecision
	// groups holds the upstream group of each Ingress that is one of a group of more, by
	// namespace/name: every Ingress of a group is decided with the group found for the first.
	groups map[string]*policy.UpstreamGroup
	// sharing holds, by namespace and upstream ("namespace/service:port"), the Ingresses that name it.
	sharing map[string][]*networkingv1.Ingress
	// ingresses holds the Ingresses of each namespace listed whole, where the reader has no upstream
	// index (one not of the manager whose Reconciler was set up).
	ingresses map[string][]networkingv1.Ingress
}

// namespaceState is what the decisions about Ingresses need of their namespace.
type namespaceState struct {
	enrolled, terminating bool
	// labels are the namespace's labels, the cache's own map, for reading only.
	labels map[string]string
}

// NewView reads the mesh-wide inputs, the decision about the ingress-nginx controller workload among
// them (from controller). Without a live ServiceMesh the integration counts as disabled, so every
// Ingress gives meshkeeper's annotations back (the Reconciler keeps them, meshctx.Kept, when there is
// no ServiceMesh or it is deleted with orphan propagation). A spec whose enrollment cannot be decided is the
// terminal error of meshctx.Enrollment; an enabled integration whose Service ranges are unknown, the
// terminal error of WithServiceCIDRs. informers may be nil (reader's Get then copies each Service and
// Namespace read).
func NewView(ctx context.Context, reader client.Reader, informers meshctx.Informers, mesh *meshv1alpha1.ServiceMesh,
	controller ControllerSource) (*View, error) {
	v := &View{reader: reader, informers: informers, namespaces: map[string]namespaceState{}, proxies: map[string]int{},
		alone: map[string]policy.IngressDecision{}, groups: map[string]*policy.UpstreamGroup{}, sharing: map[string][]*networkingv1.Ingress{},
		ingresses: map[string][]networkingv1.Ingress{}}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil || enrollment == nil {
		return v, err
	}
	v.spec, v.enrollment, v.exportToDefault = mesh.Spec.IngressNginx, enrollment, policy.ServiceExportToDefault(&mesh.Spec)
	if policy.IngressNginxEnabled(v.spec) {
		if v.spec, err = WithServiceCIDRs(ctx, reader, v.spec); err != nil {
			return nil, err
		}
		in := ControllerInput{Spec: v.spec, Privilege: enrollment.Privilege(), CNIExcluded: enrollment.CNIExcludes(v.spec.Controller.Namespace)}
		if v.controller, err = controller.Decide(ctx, in); err != nil {
			return nil, err
		}
	}
	return v, nil
}

// IngressNginx is spec.ingressNginx with its Service ranges resolved by WithServiceCIDRs.
func (v *View) IngressNginx() meshv1alpha1.IngressNginxSpec {
	return v.spec
}

// Controller is the decision about the ingress-nginx controller workload the Ingresses were decided
// with, whether its pod template carries it and how far that is rolled out; the zero state while the
// integration is off.
func (v *View) Controller() ControllerState {
	return v.controller
}

// Decide returns meshkeeper's decision about one Ingress: the decision made on its own, unless it
// shares an upstream of ingress-nginx with a mesh Ingress meshkeeper cannot configure, directly or
// through others (policy.UpstreamGroup): it is then held back with reason SharedUpstream.
func (v *View) Decide(ctx context.Context, ing *networkingv1.Ingress) (policy.IngressDecision, error) {
	key := ing.Namespace + "/" + ing.Name
	d, decided := v.alone[key]
	if !decided {
		var err error
		if d, err = v.decideAlone(ctx, ing); err != nil {
			return d, err
		}
	}
	if !d.Configured {
		return d, nil
	}
	group, found := v.groups[key]
	if !found {
		var walkErr error
		group = policy.GroupOf(ing, func(upstream string) []*networkingv1.Ingress {
			sharing, err := v.sharingOf(ctx, ing.Namespace, upstream)
			if err != nil && walkErr == nil {
				walkErr = err
			}
			return sharing
		}, func(other *networkingv1.Ingress) policy.IngressDecision {
			k := other.Namespace + "/" + other.Name
			if d, ok := v.alone[k]; ok {
				return d
			}
			d, err := v.decideAlone(ctx, other)
			if err != nil && walkErr == nil {
				walkErr = err
			}
			v.alone[k] = d
			return d
		})
		if walkErr != nil {
			return policy.IngressDecision{}, walkErr
		}
		if configured := group.Configured(); len(configured) > 1 {
			for _, k := range configured {
				v.groups[k] = group
			}
		}
	}
	return group.Decide(ing, d), nil
}

// sharingOf returns the Ingresses of namespace that send to upstream (policy.IngressUpstreams), by the
// manager's upstream index, or, from a reader without it, from the namespace's Ingresses listed whole.
// They are the cache's objects, for reading only.
func (v *View) sharingOf(ctx context.Context, namespace, upstream string) ([]*networkingv1.Ingress, error) {
	key := namespace + "/" + upstream
	if sharing, ok := v.sharing[key]; ok {
		return sharing, nil
	}
	var sharing []*networkingv1.Ingress
	list := &networkingv1.IngressList{}
	if err := v.reader.List(ctx, list, client.InNamespace(namespace), client.MatchingFields{upstreamIndex: upstream},
		client.UnsafeDisableDeepCopy); err == nil {
		for i := range list.Items {
			sharing = append(sharing, &list.Items[i])
		}
	} else {
		all, listed := v.ingresses[namespace]
		if !listed {
			list := &networkingv1.IngressList{}
			if err := v.reader.List(ctx, list, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
				return nil, fmt.Errorf("listing the Ingresses of namespace %s: %w", namespace, err)
			}
			all = list.Items
			v.ingresses[namespace] = all
		}
		for i := range all {
			if slices.Contains(policy.IngressUpstreams(&all[i]), upstream) {
				sharing = append(sharing, &all[i])
			}
		}
	}
	v.sharing[key] = sharing
	return sharing, nil
}

// decideAlone returns meshkeeper's decision about one Ingress made on its own (policy.Ingress).
func (v *View) decideAlone(ctx context.Context, ing *networkingv1.Ingress) (policy.IngressDecision, error) {
	ns, err := v.namespace(ctx, ing.Namespace)
	if err != nil {
		return policy.IngressDecision{}, err
	}
	owned := apply.OwnedKeys(ing, "annotations")
	proxies := 0
	// Only an Ingress that holds meshkeeper's annotations in a namespace outside the mesh can keep
	// them for the namespace's sidecars: the pods are counted for no other.
	if !ns.enrolled && !ns.terminating && policy.IngressNginxEnabled(v.spec) && owned.HasAny(sets.List(annotationKeys)...) {
		if proxies, err = v.namespaceProxies(ctx, ing.Namespace); err != nil {
			return policy.IngressDecision{}, err
		}
	}
	var lookupErr error
	decision := policy.Ingress(policy.IngressInput{
		Ingress:                ing,
		IngressNginx:           v.spec,
		NamespaceEnrolled:      ns.enrolled,
		NamespaceLabels:        ns.labels,
		NamespaceTerminating:   ns.terminating,
		NamespaceProxies:       proxies,
		Controller:             v.controller.Decision,
		ServiceExportToDefault: v.exportToDefault,
		OwnedAnnotations:       owned,
		// The cache keeps, of other managers' entries, only meshkeeper's annotation keys
		// (controllers.ingressFields): an Ingress whose owner shares none has none to read.
		OthersAnnotations: apply.OthersKeysAt(ing, "metadata", "annotations"),
		Service: func(name string) (*corev1.Service, bool) {
			// Read-only, so the cache's own object: the status pass looks up thousands.
			svc, found, err := get(ctx, v, &corev1.Service{}, client.ObjectKey{Namespace: ing.Namespace, Name: name})
			if err != nil {
				lookupErr = fmt.Errorf("reading Service %s/%s: %w", ing.Namespace, name, err)
			}
			return svc, found
		},
		IngressClassController: func(name string) (string, bool) {
			class, found, err := get(ctx, v, &networkingv1.IngressClass{}, client.ObjectKey{Name: name})
			if err != nil {
				lookupErr = fmt.Errorf("reading IngressClass %s: %w", name, err)
			}
			if !found {
				return "", false
			}
			return class.Spec.Controller, true
		},
	})
	return decision, lookupErr
}

// namespace tells whether the namespace is being deleted, and whether the ServiceMesh enrolls it, as
// the namespace controller decides it.
func (v *View) namespace(ctx context.Context, name string) (namespaceState, error) {
	if state, ok := v.namespaces[name]; ok {
		return state, nil
	}
	ns, found, err := get(ctx, v, &corev1.Namespace{}, client.ObjectKey{Name: name})
	if err != nil {
		return namespaceState{}, fmt.Errorf("reading Namespace %s: %w", name, err)
	}
	if !found {
		return namespaceState{}, nil
	}
	state := namespaceState{terminating: ns.DeletionTimestamp != nil, labels: ns.Labels}
	if v.enrollment != nil {
		state.enrolled = v.enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Enroll
	}
	v.namespaces[name] = state
	return state, nil
}

// namespaceProxies counts the pods of the namespace that still run an Istio proxy (policy.RunsProxy),
// from the manager's pod cache when v reads the manager's cache, from v's reader otherwise.
func (v *View) namespaceProxies(ctx context.Context, namespace string) (int, error) {
	if n, ok := v.proxies[namespace]; ok {
		return n, nil
	}
	var pods meshctx.Pods
	if c, ok := v.informers.(cache.Cache); ok {
		pods = meshctx.CachedPods(c)
	} else {
		pods = meshctx.ListedPods(v.reader)
	}
	list, err := pods.ListPods(ctx, namespace)
	if err != nil {
		return 0, fmt.Errorf("listing the pods of namespace %s: %w", namespace, err)
	}
	n := 0
	for _, pod := range list {
		if policy.RunsProxy(pod) {
			n++
		}
	}
	v.proxies[namespace] = n
	return n, nil
}

// get reads the object at key for reading only: the cache's own from v's informers, or a shallow copy
// from v's reader. found is false when there is none.
func get[T client.Object](ctx context.Context, v *View, obj T, key client.ObjectKey) (T, bool, error) {
	if v.informers != nil {
		return meshctx.CachedObject(ctx, v.informers, obj, key)
	}
	err := v.reader.Get(ctx, key, obj, client.UnsafeDisableDeepCopy)
	if apierrors.IsNotFound(err) {
		return obj, false, nil
	}
	return obj, err == nil, err
}

// Changed passes Ingress updates that bear on the decision: spec (generation), annotations,
// meshkeeper's ownership of them, and deletion.
var Changed = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!maps.Equal(e.ObjectOld.GetAnnotations(), e.ObjectNew.GetAnnotations()) ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			!apply.OwnedKeys(e.ObjectOld, "annotations").Equal(apply.OwnedKeys(e.ObjectNew, "annotations"))
	},
}

// IngressClassChanged passes the IngressClass events that can change which Ingresses the ingress-nginx
// controller serves: a class created or deleted, or one whose spec.controller changed (the API server
// keeps it immutable, but the cache may miss the deletion between two of the same name).
var IngressClassChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*networkingv1.IngressClass)
		cur, curOK := e.ObjectNew.(*networkingv1.IngressClass)
		return !oldOK || !curOK || old.Spec.Controller != cur.Spec.Controller
	},
}

// SharingChanged passes the Ingress updates after which the Ingresses that share an upstream of
// ingress-nginx with it may be decided otherwise (policy.UpstreamGroup): a change of its spec (its
// backends, its class), of its deletion, or of its annotations but by a write of meshkeeper's own.
// meshkeeper writes only its two annotations, of an Ingress whose decision made on its own is the
// same before and after, so its writes change no other Ingress's decision; they would otherwise wake
// every Ingress of a group at each write of one of them.
var SharingChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			annotationsChangedByOthers(e.ObjectOld, e.ObjectNew)
	},
}

// annotationsChangedByOthers tells whether the annotations of an Ingress changed from old to updated
// other than by meshkeeper: a key but its own two, or one of those whose value meshkeeper does not own
// after the change (or, taken away, did not own before it).
func annotationsChangedByOthers(old, updated client.Object) bool {
	before, after := old.GetAnnotations(), updated.GetAnnotations()
	if maps.Equal(before, after) {
		return false
	}
	ownedBefore, ownedAfter := apply.OwnedKeys(old, "annotations"), apply.OwnedKeys(updated, "annotations")
	for key := range sets.KeySet(before).Union(sets.KeySet(after)) {
		was, hadKey := before[key]
		is, hasKey := after[key]
		switch {
		case hadKey == hasKey && was == is:
		case !annotationKeys.Has(key):
			return true
		case hasKey && !ownedAfter.Has(key), !hasKey && !ownedBefore.Has(key):
			return true
		}
	}
	return false
}

// ServiceAddressChanged passes Service updates that change what the Ingress decisions read of it: what
// service-upstream needs, the type and the ClusterIP, and the namespaces Istio exports it to (its
// exportTo annotation), which decide whether the controller's sidecar can route to it.
var ServiceAddressChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*corev1.Service)
		updated, newOK := e.ObjectNew.(*corev1.Service)
		return !oldOK || !newOK || old.Spec.Type != updated.Spec.Type || old.Spec.ClusterIP != updated.Spec.ClusterIP ||
			old.Annotations[policy.AnnotationServiceExportTo] != updated.Annotations[policy.AnnotationServiceExportTo]
	},
}

// ProxyGone passes the pod events after which a pod no longer runs an Istio proxy (policy.RunsProxy):
// the deletion of a pod with one, and an update that ends it (the pod finished or is being deleted).
// Pods are cached as policy.ProxyPod; anything else passes.
var ProxyGone = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	DeleteFunc: func(e event.DeleteEvent) bool {
		pod, ok := e.Object.(*policy.ProxyPod)
		return !ok || pod.HasProxy
	},
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*policy.ProxyPod)
		updated, newOK := e.ObjectNew.(*policy.ProxyPod)
		return !oldOK || !newOK || policy.RunsProxy(old) && !policy.RunsProxy(updated)
	},
}

// keptIngresses are the Ingresses whose decision was KeptForSidecars, by namespace.
type keptIngresses struct {
	mu          sync.Mutex
	byNamespace map[string]sets.Set[string]
}

// set records whether the Ingress at key keeps its annotations for its namespace's sidecars.
func (k *keptIngresses) set(key client.ObjectKey, kept bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	names := k.byNamespace[key.Namespace]
	switch {
	case kept && names == nil:
		if k.byNamespace == nil {
			k.byNamespace = map[string]sets.Set[string]{}
		}
		k.byNamespace[key.Namespace] = sets.New(key.Name)
	case kept:
		names.Insert(key.Name)
	case names.Has(key.Name):
		names.Delete(key.Name)
		if names.Len() == 0 {
			delete(k.byNamespace, key.Namespace)
		}
	}
}

// requests are the kept Ingresses of namespace.
func (k *keptIngresses) requests(namespace string) []reconcile.Request {
	k.mu.Lock()
	defer k.mu.Unlock()
	names := k.byNamespace[namespace]
	requests := make([]reconcile.Request, 0, names.Len())
	for name := range names {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKey{Namespace: namespace, Name: name}})
	}
	return requests
}

// SetupWithManager registers the reconciler: an Ingress on its own changes, the Ingresses that share an
// upstream of ingress-nginx with it, directly or through others, when it changes (SharingChanged), the
// Ingresses naming a Service, and those sharing an upstream with them, when it changes, those of a namespace when its labels change, those that keep their
// annotations for the sidecars of a namespace that left the mesh when a pod there stops running one
// (ProxyGone), and all of them when the ServiceMesh changes, when the workload reconciler reports
// another decision about the controller workload, or the cluster's Service ranges when the spec does
// not list them.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Informers == nil {
		r.Informers = mgr.GetCache()
	}
	if r.Controller.APIReader == nil {
		r.Controller.APIReader = mgr.GetAPIReader()
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &networkingv1.Ingress{}, backendServiceIndex,
		func(obj client.Object) []string {
			return policy.BackendServices(obj.(*networkingv1.Ingress))
		}); err != nil {
		return err
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &networkingv1.Ingress{}, upstreamIndex,
		func(obj client.Object) []string {
			return policy.IngressUpstreams(obj.(*networkingv1.Ingress))
		}); err != nil {
		return err
	}
	ingressesOf := func(ctx context.Context, opts ...client.ListOption) []reconcile.Request {
		list := &networkingv1.IngressList{}
		if err := r.List(ctx, list, opts...); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing Ingresses to reconcile")
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for _, ing := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ing)})
		}
		return requests
	}
	// The Ingresses naming the Service, and those that share an upstream with them: a Service that
	// changes whether one of them can be configured changes whether the others are held back.
	byService := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, svc client.Object) []reconcile.Request {
		list := &networkingv1.IngressList{}
		if err := r.List(ctx, list, client.InNamespace(svc.GetNamespace()), client.MatchingFields{backendServiceIndex: svc.GetName()},
			client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing Ingresses to reconcile")
			return nil
		}
		seeds := make([]client.Object, len(list.Items))
		for i := range list.Items {
			seeds[i] = &list.Items[i]
		}
		return r.groupOf(ctx, true, seeds...)
	})
	// The Ingresses that share an upstream with an Ingress that changed, directly or through others.
	enqueueGroup := func(ctx context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request], seeds ...client.Object) {
		for _, request := range r.groupOf(ctx, false, seeds...) {
			q.Add(request)
		}
	}
	bySharedUpstream := handler.Funcs{
		CreateFunc: func(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueGroup(ctx, q, e.Object)
		},
		UpdateFunc: func(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueGroup(ctx, q, e.ObjectOld, e.ObjectNew)
		},
		DeleteFunc: func(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueGroup(ctx, q, e.Object)
		},
		GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			enqueueGroup(ctx, q, e.Object)
		},
	}
	byNamespace := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, ns client.Object) []reconcile.Request {
		return ingressesOf(ctx, client.InNamespace(ns.GetName()))
	})
	all := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		return ingressesOf(ctx)
	})
	// The Ingresses of the class: whether the controller serves them depends on the IngressClass's
	// existence and spec.controller (policy.ClassSelection.Serves).
	byClass := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, class client.Object) []reconcile.Request {
		list := &networkingv1.IngressList{}
		if err := r.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing Ingresses to reconcile")
			return nil
		}
		var requests []reconcile.Request
		for i := range list.Items {
			if name := list.Items[i].Spec.IngressClassName; name != nil && *name == class.GetName() {
				requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return requests
	})
	b := ctrl.NewControllerManagedBy(mgr).
		For(&networkingv1.Ingress{}, builder.WithPredicates(Changed)).
		Watches(&networkingv1.Ingress{}, bySharedUpstream, builder.WithPredicates(SharingChanged)).
		Watches(&corev1.Service{}, byService, builder.WithPredicates(ServiceAddressChanged)).
		Watches(&corev1.Namespace{}, byNamespace, builder.WithPredicates(meshctx.LabelsOrDeletionChanged)).
		// Only the Ingresses kept for their namespace's sidecars: a cluster's pods come and go by the
		// thousand, and those of the mesh's namespaces change no Ingress decision.
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(func(_ context.Context, pod client.Object) []reconcile.Request {
			return r.kept.requests(pod.GetNamespace())
		}), builder.WithPredicates(ProxyGone)).
		Watches(&networkingv1.IngressClass{}, byClass, builder.WithPredicates(IngressClassChanged)).
		Watches(&meshv1alpha1.ServiceMesh{}, all, builder.WithPredicates(meshctx.EnrollmentChanged)).
		WithOptions(meshctx.ControllerOptions(Workers)).
		Named("ingress")
	ranges, err := ServiceCIDRSource(mgr, handler.TypedEnqueueRequestsFromMapFunc(
		func(ctx context.Context, _ *networkingv1.ServiceCIDR) []reconcile.Request {
			mesh, err := meshctx.Get(ctx, r.Client)
			if err != nil || mesh == nil || !policy.IngressNginxEnabled(mesh.Spec.IngressNginx) || len(mesh.Spec.IngressNginx.ServiceCIDRs) > 0 {
				return nil
			}
			return ingressesOf(ctx)
		}))
	if err != nil {
		return err
	}
	if ranges != nil {
		b = b.WatchesRawSource(ranges)
	}
	if r.Controller.Report != nil {
		// The decision about the controller workload changed: hostNetwork, a conflict on its pod template,
		// whether it serves Ingresses without a class, the workload created or deleted.
		b = b.WatchesRawSource(r.Controller.Report.SourceFor(all))
	}
	return b.Complete(r)
}

// groupOf returns the Ingresses that share an upstream of ingress-nginx with one of seeds (Ingresses
// of one namespace, as the cache holds them), directly or through others, read from the upstream
// index: those whose decision can change with the seeds' (policy.UpstreamGroup). The seeds are among
// them only with withSeeds.
func (r *Reconciler) groupOf(ctx context.Context, withSeeds bool, seeds ...client.Object) []reconcile.Request {
	var requests []reconcile.Request
	seen, walked := sets.New[client.ObjectKey](), sets.New[string]()
	var queue []*networkingv1.Ingress
	for _, seed := range seeds {
		ing, ok := seed.(*networkingv1.Ingress)
		if !ok {
			continue
		}
		key := client.ObjectKeyFromObject(ing)
		if !seen.Has(key) && withSeeds {
			requests = append(requests, reconcile.Request{NamespacedName: key})
		}
		seen.Insert(key)
		queue = append(queue, ing)
	}
	for ; len(queue) > 0; queue = queue[1:] {
		ing := queue[0]
		for _, upstream := range policy.IngressUpstreams(ing) {
			if walked.Has(ing.Namespace + "/" + upstream) {
				continue
			}
			walked.Insert(ing.Namespace + "/" + upstream)
			list := &networkingv1.IngressList{}
			if err := r.List(ctx, list, client.InNamespace(ing.Namespace), client.MatchingFields{upstreamIndex: upstream},
				client.UnsafeDisableDeepCopy); err != nil {
				ctrl.LoggerFrom(ctx).Error(err, "Listing Ingresses to reconcile")
				return requests
			}
			for i := range list.Items {
				other := &list.Items[i]
				if key := client.ObjectKeyFromObject(other); !seen.Has(key) {
					seen.Insert(key)
					requests = append(requests, reconcile.Request{NamespacedName: key})
					queue = append(queue, other)
				}
			}
		}
	}
	return requests
}

// annotationKeys are the annotations the Ingress controller manages.
var annotationKeys = sets.New(policy.AnnotationServiceUpstream, policy.AnnotationUpstreamVhost)
