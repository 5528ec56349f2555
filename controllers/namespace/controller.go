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

// Package namespace enrolls namespaces into the mesh: the injection label on the namespaces the
// ServiceMesh selects, and only there.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// Reconciler enrolls namespaces into the mesh: it applies the injection label to the namespaces the
// ServiceMesh selects and takes its own label back from the ones it no longer selects. A label the user
// set is never changed; a conflicting one is reported.
type Reconciler struct {
	client.Client
	Recorder events.EventRecorder
	// Refusals records the namespaces whose label write the API server refuses, for the ServiceMesh's
	// status; nil records none.
	Refusals *meshctx.Refusals

	// reported holds, per namespace, the conflict last reported.
	reported meshctx.Transitions
	// refused holds, per namespace, the failures of meshkeeper's label writes and the refusal last
	// reported.
	refused meshctx.RefusedWrites
}

// Reconcile brings one namespace's injection label to what the ServiceMesh asks for.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil {
		r.reported.Forget(req.Name)
		if apierrors.IsNotFound(err) {
			r.forgetRefusal(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		// Nothing is written to a namespace being deleted, whatever the ServiceMesh: its labels go with
		// it. Without a live ServiceMesh (one deleted with the namespaces, as UnenrollAll knows) the
		// label would otherwise be taken back, and an Unenrolled Event recorded, for nothing.
		r.reported.Forget(ns.Name)
		r.forgetRefusal(ns.Name)
		return ctrl.Result{}, nil
	}
	mesh, err := meshctx.Get(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if meshctx.Kept(mesh) {
		// No ServiceMesh, or one deleted with orphan propagation: the control plane it kept running
		// keeps its namespaces, and a ServiceMesh created again takes their labels over.
		r.reported.Forget(ns.Name)
		r.forgetRefusal(ns.Name)
		return ctrl.Result{}, nil
	}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		return meshctx.Result(ctx, err)
	}
	owned := apply.OwnedKeys(ns, "labels")
	kept := keptByOthers(ns, owned)
	decision := decideOrRelease(enrollment, ns, owned, kept)
	r.reportConflict(mesh, ns, decision)

	if decision.Labels == nil {
		r.forgetRefusal(ns.Name)
		return ctrl.Result{}, nil
	}
	desired := withOtherOwnedLabels(ns, owned, decision.Labels)
	if meshctx.OwnsExactly(ns.Labels, owned, desired) {
		r.forgetRefusal(ns.Name)
		return ctrl.Result{}, nil
	}
	if err := apply.Metadata(ctx, r.Client, ns, desired, nil); err != nil {
		// Returned, so the namespace is retried with backoff; the other namespaces are reconciled on
		// their own and enrolled meanwhile. A ServiceMesh being deleted (enrollment nil) reports the
		// namespaces that refuse to give its label back itself (UninstallBlocked).
		if enrollment != nil {
			r.reportRefused(mesh, ns, decision, err)
		}
		return ctrl.Result{}, err
	}
	r.forgetRefusal(ns.Name)
	if decision.Enroll {
		r.Recorder.Eventf(ns, meshctx.Related(mesh), corev1.EventTypeNormal, "Enrolled", "Enroll", "%s", decision.Message)
	} else if removed(owned, kept, desired) {
		reason := decision.Message
		if reason == "" {
			reason = "the ServiceMesh is being deleted"
		}
		r.Recorder.Eventf(ns, meshctx.Related(mesh), corev1.EventTypeNormal, "Unenrolled", "Unenroll",
			"meshkeeper removed its injection label: %s", reason)
	}
	return ctrl.Result{}, nil
}

// decideOrRelease is decide's decision, or, for a ServiceMesh being deleted (enrollment nil), giving
// back what meshkeeper set.
func decideOrRelease(enrollment *policy.Enrollment, ns *corev1.Namespace, owned, kept sets.Set[string]) policy.Decision {
	if enrollment == nil {
		return policy.Decision{Labels: map[string]string{}}
	}
	return decide(enrollment, ns, owned, kept)
}

// reportConflict emits a Warning on the Namespace and the ServiceMesh when a namespace the ServiceMesh
// selects starts being left out: it keeps its own injection label, its Pod Security level would
// reject the injected pods, or the CNI plugin skips it.
func (r *Reconciler) reportConflict(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, d policy.Decision) {
	if d.Reason != policy.InjectionLabelConflict && d.Reason != policy.PodSecurityRejectsSidecar && d.Reason != policy.CNIExcludesNamespace {
		r.reported.Forget(ns.Name)
		return
	}
	if !r.reported.Changed(ns.Name, d.Message) {
		return
	}
	r.Recorder.Eventf(ns, meshctx.Related(mesh), corev1.EventTypeWarning, d.Reason, "Enroll", "%s", d.Message)
	if mesh != nil {
		r.Recorder.Eventf(mesh, ns, corev1.EventTypeWarning, d.Reason, "Enroll", "%s", d.Message)
	}
}

// ReasonApplyFailed is the reason of the Warning Event on a Namespace and on the ServiceMesh when the
// API server refuses meshkeeper's write of the namespace's injection label (an admission webhook or
// policy of the cluster's that forbids it on the namespace).
const ReasonApplyFailed = "NamespaceApplyFailed"

// reportRefused records, for NamespacesEnrolled, that the API server refuses meshkeeper's write of the
// injection label of ns (releasing: the write that takes it back, as d does not enroll ns), and warns
// on the Namespace and the ServiceMesh once per change of the API server's answer rather than on every
// retry. A failure only of the API server's making (meshctx.Transient: a 503, a timeout, a conflict with
// a write made since the read) is neither recorded nor warned about unless the attempt after the
// backoff fails too.
func (r *Reconciler) reportRefused(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, d policy.Decision, err error) {
	releasing := !d.Enroll
	what := fmt.Sprintf("put the injection label %s on namespace %s", injectionLabels(d.Labels), ns.Name)
	fix := "or take the namespace out of spec.injection"
	if releasing {
		what = fmt.Sprintf("take its injection label back from namespace %s, whose new pods keep getting a sidecar meanwhile", ns.Name)
		fix = "or take the label off yourself"
	}
	reported, news := r.refused.Failed(ns.Name, what+"\x00"+err.Error(), err)
	if !reported {
		return
	}
	r.Refusals.Set(ns.Name, meshctx.Refusal{Releasing: releasing, Answer: err.Error()})
	if !news {
		return
	}
	action := "Enroll"
	if releasing {
		action = "Unenroll"
	}
	note := fmt.Sprintf("meshkeeper cannot %s: %v. An admission webhook or policy of the cluster's refuses the change: "+
		"allow meshkeeper's change (field manager %s) to the namespace's labels, %s; retried with backoff",
		what, err, meshv1alpha1.FieldManager, fix)
	r.Recorder.Eventf(ns, meshctx.Related(mesh), corev1.EventTypeWarning, ReasonApplyFailed, action, "%s", note)
	if mesh != nil {
		r.Recorder.Eventf(mesh, ns, corev1.EventTypeWarning, ReasonApplyFailed, action, "%s", note)
	}
}

// forgetRefusal drops what was recorded of the refusals of the namespace name: its write went
// through, there was nothing to write, or it is gone.
func (r *Reconciler) forgetRefusal(name string) {
	r.refused.Succeeded(name)
	r.Refusals.Forget(name)
}

// injectionLabels is the injection labels of labels as key=value, sorted.
func injectionLabels(labels map[string]string) string {
	var list []string
	for _, key := range sets.List(injectionKeys) {
		if value, ok := labels[key]; ok {
			list = append(list, key+"="+value)
		}
	}
	return strings.Join(list, ", ")
}

// Workers is how many namespaces the controller reconciles at once. With one, each enrollment waited
// for the previous write's answer: 1,000 namespaces took 30 writes a second on the scale benchmark's
// API server, which answered the Ingress controller's 4 workers 130 times a second meanwhile.
const Workers = 4

// injectionKeys are the labels enrollment manages; meshkeeper owns others on some namespaces (the
// created-by label of a control-plane namespace it created), which enrollment must not give up.
var injectionKeys = sets.New(policy.LabelIstioInjection, policy.LabelIstioRevision)

// withOtherOwnedLabels returns the injection labels enrollment wants plus every other label meshkeeper
// owns on the namespace as it is, so that applying them changes only the injection labels.
func withOtherOwnedLabels(ns *corev1.Namespace, owned sets.Set[string], injection map[string]string) map[string]string {
	desired := maps.Clone(injection)
	for key := range owned {
		if !injectionKeys.Has(key) {
			desired[key] = ns.Labels[key]
		}
	}
	return desired
}

// decide is the enrollment's decision about ns, with an injection label that another field manager
// keeps counted as that manager's alone once meshkeeper would give it up. Such a label (the namespace's
// owner applied the same istio-injection=enabled server-side, from a manifest Flux or Argo CD applies)
// stays when meshkeeper gives up its share: moving the namespace to a canary would put istio.io/rev
// beside an istio-injection that Istio gives precedence, so its pods would get the active revision
// while meshkeeper reported the canary. The same holds for a label whose value meshkeeper would change
// (istio.io/rev, when meshkeeper's revision changes): the owner's value stays, and a non-forced apply of
// another one is refused. Decided as the owner's label, it is a conflict, reported as any other, and
// meshkeeper only gives up its share.
func decide(enrollment *policy.Enrollment, ns *corev1.Namespace, owned, kept sets.Set[string]) policy.Decision {
	decision := enrollment.Namespace(ns, owned)
	if decision.Labels == nil {
		return decision
	}
	stays := sets.New[string]()
	for key := range owned.Intersection(kept) {
		if value, wanted := decision.Labels[key]; !wanted || value != ns.Labels[key] {
			stays.Insert(key)
		}
	}
	if stays.Len() == 0 {
		return decision
	}
	return enrollment.Namespace(ns, owned.Difference(stays))
}

// keptByOthers returns the injection labels of ns that meshkeeper applied and some other field manager
// (or an operation of meshkeeper's other than its apply) owns as well: meshkeeper's apply without them
// gives up only its share, and they stay on the namespace.
func keptByOthers(ns *corev1.Namespace, owned sets.Set[string]) sets.Set[string] {
	if !owned.HasAny(sets.List(injectionKeys)...) {
		return sets.New[string]() // nothing of meshkeeper's to share; the common case reads no more managed fields
	}
	return apply.OthersKeys(ns, "labels").Intersection(owned).Intersection(injectionKeys)
}

// removed tells whether applying desired takes an injection label off the namespace: one meshkeeper
// owns, does not want any more, and no one else keeps. Giving up a share of a label its owner keeps
// changes no pod's injection, and is no Unenrolled.
func removed(owned, kept sets.Set[string], desired map[string]string) bool {
	for key := range owned.Intersection(injectionKeys).Difference(kept) {
		if _, wanted := desired[key]; !wanted {
			return true
		}
	}
	return false
}

// UnenrollAll takes meshkeeper's injection label back from every namespace, leaving the user's labels,
// when the ServiceMesh is deleted.
func UnenrollAll(ctx context.Context, c client.Client) error {
	namespaces := &corev1.NamespaceList{}
	if err := c.List(ctx, namespaces); err != nil {
		return fmt.Errorf("listing namespaces: %w", err)
	}
	var errs []error
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		owned := apply.OwnedKeys(ns, "labels")
		if !owned.HasAny(sets.List(injectionKeys)...) || !ns.DeletionTimestamp.IsZero() {
			continue
		}
		// One namespace that refuses the change (an admission webhook or policy) does not keep the
		// others enrolled.
		if err := apply.Metadata(ctx, c, ns, withOtherOwnedLabels(ns, owned, map[string]string{}), nil); err != nil {
			errs = append(errs, fmt.Errorf("namespace %s: %w", ns.Name, err))
		}
	}
	return errors.Join(errs...)
}

// SetupWithManager registers the reconciler: every namespace on label changes, and all of them when the
// ServiceMesh changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}, builder.WithPredicates(meshctx.LabelsOrDeletionChanged)).
		Watches(&meshv1alpha1.ServiceMesh{}, meshctx.AllNamespaces(r.Client), builder.WithPredicates(meshctx.EnrollmentChanged)).
		WithOptions(meshctx.ControllerOptions(Workers)).
		Named("namespace").
		Complete(r)
}
