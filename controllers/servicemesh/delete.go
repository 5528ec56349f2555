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

package servicemesh

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	policycontroller "github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// reconcileDeleteWithBackoff runs the uninstall unless its last failure is still being waited out: the
// ServiceMesh is woken by every change of the objects it watches, which would otherwise retry an
// uninstall some object blocks on every wake-up.
func (r *Reconciler) reconcileDeleteWithBackoff(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (ctrl.Result, error) {
	key := string(mesh.UID) + "/delete"
	if left, last := r.deleteBackoff.pending(key); last != nil {
		ctrl.LoggerFrom(ctx).V(1).Info("Uninstall failed recently, not retrying yet", "retryIn", left, "error", last.Error())
		return ctrl.Result{RequeueAfter: left}, nil
	}
	err := r.reconcileDelete(ctx, mesh)
	r.deleteBackoff.record(key, err)
	return ctrl.Result{}, err
}

// reconcileDelete uninstalls what meshkeeper installed: the CNI agent and both control-plane releases (the Istio CRDs stay, and with them
// every user object), any webhook configuration still labelled as meshkeeper's, and the control-plane
// namespace if meshkeeper created it. Then it lets the ServiceMesh go.
func (r *Reconciler) reconcileDelete(ctx context.Context, cached *meshv1alpha1.ServiceMesh) error {
	// The name is always "default", so a cached ServiceMesh whose deletion already finished may stand for
	// a new one the user just created. Only the live object decides what is uninstalled.
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cached), mesh); err != nil {
		return client.IgnoreNotFound(err)
	}
	if mesh.UID != cached.UID || mesh.DeletionTimestamp.IsZero() || !slices.Contains(mesh.Finalizers, meshv1alpha1.Finalizer) {
		return nil
	}
	controlPlaneNS := mesh.Spec.Namespace
	if slices.Contains(mesh.Finalizers, metav1.FinalizerOrphanDependents) {
		// kubectl delete --cascade=orphan (or Argo CD's PrunePropagationPolicy=orphan) asks to keep what
		// the ServiceMesh owns, and the garbage collector is taking meshkeeper's owner references off it
		// meanwhile: an uninstall racing with it would delete part of the control plane and keep the
		// rest (istiod gone, its webhooks failing closed). Nothing is uninstalled.
		left, err := r.installedReleases(ctx, mesh)
		if err != nil {
			return r.reportUninstallFailed(ctx, mesh, err, uninstallStarted)
		}
		owned, orphaned, err := r.meshWebhooks(ctx, mesh)
		if err != nil {
			return r.reportUninstallFailed(ctx, mesh, err, uninstallStarted)
		}
		if outside := outsideReleases(slices.Concat(owned, orphaned)); len(left) > 0 || len(outside) > 0 {
			return r.leaveOrphaned(ctx, mesh, left, outside, true)
		}
		// Nothing of the control plane is installed, so nothing is kept from the uninstall below.
	}
	// What meshkeeper wrote on users' objects is taken back object by object; one that refuses (an
	// admission webhook or policy denies the change) does not keep the rest of the mesh installed. It is
	// named, and retried with backoff, before the finalizer goes.
	var stuck []error
	if err := namespace.UnenrollAll(ctx, r.Client); err != nil {
		stuck = append(stuck, err)
	}
	if err := ingress.Release(ctx, r.Client, r.APIReader, r.Workloads, mesh); err != nil {
		stuck = append(stuck, err)
	}
	if err := policycontroller.DeleteAll(ctx, r.Client, r.APIReader, mesh); err != nil {
		stuck = append(stuck, err)
	}
	// The webhook configurations go before the releases, the default revision tag's above all (it belongs
	// to no release): each fails closed, and would refuse the pods it selects once its istiod's Service
	// is gone, for as long as a release's uninstall below fails and is retried.
	orphanedWebhooks, err := r.deleteLeftoverWebhooks(ctx, mesh)
	if err != nil {
		return r.reportUninstallFailed(ctx, mesh, err, uninstallStarted)
	}
	// A release whose objects were orphaned (the garbage collector acted on an orphan deletion before
	// meshkeeper saw it) is left whole, with its records, and named below.
	left := map[string][]string{}
	keptOrphaned := func(err error) bool {
		orphans, ok := orphanedOnly(err)
		if !ok {
			return false
		}
		for _, o := range orphans {
			left[o.Namespace] = append(left[o.Namespace], o.Release)
		}
		return true
	}
	if err := r.uninstallAllCNI(ctx, mesh); err != nil && !keptOrphaned(err) {
		return r.reportUninstallFailed(ctx, mesh, err, uninstallingCNI)
	}
	releases, err := r.revisionReleases(ctx, mesh)
	if err != nil {
		return r.reportUninstallFailed(ctx, mesh, err, cniUninstalled)
	}
	for _, release := range append(releases, istiodRelease, baseRelease) {
		if err := r.uninstallRelease(ctx, mesh, controlPlaneNS, release); err != nil && !keptOrphaned(err) {
			return r.reportUninstallFailed(ctx, mesh, fmt.Errorf("uninstalling release %s/%s: %w", controlPlaneNS, release, err),
				uninstallingControlPlane)
		}
	}
	if outside := outsideReleases(orphanedWebhooks); len(left) > 0 || len(outside) > 0 {
		// What refused to give back meshkeeper's labels holds no deletion that leaves the control plane
		// running anyway.
		if len(stuck) > 0 {
			ctrl.LoggerFrom(ctx).Info("Leaving meshkeeper's labels and annotations that were refused back", "refused", errors.Join(stuck...).Error())
		}
		return r.leaveOrphaned(ctx, mesh, left, outside, false)
	}
	if len(stuck) > 0 {
		return r.reportUninstallBlocked(ctx, mesh, errors.Join(stuck...))
	}
	if err := r.deleteCreatedNamespace(ctx, mesh, controlPlaneNS); err != nil {
		return r.reportUninstallFailed(ctx, mesh, err, controlPlaneUninstalled)
	}
	resetMetrics()
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, "Uninstalled", "Uninstall",
		"Removed the control plane from %s; the Istio CRDs and their objects stay", controlPlaneNS)
	ctrl.LoggerFrom(ctx).Info("Uninstalled the control plane", "namespace", controlPlaneNS)
	return r.applyFinalizer(ctx, mesh, false)
}

// orphanedOnly returns the releases err says were left whole because their objects were orphaned
// (*helm.OrphanedError), and whether that is all it says: an error that joins several (errors.Join, as
// uninstallAllCNI returns) is one only when every error it joins is, so that a failure joined to an
// orphaned release is still a failure.
func orphanedOnly(err error) ([]*helm.OrphanedError, bool) {
	switch e := err.(type) {
	case nil:
		return nil, false
	case *helm.OrphanedError:
		return []*helm.OrphanedError{e}, true
	case interface{ Unwrap() []error }:
		var all []*helm.OrphanedError
		for _, inner := range e.Unwrap() {
			orphans, ok := orphanedOnly(inner)
			if !ok {
				return nil, false
			}
			all = append(all, orphans...)
		}
		return all, len(all) > 0
	case interface{ Unwrap() error }:
		return orphanedOnly(e.Unwrap())
	}
	return nil, false
}

// reasonOrphaned is the reason of the Warning Event on a ServiceMesh whose deletion left the control
// plane running: it was deleted with orphan propagation, or its objects lost their owner references.
const reasonOrphaned = "Orphaned"

// leaveOrphaned lets the ServiceMesh go with its control plane left running: the releases of left
// (release names by namespace), whose records are kept, and the webhook configurations of outside, which
// belong to no release. A Warning Event names them and the commands that remove them, in place of
// Uninstalled: the deletion asked to keep them (orphan propagation), and keeping their records lets
// helm uninstall remove exactly them, and a ServiceMesh created again take them over. writesKept tells
// that what meshkeeper wrote on users' objects stays too (the orphan finalizer was seen before anything
// was taken back; the controllers leave it, meshctx.Kept), which the Event says with how to find it. The
// control-plane namespace is not looked into: what runs there keeps it.
//
// The finalizer goes by a JSON patch that removes its one entry (removeCoOwnedFinalizer), not by the
// apply of applyFinalizer: that apply takes with it the orphan finalizer the API server added, which no
// field manager owns, and the ServiceMesh would be gone before the garbage collector took its owner
// references off the objects it keeps; the collector then deletes them, as those of an owner gone.
func (r *Reconciler) leaveOrphaned(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, left map[string][]string, outside []client.Object,
	writesKept bool) error {
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, reasonOrphaned, "Uninstall", "%s", orphanedNote(left, outside, writesKept))
	ctrl.LoggerFrom(ctx).Info("Left the control plane running, as the deletion asked", "releases", left, "webhooks", len(outside))
	resetMetrics()
	return r.removeCoOwnedFinalizer(ctx, mesh)
}

// orphanedNote is the note of the Orphaned Event: what was left running first, then the commands that
// remove it, the releases' namespaces and names sorted, and, with writesKept, what stays of meshkeeper's
// on users' objects and how to find it.
func orphanedNote(left map[string][]string, outside []client.Object, writesKept bool) string {
	var kept, commands []string
	for _, ns := range slices.Sorted(maps.Keys(left)) {
		names := slices.Compact(slices.Sorted(slices.Values(left[ns])))
		for _, name := range names {
			kept = append(kept, ns+"/"+name)
		}
		commands = append(commands, fmt.Sprintf("helm uninstall -n %s %s", ns, strings.Join(names, " ")))
	}
	var what []string
	if len(kept) > 0 {
		what = append(what, "Helm releases "+strings.Join(kept, ", "))
	}
	for _, webhook := range outside {
		kind := webhook.GetObjectKind().GroupVersionKind().Kind
		what = append(what, kind+" "+webhook.GetName())
		commands = append(commands, fmt.Sprintf("kubectl delete %s %s", strings.ToLower(kind), webhook.GetName()))
	}
	note := fmt.Sprintf("The ServiceMesh was deleted with orphan propagation, or its objects lost their owner references, "+
		"so meshkeeper left the control plane running and kept its release records: %s. "+
		"Remove it with %s, or create the ServiceMesh again, which takes it over",
		strings.Join(what, "; "), strings.Join(commands, "; "))
	if writesKept {
		note += ". Its injection labels on namespaces, its annotations on Ingresses and on the ingress-nginx controller's pod " +
			"template, and its PeerAuthentications and Sidecars (kubectl get peerauthentications,sidecars -A -l " +
			meshv1alpha1.ManagedByLabel + "=" + meshv1alpha1.ManagedByValue + ") stay as well, for the control plane kept running"
	}
	return note
}

// installedReleases names meshkeeper's releases by namespace: those with a record carrying meshkeeper's
// digest in the control-plane namespace and wherever the CNI agent may be installed, read around the
// cache (it holds no Secrets).
func (r *Reconciler) installedReleases(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (map[string][]string, error) {
	// An agent DaemonSet of the mesh's tells where the istio-cni release runs when the status does not (lost
	// whole); the garbage collector may have taken the mesh's owner reference off it already.
	namespaces, err := r.agentsWhere(ctx, func(ds *appsv1.DaemonSet) bool {
		return ofMesh(ds, mesh) && r.agentNamespaceTrusted(mesh, ds.Namespace)
	})
	if err != nil {
		return nil, err
	}
	namespaces = append(namespaces, mesh.Spec.Namespace, mesh.Spec.CNINamespace())
	if mesh.Status.CNI != nil && mesh.Status.CNI.Namespace != "" {
		namespaces = append(namespaces, mesh.Status.CNI.Namespace)
	}
	slices.Sort(namespaces)
	installed := map[string][]string{}
	for _, ns := range slices.Compact(namespaces) {
		secrets := &metav1.PartialObjectMetadataList{}
		secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
		if err := r.APIReader.List(ctx, secrets, client.InNamespace(ns), client.MatchingLabels{"owner": "helm"},
			client.HasLabels{helm.DigestLabel}); err != nil {
			return nil, fmt.Errorf("listing Helm releases in %s: %w", ns, err)
		}
		for _, s := range secrets.Items {
			if name := s.Labels["name"]; name != "" {
				installed[ns] = append(installed[ns], name)
			}
		}
	}
	return installed, nil
}

// uninstallRelease uninstalls one release of meshkeeper's and counts it in
// meshkeeper_helm_operations_total, with a Warning Event when it fails. A release without a record of
// meshkeeper's is not counted: there is nothing to uninstall (istio-cni of a mesh that never ran the
// agent, or a release an earlier try of a retried uninstall already removed), and the count says what
// was uninstalled. The chart manager tells which, from the records it reads anyway (and retries when
// the API server cannot answer); a failure is counted whether or not it got as far.
func (r *Reconciler) uninstallRelease(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace, release string) error {
	_, err := r.removeRelease(ctx, mesh, namespace, release)
	return err
}

// removeRelease is uninstallRelease telling also whether the release had a record of meshkeeper's to
// remove: a caller that reports the removal (the prune of a revision) reports only one that happened.
//
// A release whose objects were orphaned is not uninstalled, and its *helm.OrphanedError is no failure
// of the uninstall: it is neither counted nor reported here, but returned for the caller to say so.
func (r *Reconciler) removeRelease(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace, release string) (removed bool, err error) {
	removed, err = r.Charts.Uninstall(ctx, namespace, release, ownerOf(mesh))
	if orphans := (*helm.OrphanedError)(nil); errors.As(err, &orphans) {
		return false, err
	}
	if removed || err != nil {
		metrics.HelmOperations.WithLabelValues(release, "uninstalled", outcome(err)).Inc()
	}
	if err != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonUninstallFailed, "Uninstall/"+release,
			"Release %s/%s: %v", namespace, release, err)
	}
	return removed, err
}

// uninstallProgress is how far an uninstall got when it stopped (a step of it failed, or others' objects
// block it), which tells what of the mesh is gone, or going, by then.
type uninstallProgress int

const (
	// uninstallStarted: the webhook configurations are being deleted; every release is still installed.
	uninstallStarted uninstallProgress = iota
	// uninstallingCNI: the CNI agent's release is being uninstalled, and may be partly gone.
	uninstallingCNI
	// cniUninstalled: the CNI agent is uninstalled; the control plane is still installed.
	cniUninstalled
	// uninstallingControlPlane: the CNI agent is uninstalled, and the control plane's releases are being
	// uninstalled and may be partly gone.
	uninstallingControlPlane
	// controlPlaneUninstalled: the CNI agent and the control plane are uninstalled; the control-plane
	// namespace is being looked into or deleted.
	controlPlaneUninstalled
)

// reportUninstallFailed says, in the status of the ServiceMesh being deleted, that a step of its
// uninstall failed, and returns the failure for a retry with backoff (the Warning Event of a release's
// failure is uninstallRelease's). Nothing else updates the status of a ServiceMesh being deleted: left
// as it was, Ready would go on saying the mesh matches the spec while its CNI agent or istiod is partly
// gone, and kubectl wait and every tool that reads Ready would see a healthy mesh.
func (r *Reconciler) reportUninstallFailed(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, failure error, progress uninstallProgress) error {
	message := fmt.Sprintf("Uninstalling the mesh failed: %v. meshkeeper retries with backoff and keeps its finalizer "+
		"until the uninstall succeeds; the ServiceMesh's UninstallFailed Events and the operator's log have each attempt", failure)
	if progress != uninstallingCNI && progress != uninstallingControlPlane {
		// A release's failure has its Event already, from uninstallRelease.
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonUninstallFailed, "Uninstall", "%v", failure)
	}
	if err := r.reportUninstallHeld(ctx, mesh, meshv1alpha1.ReasonUninstallFailed, message, "what failed", progress); err != nil {
		return errors.Join(failure, err)
	}
	return failure
}

// maxRefusalsNamed is how many of the objects that refuse to give back meshkeeper's labels or
// annotations the UninstallBlocked Event names; it counts the others.
const maxRefusalsNamed = 5

// refusalsListLimit is how many bytes of the Ready condition's message list those objects, each with
// the API server's answer; it counts the others. One policy that freezes namespace labels refuses for
// every enrolled namespace, and a list of them all would outgrow what the API server takes in a
// message (meshctx.ConditionMessageLimit).
const refusalsListLimit = meshctx.ConditionMessageLimit / 2

// reportUninstallBlocked says which objects keep the uninstall from finishing, in an Event and in the
// Ready condition of the ServiceMesh being deleted, and returns the failure for a retry. The CNI agent
// and the control plane were uninstalled before those objects were found refusing.
//
// One policy that freezes namespace labels refuses for every enrolled namespace, and the events API
// takes no note over 1 KB: the Event says how many objects refuse and what to do before it names the
// first few of them (and counts the others), so that what a long note loses is names, which Ready's
// message has: it says the same first, then lists as many of the objects as refusalsListLimit holds,
// each with the API server's answer, and counts the others. Both list the objects sorted: an unchanged
// refusal gives the same note on every retry, which the events API folds into one series, and the same
// message, which costs no status write.
//
// Not every failure of that step is a refusal: a list of the objects, or a write, can fail on its way
// (the API server unavailable, a timeout, a webhook that cannot be called). Those are counted and named
// apart, after the refusals, and the advice about admission policies is given only when something
// refused.
func (r *Reconciler) reportUninstallBlocked(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, stuck error) error {
	const advice = "remove the admission webhook or policy that refuses the change, or the labels and annotations yourself"
	var refused, failed []string
	for _, err := range joinedErrors(stuck) {
		if refusedByTheServer(err) {
			refused = append(refused, err.Error())
		} else {
			failed = append(failed, err.Error())
		}
	}
	// The cache lists in no fixed order; each retry's Event and message are the same.
	slices.Sort(refused)
	slices.Sort(failed)
	var what, then, heading string
	switch {
	case len(failed) == 0:
		what, then, heading = countOf(len(refused), "object")+" refused to give back meshkeeper's labels or annotations",
			"; "+advice, "Refused"
	case len(refused) == 0:
		what, then, heading = countOf(len(failed), "attempt")+" to take back meshkeeper's labels, annotations or policies failed "+
			"without a refusal", "", "Failed"
	default:
		what, then, heading = countOf(len(refused), "object")+" refused to give back meshkeeper's labels or annotations, and "+
			countOf(len(failed), "other attempt")+" to take them back failed", "; "+advice, "Refused, then failed"
	}
	all := slices.Concat(refused, failed)
	message := fmt.Sprintf("The control plane is uninstalled, but %s, so meshkeeper keeps its finalizer and retries with backoff%s. %s:\n%s",
		what, then, heading, listWithin(all, refusalsListLimit))
	named := strings.Join(all[:min(len(all), maxRefusalsNamed)], "; ")
	if len(all) > maxRefusalsNamed {
		named += fmt.Sprintf("; and %d more", len(all)-maxRefusalsNamed)
	}
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonUninstallBlocked, "Uninstall",
		"The control plane is uninstalled, but %s, so meshkeeper keeps its finalizer and retries with backoff%s. %s: %s",
		what, then, heading, named)
	if err := r.reportUninstallHeld(ctx, mesh, meshv1alpha1.ReasonUninstallBlocked, message,
		"what keeps the deletion from finishing", controlPlaneUninstalled); err != nil {
		return errors.Join(stuck, err)
	}
	return fmt.Errorf("uninstall blocked: %w", stuck)
}

// refusedByTheServer tells whether err is the API server's refusal of a change: an admission webhook or
// policy, or the manager's RBAC, denied it. Any other failure (unavailable, a timeout, a webhook that
// could not be called) is not.
func refusedByTheServer(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsInvalid(err) || apierrors.IsBadRequest(err)
}

// countOf is n and noun, plural when n is not 1.
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// listWithin lists the first entries, one a line, that fit in limit bytes (the first one always, cut
// to limit when longer), and counts the others on a last line ("and 3 more").
func listWithin(entries []string, limit int) string {
	var b strings.Builder
	for i, entry := range entries {
		if i > 0 && b.Len()+1+len(entry) > limit {
			fmt.Fprintf(&b, "\nand %d more", len(entries)-i)
			break
		}
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(meshctx.Bound(entry, limit))
	}
	return b.String()
}

// joinedErrors lists the failures joined in err, one for each object that refused or step that failed.
func joinedErrors(err error) []error {
	if joined, ok := err.(interface{ Unwrap() []error }); ok {
		var list []error
		for _, e := range joined.Unwrap() {
			list = append(list, joinedErrors(e)...)
		}
		return list
	}
	return []error{err}
}

// reportUninstallHeld writes the status of a ServiceMesh whose uninstall stopped at progress: Ready
// False with reason and message, and what the uninstall has reached by then said to be uninstalled or
// being uninstalled (ControlPlaneReady and CNIReady with the same reason, their messages pointing at
// Ready for readyTells; status.cni naming no namespace or nodes once the agent is gone, status.revisions
// empty once the control plane is, and status.version, chartVersion and revision with it: the VERSION
// and REVISION columns of kubectl get servicemesh show no control plane; status.proxies counting no pod
// once the control plane is being uninstalled, as the metrics do, so that the OUTDATED column asks for
// no restarts onto it). What it has not reached stays as it was. The uninstall takes meshkeeper's
// injection labels back before anything else, so status.namespaces counts the namespaces that refused
// to give theirs back as enrolled, and no conflicts: a mesh being deleted enrolls none. Whether the
// mesh ran the CNI agent (status.cni.enabled and enabledBy) is a decision, not something installed, and
// stays; a mesh that ran no agent keeps CNIReady's CNIDisabled.
//
// The metrics carry that Ready, and only Ready, for the alerts (MeshkeeperMeshNotReady): the other
// conditions the status still holds are those of the mesh before its deletion (ControlPlaneReady
// Available, or a RollingOut or RestartStalled that would keep their alerts firing for as long as the
// uninstall stays held), which nothing updates any more. What the uninstall has reached is no longer
// reported running: the counts of the last pass would show an agent on its nodes that was uninstalled,
// and keep MeshkeeperProxiesOutdated asking for restarts onto a control plane that is going.
func (r *Reconciler) reportUninstallHeld(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, reason, message, readyTells string,
	progress uninstallProgress) error {
	status := mesh.Status.DeepCopy()
	ready := metav1.Condition{Type: meshv1alpha1.ConditionReady, Status: metav1.ConditionFalse,
		Reason: reason, Message: message, ObservedGeneration: mesh.Generation}
	meta.SetStatusCondition(&status.Conditions, ready)
	reached := func(conditionType, what string) {
		meta.SetStatusCondition(&status.Conditions, metav1.Condition{Type: conditionType, Status: metav1.ConditionFalse,
			Reason: reason, ObservedGeneration: mesh.Generation,
			Message: "The ServiceMesh is being deleted and its " + what + "; the Ready condition says " + readyTells})
	}
	cniEnabled := status.CNI != nil && status.CNI.Enabled
	if cniEnabled && progress == uninstallingCNI {
		reached(meshv1alpha1.ConditionCNIReady, "CNI agent is being uninstalled, and may be partly gone")
	}
	if progress >= cniUninstalled {
		if status.CNI != nil {
			status.CNI.Namespace, status.CNI.DesiredNodes, status.CNI.ReadyNodes = "", 0, 0
		}
		if cniEnabled {
			reached(meshv1alpha1.ConditionCNIReady, "CNI agent is uninstalled")
		}
	}
	switch progress {
	case uninstallingControlPlane:
		reached(meshv1alpha1.ConditionControlPlaneReady, "control plane is being uninstalled, and may be partly gone")
	case controlPlaneUninstalled:
		status.Version, status.ChartVersion, status.Revision = "", "", ""
		setRevisions(status, nil)
		reached(meshv1alpha1.ConditionControlPlaneReady, "control plane is uninstalled")
	}
	if progress >= uninstallingControlPlane {
		status.Proxies.Total, status.Proxies.Current, status.Proxies.WithoutSidecar, status.Proxies.Outdated = 0, 0, 0, 0
		status.Proxies.NotRestartable = 0
	}
	// The uninstall took meshkeeper's injection labels back before it stopped: the namespaces still
	// enrolled are those that refused, and none is one to enroll. A failed look leaves the counts as they
	// were, and the next try looks again.
	enrolled, enrolledErr := r.stillEnrolled(ctx)
	if enrolledErr == nil {
		status.Namespaces = meshv1alpha1.NamespacesStatus{Enrolled: enrolled}
	} else {
		ctrl.LoggerFrom(ctx).V(1).Info("Could not count the namespaces still enrolled", "error", enrolledErr.Error())
	}
	if err := r.writeStatus(ctx, mesh, status); client.IgnoreNotFound(err) != nil {
		return err
	}
	metrics.SetConditions([]metav1.Condition{ready})
	if enrolledErr == nil {
		metrics.EnrolledNamespaces.Set(float64(enrolled))
		metrics.NamespaceConflicts.Set(0)
	}
	if progress >= uninstallingCNI {
		metrics.SetCNINodes(false, 0, 0)
	}
	if progress >= uninstallingControlPlane {
		resetControlPlaneMetrics()
		metrics.SetProxies(0, 0, 0, nil)
	}
	return nil
}

// stillEnrolled counts the namespaces that carry an injection label of meshkeeper's, read from the API
// server: the cache may still show the labels the uninstall just took back. A namespace being deleted
// takes its label with it, and the uninstall does not wait on it.
func (r *Reconciler) stillEnrolled(ctx context.Context) (int32, error) {
	namespaces := &metav1.PartialObjectMetadataList{}
	namespaces.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
	if err := r.APIReader.List(ctx, namespaces); err != nil {
		return 0, fmt.Errorf("listing namespaces: %w", err)
	}
	var n int32
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		if ns.DeletionTimestamp.IsZero() && apply.OwnedKeys(ns, "labels").HasAny(policy.LabelIstioInjection, policy.LabelIstioRevision) {
			n++
		}
	}
	return n, nil
}

// resetMetrics empties the gauges of the mesh: nothing installed, enrolled or reported. Without it a
// ServiceMesh gone (uninstalled, or its finalizer removed by hand) would go on being reported as it was
// last, and its alerts go on firing, for as long as the manager runs.
func resetMetrics() {
	resetControlPlaneMetrics()
	metrics.EnrolledNamespaces.Set(0)
	metrics.NamespaceConflicts.Set(0)
	metrics.SetIngresses(0, nil)
	metrics.SetProxies(0, 0, 0, nil)
	metrics.SetCNINodes(false, 0, 0)
	// No conditions, and meshkeeper_servicemesh_present 0: the alerts, which carry the last conditions
	// over the minutes a replaced meshkeeper pod takes to report again, end at once.
	metrics.SetConditions(nil)
}

// resetControlPlaneMetrics empties the gauges of the control plane: none installed.
func resetControlPlaneMetrics() {
	metrics.ControlPlaneReady.Set(0)
	metrics.SetIstio("", "")
	metrics.SetRevisions(nil)
	metrics.RevisionsPruneBlocked.Set(0)
}

// deleteLeftoverWebhooks removes the webhook configurations meshkeeper wrote (labelled, and owned by this
// ServiceMesh or an earlier one), before the uninstall of the releases, which would leave those of no
// release (the default revision tag's) or of a release whose record was lost by hand: a webhook
// pointing at a deleted istiod would block the creation of pods or Istio objects cluster-wide. It
// returns those meshkeeper applied that no ServiceMesh owns any more, which it leaves (meshWebhooks).
func (r *Reconciler) deleteLeftoverWebhooks(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (orphaned []client.Object, err error) {
	owned, orphaned, err := r.meshWebhooks(ctx, mesh)
	if err != nil {
		return nil, err
	}
	for _, webhook := range owned {
		if err := r.Delete(ctx, webhook); err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("deleting webhook configuration %s: %w", webhook.GetName(), err)
		}
	}
	return orphaned, nil
}

// meshWebhooks lists the webhook configurations labelled as meshkeeper's: owned, those owned by this
// ServiceMesh (or an earlier one); and orphaned, those meshkeeper's field manager applied that no
// ServiceMesh owns any more, whose owner references the garbage collector took off for a deletion with
// orphan propagation. A labelled one that is neither is someone else's: a label anyone can set does
// not make it meshkeeper's.
func (r *Reconciler) meshWebhooks(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (owned, orphaned []client.Object, err error) {
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	var labelled []client.Object
	if err := r.List(ctx, mutating, client.MatchingLabelsSelector{Selector: meshctx.ManagedBySelector}); err != nil {
		return nil, nil, fmt.Errorf("listing webhook configurations: %w", err)
	}
	for i := range mutating.Items {
		mutating.Items[i].SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("MutatingWebhookConfiguration"))
		labelled = append(labelled, &mutating.Items[i])
	}
	if err := r.List(ctx, validating, client.MatchingLabelsSelector{Selector: meshctx.ManagedBySelector}); err != nil {
		return nil, nil, fmt.Errorf("listing webhook configurations: %w", err)
	}
	for i := range validating.Items {
		validating.Items[i].SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("ValidatingWebhookConfiguration"))
		labelled = append(labelled, &validating.Items[i])
	}
	for _, webhook := range labelled {
		switch {
		case meshctx.OwnedByServiceMesh(webhook, mesh):
			owned = append(owned, webhook)
		case meshctx.Orphaned(webhook):
			orphaned = append(orphaned, webhook)
		}
	}
	return owned, orphaned, nil
}

// outsideReleases are the webhook configurations of webhooks that no Helm release applied (the default
// revision tag's): keeping a release's records keeps the means to remove its own.
func outsideReleases(webhooks []client.Object) []client.Object {
	return slices.DeleteFunc(slices.Clone(webhooks), func(webhook client.Object) bool {
		return webhook.GetAnnotations()[helmReleaseAnnotation] != ""
	})
}

// helmReleaseAnnotation names the release that applied an object last, as Helm marks every object it
// applies.
const helmReleaseAnnotation = "meta.helm.sh/release-name"

// deleteCreatedNamespace deletes the control-plane namespace if meshkeeper created it and nothing but
// what the cluster itself keeps in every namespace is left in it. meshkeeper's creation is known from the
// namespace's managed fields (createdByMeshkeeper), not from the label, which anyone who may label
// namespaces can set; one that another field manager wrote on since is theirs too (otherWriters).
// Anything else left in it, of any kind (leftInNamespace), keeps the namespace, and so does a kind
// meshkeeper could not look for: deleting the namespace deletes everything in it. Above
// all, istiod's CA (istio-ca-secret) or a user's cacerts keeps it: deleting it would give a reinstalled
// mesh a new root of trust that running sidecars do not trust. An Event names what kept it.
func (r *Reconciler) deleteCreatedNamespace(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, name string) error {
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return nil // deleted already, by an earlier try of this uninstall or by someone else
	}
	if !createdByMeshkeeper(ns) {
		return nil
	}
	if others := otherWriters(ns); len(others) > 0 {
		r.recordKept(mesh, ns,
			"Kept namespace %s, which meshkeeper created, because %s wrote on it too (labels or annotations of theirs would go with it); delete it yourself if it is not needed",
			name, describeKept(others))
		return nil
	}
	left, err := r.leftInNamespace(ctx, mesh.UID, name)
	if err != nil {
		return err
	}
	if !left.empty() {
		r.recordKept(mesh, ns,
			"Kept namespace %s, which meshkeeper created, because %s; delete it yourself once nothing in it is needed (istio-ca-secret is the mesh's root CA: keep it to reinstall with the same identity)",
			name, left)
		return nil
	}
	// Looking into every kind took a request per kind: the deletion holds only for the namespace as it
	// was read, so one labelled meanwhile, or deleted and created again by someone else, is not deleted
	// (the conflict is retried, and looked at as it is then).
	rv := ns.ResourceVersion
	err = r.Delete(ctx, ns, client.Preconditions{UID: &ns.UID, ResourceVersion: &rv})
	switch {
	case err == nil, apierrors.IsNotFound(err):
		return nil
	case refused(err):
		// An admission policy or webhook that guards namespaces, or RBAC without delete on them: asking
		// again does not change the answer, and a namespace kept loses nothing. The uninstall finishes.
		r.recordKept(mesh, ns,
			"Kept namespace %s, which meshkeeper created and found empty, because its deletion was refused: %v; delete it yourself if it is not needed",
			name, err)
		return nil
	default:
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
}

// recordKept records the NamespaceKept Event on the ServiceMesh and on the Namespace, with the
// ServiceMesh as related: the namespace outlives the ServiceMesh, which is gone once its finalizer is
// released a moment later, and kubectl describe namespace, where whoever finds the namespace looks,
// lists only the Namespace's own Events.
func (r *Reconciler) recordKept(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, note string, args ...any) {
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, "NamespaceKept", "Uninstall", note, args...)
	r.Recorder.Eventf(ns, mesh, corev1.EventTypeNormal, "NamespaceKept", "Uninstall", note, args...)
}

// refused tells whether the API server refused a request for good: RBAC or an admission policy forbids
// it, or an admission webhook denied it (a webhook's denial is a Bad Request unless it names a code).
func refused(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsBadRequest(err) || apierrors.IsInvalid(err) || apierrors.IsMethodNotSupported(err)
}

// otherWriters names the field managers other than meshkeeper that wrote on the namespace itself (not
// its status, which the namespace controller writes): a label or annotation of a user's, or a GitOps
// tool that applies a manifest of the namespace. The namespace is then theirs too, and deleting it would
// delete what they wrote.
func otherWriters(ns *corev1.Namespace) []string {
	var others []string
	for _, entry := range ns.ManagedFields {
		if entry.Manager == meshv1alpha1.FieldManager || entry.Subresource != "" || slices.Contains(others, entry.Manager) {
			continue
		}
		others = append(others, entry.Manager)
	}
	return others
}

// createdByMeshkeeper tells whether meshkeeper created the namespace: its create wrote the created-by
// label, so the entry of meshkeeper's field manager for that create (an Update; meshkeeper writes
// namespaces otherwise only by applies) holds the label and dates from the namespace's creation. A field
// manager is named by the client, so anyone who may label the namespace can write the label under
// meshkeeper's name; that write lands in the same entry and moves its time past the creation.
func createdByMeshkeeper(ns *corev1.Namespace) bool {
	if ns.Labels[createdNamespaceLabel] != meshv1alpha1.FieldManager {
		return false
	}
	created := ns.CreationTimestamp.Time
	for _, entry := range ns.ManagedFields {
		if entry.Manager != meshv1alpha1.FieldManager || entry.Operation != metav1.ManagedFieldsOperationUpdate ||
			entry.Subresource != "" || entry.Time == nil {
			continue
		}
		// The API server stamps the entry and then the creation in the same request, each to the
		// second, so the two may be a second apart.
		if gap := entry.Time.Sub(created); gap < -time.Second || gap > time.Second {
			continue
		}
		only := &metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{entry}}
		if apply.WrittenKeys(only, "labels").Has(createdNamespaceLabel) {
			return true
		}
	}
	return false
}

// clusterKept reports whether an object is one the cluster or istiod puts in every namespace, or one on
// its way out, which does not keep a namespace: the default ServiceAccount (and its legacy token), the
// root-certificate ConfigMaps, and leader-election records.
func clusterKept(gk schema.GroupKind, obj *metav1.PartialObjectMetadata) bool {
	if !obj.DeletionTimestamp.IsZero() {
		return true
	}
	switch gk {
	case corev1.SchemeGroupVersion.WithKind("Secret").GroupKind():
		return obj.Annotations[corev1.ServiceAccountNameKey] == "default"
	case corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind():
		_, leaderElection := obj.Annotations["control-plane.alpha.kubernetes.io/leader"]
		return leaderElection || inEveryNamespace(gk, obj.Name)
	}
	return inEveryNamespace(gk, obj.Name)
}

// inEveryNamespace reports whether the cluster or istiod puts an object of this kind and name in every
// namespace: the default ServiceAccount, and the ConfigMaps of the cluster's and the mesh's root
// certificates.
func inEveryNamespace(gk schema.GroupKind, name string) bool {
	switch gk {
	case corev1.SchemeGroupVersion.WithKind("ServiceAccount").GroupKind():
		return name == "default"
	case corev1.SchemeGroupVersion.WithKind("ConfigMap").GroupKind():
		return name == "kube-root-ca.crt" || name == "istio-ca-root-cert"
	}
	return false
}

// describeKept names up to five of the objects that kept a namespace.
func describeKept(kept []string) string {
	return meshctx.Names(kept, 5)
}
