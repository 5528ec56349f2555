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

// Package servicemesh reconciles the ServiceMesh itself: the control plane (the istio-base and istiod
// releases), the uninstall, and the status, which it computes from one read of the cluster
// (observe) by pure setters, one per condition.
package servicemesh

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	policycontroller "github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// Reconciler reconciles the ServiceMesh into a running Istio control plane and reports the mesh's
// state.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache, for objects meshkeeper does not cache or the cache may not show yet
	// (a Namespace it may create).
	APIReader client.Reader
	// Workloads reads the metadata of Deployments and DaemonSets (ingress.NewWorkloadCache), to find the
	// workloads meshkeeper gave sidecar settings to on uninstall; nil finds only the one the spec names.
	Workloads client.Reader
	// ReplicaSets reads the metadata of ReplicaSets, to follow the ingress-nginx controller's pods to its
	// Deployment and to read the version istiod's pods run (inPlaceRunning): the restarts' workload cache
	// (restart.NewWorkloadCache), so that the cluster's ReplicaSets are held once, not once more in
	// Workloads; nil reads them from Workloads.
	ReplicaSets client.Reader
	// Pods reads the pods as the manager caches them; nil is SetupWithManager's cache, or, for a
	// reconciler that was not set up, Client.
	Pods meshctx.Pods
	// Informers is the cache the status pass reads the Ingresses' Services and Namespaces from without
	// copies; nil is SetupWithManager's cache, or, for a reconciler that was not set up, Client.
	Informers meshctx.Informers
	Recorder  events.EventRecorder
	Charts    ChartManager
	Resolver  charts.Resolver

	// policyWatches watches the policy kinds, for PoliciesApplied, once their CRDs are served.
	policyWatches *meshctx.KindWatches
	// reportedMTLS holds the mTLS risk last reported; reportedAgent the CNI namespace's refusal.
	reportedMTLS  mtlsReport
	reportedAgent meshctx.Transitions
	// controlPlaneWarnings are the refusals and missing charts the control plane's last attempt warned of.
	controlPlaneWarnings attemptWarnings
	// backoff paces attempts at a control plane that failed; cniBackoff those at installing, upgrading
	// or removing the CNI agent; deleteBackoff those at an uninstall.
	backoff, cniBackoff, deleteBackoff controlPlaneBackoff
	// revisionState is what the revision phase remembers between reconciles.
	revisionState revisionState
	// releaseRecords is what the release records said when last read (knownReleaseHistories).
	releaseRecords releaseRecords
	// Policy is what the operator's installer allows; the reconciler checks its namespaces (the chart
	// resolver checks its repositories and image hubs).
	Policy charts.Policy
	// IngressWorkload is what the ingress-nginx workload reconciler last found of the controller
	// workload; nil: the status pass reads the workload itself.
	IngressWorkload *ingress.WorkloadReport
	// IngressRefusals are the Ingresses whose write the API server refuses, as the Ingress controller
	// records them; nil: the status pass counts them among the Ingresses being configured.
	IngressRefusals *meshctx.Refusals
	// NamespaceRefusals are the namespaces whose label write the API server refuses, as the namespace
	// controller records them; nil: the status pass counts them among the namespaces being enrolled.
	NamespaceRefusals *meshctx.Refusals
	// PolicyRivals finds namespace-wide policy objects of someone else's, shared with the policy
	// controller; nil: the status pass does not look for them.
	PolicyRivals *policycontroller.Rivals
	// PolicyMeshSidecars finds the mesh-wide default Sidecar, which the Sidecars the policy controller
	// writes carry over, shared with the policy controller; nil makes one of the reconciler's own.
	PolicyMeshSidecars *policycontroller.MeshSidecars
	// PolicySpecs are the specs the policy controller applied; nil: the status pass counts every
	// policy object of meshkeeper's in place, whatever its spec.
	PolicySpecs *policycontroller.AppliedSpecs
	// PoliciesServed tells when discovery serves the policy kinds (the policy controller kicks it when
	// their CRDs change); nil: a reconcile that found them not served is brought back by other events only.
	PoliciesServed *meshctx.KindsServed
	// Restarts is what the data-plane restarts report (status.proxies.restarting and notRestartable,
	// DataPlaneUpToDate's RestartStalled); nil reports none.
	Restarts *restart.Report
	// writes are meshkeeper's own writes of the ServiceMesh the cache may not show yet.
	writes ownWrites
}

// The ServiceMesh itself: meshkeeper reads its spec, writes its status and its finalizer, nothing else.
// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes/status,verbs=patch
// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// The control-plane namespace, created when absent and removed on uninstall only if meshkeeper created it.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch;create;patch;delete
// Helm stores each release as Secrets in the control-plane namespace (get, list, create, update, delete;
// never watched or cached, never patched). Cluster-wide because spec.namespace is chosen at run time; the
// installer pins where with --control-plane-namespaces (docs/security.md).
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;create;update;delete
// What the base and istiod charts render.
// +kubebuilder:rbac:groups="",resources=configmaps;services;serviceaccounts,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=apps,resources=deployments,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=policy,resources=poddisruptionbudgets,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=autoscaling,resources=horizontalpodautoscalers,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.k8s.io,resources=networkpolicies,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=mutatingwebhookconfigurations;validatingwebhookconfigurations;validatingadmissionpolicies;validatingadmissionpolicybindings,verbs=get;list;watch;create;patch;delete
// The Istio CRDs are installed and upgraded, never deleted.
// +kubebuilder:rbac:groups=apiextensions.k8s.io,resources=customresourcedefinitions,verbs=get;list;watch;create;patch
// istiod's RBAC: creating a role that grants what meshkeeper itself does not hold needs escalate on it, and
// binding it needs bind on it; the API server checks neither verb on a binding.
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=roles;clusterroles,verbs=get;list;watch;create;patch;delete;escalate;bind
// +kubebuilder:rbac:groups=rbac.authorization.k8s.io,resources=rolebindings;clusterrolebindings,verbs=get;list;watch;create;patch;delete

// forgetMesh drops what the reconciler remembers of a ServiceMesh that is gone. One created again is a
// new object whose Events start empty: the Warnings the old one got (plaintext clients, a CNI namespace
// refusing the agent, a revision's removal blocked, canary namespaces not enrolled, a control plane
// refused or without charts) are recorded on it again, and its revisions' use is judged from its own
// status and plans alone.
func (r *Reconciler) forgetMesh() {
	r.writes.forget()
	r.reportedMTLS.forget()
	r.reportedAgent.ForgetAll()
	r.controlPlaneWarnings.forget()
	r.revisionState.mu.Lock()
	r.revisionState.unusedSince, r.revisionState.blocked = nil, nil
	r.revisionState.mu.Unlock()
	r.revisionState.reported.ForgetAll()
}

// Reconcile reads like its phases: fetch, finalizer or uninstall, control plane, CNI agent, one read of
// the cluster, status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := &meshv1alpha1.ServiceMesh{}
	if err := r.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetMesh()
			resetMetrics() // also when its finalizer was removed by hand, before meshkeeper uninstalled it
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	mesh := r.writes.freshest(cached)
	if !mesh.DeletionTimestamp.IsZero() {
		return r.reconcileDeleteWithBackoff(ctx, mesh)
	}
	if !controllerutil.ContainsFinalizer(mesh, meshv1alpha1.Finalizer) {
		if err := r.applyFinalizer(ctx, mesh, true); err != nil {
			return ctrl.Result{}, err
		}
	}

	cniEnabled, cniBy := settleCNI(mesh)
	if err := r.restorePendingInjector(ctx, mesh, cniEnabled, cniBy); err != nil {
		return ctrl.Result{}, err
	}
	forAgent := meshctx.CNIInjects(mesh) // istiod's values this pass renders inject for the agent
	installed, heldFor, controlPlaneErr := r.reconcileControlPlaneWithBackoff(ctx, mesh)
	cni, cniErr := r.reconcileCNI(ctx, mesh, cniEnabled, cniBy, installed, controlPlaneErr)
	cni.injectorPending = injectorPending(mesh, cni, forAgent, injectorsInstalled(installed))
	// The policy kinds come with the istio-base chart: watch them from the first reconcile that finds
	// them served.
	policiesServed := r.policyWatches == nil || r.policyWatches.WatchServed(ctx)
	if !policiesServed && r.PoliciesServed != nil {
		r.PoliciesServed.Await() // nothing else need change once discovery serves them
	}
	// A phase's failure only of the API server's making (a 503, a timeout, a conflict with a write made
	// since the read, outlasting the chart manager's own quick retries), on its first attempt at this
	// generation and while its backoff is waited out, changes no condition, as an API error the phase
	// returns unclassified does not (meshctx.Quiet). Reported, ControlPlaneReady or CNIReady False, and
	// Ready with it, would flip Argo CD's health to Degraded, release kubectl wait and start the alerts'
	// timers for a blip that the next attempt, seconds later, gets past. If that attempt fails too, the
	// failure persists and is reported.
	key := backoffKey(mesh)
	reported := controlPlaneErr
	if meshctx.Quiet(controlPlaneErr, r.backoff.failuresOf(key)) {
		reported = unreported{controlPlaneErr}
	}
	obs, observeErr := r.observe(ctx, mesh, installed, reported, policiesServed)
	obs.cni = cni
	errors.As(controlPlaneErr, &obs.tagMoved)
	if cni.ran && meshctx.Quiet(cni.err, r.cniBackoff.failuresOf(key)) {
		// As for the control plane: CNIReady keeps what it said, and status.cni its node counts; where the
		// agent runs is recorded all the same.
		kept := *cni
		kept.ran = false
		obs.cni = &kept
	}

	status := computeStatus(&mesh.Status, obs)
	result, err := meshctx.Result(ctx, cmp.Or(controlPlaneErr, cniErr))
	if installed != nil && installed.revisions != nil && installed.revisions.requeueAfter > 0 && result.RequeueAfter == 0 {
		result.RequeueAfter = installed.revisions.requeueAfter // the next unused revision's grace period ends
	}
	err = errors.Join(err, observeErr)
	if err == nil {
		// The generation was fully handled: success, a failure that retrying cannot fix, or a known wait.
		status.ObservedGeneration = mesh.Generation
	}
	statusErr := r.writeStatus(ctx, mesh, status)
	if apierrors.IsConflict(statusErr) {
		// The status was computed from a read the cache has since moved past; compute it again.
		// The cache is behind by a write or two and catches up within milliseconds.
		ctrl.LoggerFrom(ctx).V(1).Info("Status computed from an outdated read, retrying")
		return ctrl.Result{RequeueAfter: statusConflictRetry}, err
	}
	if statusErr == nil {
		setMetrics(obs)
		setCNIMetrics(status.CNI)
		metrics.SetConditions(status.Conditions)
		metrics.SetIstio(status.Revision, status.Version)
		setRevisionMetrics(status)
		r.reportMTLS(mesh, status, obs)
		r.reportCanaryNotEnrolled(mesh, obs)
		r.reportRevisionShared(mesh, obs)
		if meta.IsStatusConditionTrue(status.Conditions, meshv1alpha1.ConditionReady) {
			// What installs and upgrades left behind goes back to the system once the mesh is Ready.
			r.Charts.ReturnMemory()
		}
	}
	if cni.heldFor > 0 && controlPlaneErr == nil && observeErr == nil && statusErr == nil {
		// The CNI agent's last failure is still being waited out, as the control plane's below.
		return ctrl.Result{RequeueAfter: cni.heldFor}, nil
	}
	if heldFor > 0 && observeErr == nil && statusErr == nil {
		// The control plane's last failure is still being waited out: come back when its backoff has
		// passed, rather than through the workqueue's faster error backoff. A failure retrying cannot fix
		// comes back too: the change that woke this reconcile (another installation's default tag
		// deleted) may be what fixes it, and nothing wakes the ServiceMesh for it again.
		return ctrl.Result{RequeueAfter: heldFor}, nil
	}
	return result, errors.Join(err, statusErr)
}

// unreported is a failure the status does not report: it carries no condition's reason (it does not
// unwrap to a meshctx.Error).
type unreported struct{ error }

// writeStatus writes the status when it changed. A condition message longer than the API server takes
// is cut to fit (the messages that name lists bound them, and say what matters first): one message too
// long would have the whole status refused, and every condition kept as it was, Ready True included.
func (r *Reconciler) writeStatus(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, status *meshv1alpha1.ServiceMeshStatus) error {
	for i := range status.Conditions {
		status.Conditions[i].Message = meshctx.Bound(status.Conditions[i].Message, meshctx.ConditionMessageLimit)
	}
	if equality.Semantic.DeepEqual(&mesh.Status, status) {
		return nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Updating status", "observedGeneration", status.ObservedGeneration)
	answer, err := apply.Status(ctx, r.Client, meshv1alpha1.GroupVersion.WithKind("ServiceMesh"), mesh, status)
	if err != nil {
		return err
	}
	return r.writes.record(mesh.ResourceVersion, answer)
}

// applyFinalizer adds (or, with present false, removes) meshkeeper's finalizer. It is applied under
// meshkeeper's field manager, so meshkeeper owns that one list entry and no other metadata. The apply
// carries the UID that was read, which the API server checks: server-side apply creates what does not
// exist, and a stale read must never bring back a ServiceMesh its user deleted.
func (r *Reconciler) applyFinalizer(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, present bool) error {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))
	u.SetName(mesh.Name)
	u.SetUID(mesh.UID)
	if present {
		u.SetFinalizers([]string{meshv1alpha1.Finalizer})
	}
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(meshv1alpha1.FieldManager)); err != nil {
		return fmt.Errorf("applying the finalizer of ServiceMesh %s: %w", mesh.Name, err)
	}
	if err := r.writes.record(mesh.ResourceVersion, u); err != nil {
		return err
	}
	if present {
		// The apply changed only the finalizers: the spec read is still current, so the status this
		// reconcile computes is written against the new resource version instead of conflicting with
		// meshkeeper's own write and waiting for a retry.
		if u.GetUID() == mesh.UID && u.GetResourceVersion() != "" {
			mesh.ResourceVersion = u.GetResourceVersion()
			mesh.Finalizers = u.GetFinalizers()
		}
		return nil
	}
	return r.removeCoOwnedFinalizer(ctx, mesh)
}

// removeCoOwnedFinalizer removes meshkeeper's finalizer when giving up meshkeeper's ownership of it did
// not: another field manager lists it too (a ServiceMesh applied server-side from an exported manifest,
// or by Argo CD with the finalizer in git), and an entry stays while any manager owns it. It is a JSON
// patch that removes exactly that entry, guarded by a test of the entry and of the UID, so it can never
// take another finalizer or touch a ServiceMesh created again under the same name.
func (r *Reconciler) removeCoOwnedFinalizer(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) error {
	live := &meshv1alpha1.ServiceMesh{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(mesh), live); err != nil {
		return client.IgnoreNotFound(err)
	}
	i := slices.Index(live.Finalizers, meshv1alpha1.Finalizer)
	if live.UID != mesh.UID || i < 0 {
		return nil
	}
	patch := fmt.Sprintf(`[{"op":"test","path":"/metadata/uid","value":%q},`+
		`{"op":"test","path":"/metadata/finalizers/%d","value":%q},{"op":"remove","path":"/metadata/finalizers/%d"}]`,
		mesh.UID, i, meshv1alpha1.Finalizer, i)
	if err := r.Patch(ctx, live, client.RawPatch(types.JSONPatchType, []byte(patch))); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("removing the finalizer of ServiceMesh %s, which another field manager also lists: %w", mesh.Name, err)
	}
	return nil
}

// SetupWithManager registers the reconciler. The ServiceMesh wakes it on spec changes (its own status
// writes must not, but for the one that changes whether istiod injects for the CNI agent); the chart
// kinds wake it when one of meshkeeper's objects changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Pods == nil {
		r.Pods = meshctx.CachedPods(mgr.GetCache())
	}
	if r.Informers == nil {
		r.Informers = mgr.GetCache()
	}
	if r.PolicyMeshSidecars == nil {
		r.PolicyMeshSidecars = policycontroller.NewMeshSidecars(mgr.GetAPIReader())
	}
	b := ctrl.NewControllerManagedBy(mgr).
		// Its own status write that records the CNI agent installed, or refused on a new mesh, changes
		// whether istiod injects for the agent (meshctx.InjectionSpec): istiod's values follow.
		For(&meshv1alpha1.ServiceMesh{}, builder.WithPredicates(predicate.Or[client.Object](meshctx.SpecOrDeletionChanged, meshctx.CNIInjectsChanged))).
		WithOptions(meshctx.ControllerOptions(0)).
		Named("servicemesh")
	toMesh := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{meshctx.Request}
	})
	for _, kind := range ChartKinds {
		b = b.Watches(kind.Object, toMesh, builder.WithPredicates(meshctx.ManagedOnly, changedPredicate(kind)))
	}
	// The Istio CRDs, by metadata: the base release's drift check, which only a reconcile runs, applies
	// one that was deleted (kubectl delete crd) again. Their other changes are the chart manager's or
	// the API server's (a CRD's own status), and a CRD marked for deletion is gone only once its
	// objects are: it is applied again after that.
	b = b.Watches(meshctx.CRDMetadata(), toMesh, builder.WithPredicates(meshctx.ManagedOnly, predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		UpdateFunc:  func(event.UpdateEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}))
	// The data plane's status comes from the namespaces, Ingresses, Services and pods.
	// They change by the thousand while a mesh converges, so their changes are batched.
	pace := &statusPace{}
	batched := toMeshBatched[client.Object](pace)
	b = b.Watches(&corev1.Namespace{}, batched, builder.WithPredicates(meshctx.LabelsOrDeletionChanged)).
		Watches(&networkingv1.Ingress{}, batched, builder.WithPredicates(ingress.Changed)).
		Watches(&networkingv1.IngressClass{}, batched, builder.WithPredicates(ingress.IngressClassChanged)).
		Watches(&corev1.Service{}, batched, builder.WithPredicates(ingress.ServiceAddressChanged)).
		Watches(&corev1.Pod{}, batched, builder.WithPredicates(proxyChanged))
	// The cluster's Service ranges, which the ingress-nginx controller's sidecar captures.
	ranges, err := ingress.ServiceCIDRSource(mgr, toMeshBatched[*networkingv1.ServiceCIDR](pace))
	if err != nil {
		return err
	}
	if ranges != nil {
		b = b.WatchesRawSource(ranges)
	}
	if r.IngressWorkload != nil {
		b = b.WatchesRawSource(r.IngressWorkload.Source())
	}
	if r.Restarts != nil {
		b = b.WatchesRawSource(r.Restarts.Source())
	}
	if r.IngressRefusals != nil {
		// The API server refused an Ingress write, or let one through that it refused before: paced as
		// the Ingresses' own changes are, since ingress-nginx's admission webhook without a ready pod
		// refuses every Ingress write at once.
		b = b.WatchesRawSource(r.IngressRefusals.SourceFor(handler.Funcs{
			GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				batched.Update(ctx, event.UpdateEvent{ObjectOld: e.Object, ObjectNew: e.Object}, q)
			}}))
	}
	if r.NamespaceRefusals != nil {
		// The API server refused a namespace's label write, or let one through that it refused before:
		// paced as the namespaces' own changes are, since one policy may refuse every namespace's.
		b = b.WatchesRawSource(r.NamespaceRefusals.SourceFor(handler.Funcs{
			GenericFunc: func(ctx context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
				batched.Update(ctx, event.UpdateEvent{ObjectOld: e.Object, ObjectNew: e.Object}, q)
			}}))
	}
	if r.PoliciesServed != nil {
		b = b.WatchesRawSource(r.PoliciesServed.Source(toMesh))
	}
	if r.PolicySpecs != nil {
		// The policy controller found fields someone else added to meshkeeper's policy objects, or found
		// them gone: PoliciesApplied follows.
		b = b.WatchesRawSource(r.PolicySpecs.Source())
	}
	c, err := b.Build(r)
	if err != nil {
		return err
	}
	if r.revisionState.discovery, err = discovery.NewDiscoveryClientForConfig(mgr.GetConfig()); err != nil {
		return fmt.Errorf("creating a discovery client: %w", err)
	}
	r.policyWatches = meshctx.NewKindWatches(mgr, c, render.PolicyKinds, toMeshBatched[*metav1.PartialObjectMetadata](pace), r.PoliciesServed)
	return nil
}

// statusConflictRetry is how soon a status computed from an outdated read is computed again.
const statusConflictRetry = 100 * time.Millisecond

// proxyChanged passes pod updates that can change a pod's proxy state (pods are cached stripped to
// what that state reads, so anything else that changed is their bookkeeping).
var proxyChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*policy.ProxyPod)
		updated, newOK := e.ObjectNew.(*policy.ProxyPod)
		return !oldOK || !newOK || !old.SameProxy(updated)
	},
}
