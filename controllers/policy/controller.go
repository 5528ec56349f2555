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

// Package policy writes the mesh's policies into each namespace: PeerAuthentication and Sidecar objects
// named "default", and only where meshkeeper wrote them or nobody did.
package policy

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// Reconciler writes the mesh's policies into each namespace: the PeerAuthentication "default"
// (the mesh-wide one in the control-plane namespace, and one per namespace of spec.mtls.namespaces),
// and, with Sidecar scoping on, the Sidecar "default" of every enrolled namespace. It removes what it
// wrote when it is no longer wanted, and never touches a PeerAuthentication or Sidecar "default" it did
// not write: those are reported.
type Reconciler struct {
	client.Client
	// APIReader reads policy objects whole, around the cache (which holds only their metadata), when
	// their spec is not known from what the reconciler applied.
	APIReader client.Reader
	Recorder  events.EventRecorder

	// Served tells when discovery serves the policy kinds after their CRDs changed, shared with the
	// ServiceMesh reconciler; nil makes one of the reconciler's own.
	Served *meshctx.KindsServed

	// policyWatches watches the policy kinds once their CRDs are served.
	policyWatches *meshctx.KindWatches
	// Rivals finds namespace-wide policy objects of someone else's; nil makes one of the reconciler's own.
	Rivals *Rivals
	// MeshSidecars finds the mesh-wide default Sidecar, which the Sidecars of enrolled namespaces take
	// the place of; nil makes one of the reconciler's own.
	MeshSidecars *MeshSidecars
	// Applied remembers the specs the reconciler applied, shared with the ServiceMesh's status pass;
	// nil makes one of the reconciler's own.
	Applied  *AppliedSpecs
	reported meshctx.Transitions   // by "kind namespace" and "annotation namespace"
	refused  meshctx.RefusedWrites // by "apply kind namespace"
}

// The Istio policies meshkeeper generates.
// +kubebuilder:rbac:groups=security.istio.io,resources=peerauthentications,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.istio.io,resources=sidecars,verbs=get;list;watch;create;patch;delete

// Reconcile brings one namespace's PeerAuthentication and Sidecar to what the ServiceMesh asks for.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil {
		if apierrors.IsNotFound(err) {
			r.forgetNamespace(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		// The namespace's deletion takes its policy objects with it.
		r.forgetNamespace(ns.Name)
		return ctrl.Result{}, nil
	}
	mesh, err := meshctx.Get(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if meshctx.Kept(mesh) {
		// No ServiceMesh, or one deleted with orphan propagation: the control plane it kept running
		// keeps its policies (the garbage collector takes their owner references off), and a ServiceMesh
		// created again takes them over.
		return ctrl.Result{}, nil
	}
	if !r.policyWatches.WatchServed(ctx) {
		// The Istio CRDs come with the control plane. Their watch brings every namespace back when they
		// change, and Served every namespace again once discovery serves the kinds.
		r.Served.Await()
		return ctrl.Result{}, nil
	}
	kinds := render.PolicyKinds
	enrollment, enrollmentErr := meshctx.Enrollment(mesh)
	if enrollmentErr != nil {
		// spec.injection.namespaceSelector is no valid label selector (the ServiceMesh reports it as
		// InvalidSpec). Which namespaces are enrolled is unknown until it is corrected, so their
		// Sidecars, and what was reported of their egress hosts, stay as they are. The
		// PeerAuthentications do not depend on enrollment: a change of spec.mtls (STRICT back to
		// PERMISSIVE while clients are cut off) is applied all the same.
		kinds = []schema.GroupVersionKind{render.PeerAuthenticationKind}
	}
	enrolled := enrollment != nil && enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Enroll
	root, err := r.MeshSidecars.Find(ctx, r.Client, mesh)
	if err != nil {
		return ctrl.Result{}, err
	}
	desired, malformed := render.Policies(mesh, ns, enrolled, root)
	if enrollmentErr == nil {
		r.reportMalformed(mesh, ns, malformed)
	}
	var errs []error
	for _, gvk := range kinds {
		errs = append(errs, r.reconcileKind(ctx, mesh, ns.Name, gvk, desired[gvk]))
	}
	if err := errors.Join(errs...); err != nil {
		return ctrl.Result{}, err
	}
	return meshctx.Result(ctx, enrollmentErr)
}

// forgetNamespace drops what the reconciler remembers of a namespace that is gone or going: the specs
// it applied there and the conflicts and malformed annotation it reported.
func (r *Reconciler) forgetNamespace(namespace string) {
	key := client.ObjectKey{Namespace: namespace, Name: render.PolicyName}
	for _, gvk := range render.PolicyKinds {
		r.Applied.forget(gvk, key)
		r.reported.Forget(conflictReportKey(gvk, namespace))
		r.refused.Succeeded(applyReportKey(gvk, namespace))
		r.reported.Forget(besideReportKey(gvk, namespace))
	}
	r.reported.Forget(annotationReportKey(namespace))
}

// reconcileKind creates, updates or deletes meshkeeper's object of one kind in a namespace. It reads the
// object's metadata from the cache; its spec it knows from what it last applied (see AppliedSpecs), and
// reads it from the API server only for an object it has not applied since it started or that someone
// else changed since.
func (r *Reconciler) reconcileKind(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace string,
	gvk schema.GroupVersionKind, desired *unstructured.Unstructured) error {
	key := client.ObjectKey{Namespace: namespace, Name: render.PolicyName}
	current := &metav1.PartialObjectMetadata{}
	current.SetGroupVersionKind(gvk)
	err := r.Get(ctx, key, current)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	default:
		current.SetGroupVersionKind(gvk)
	}
	if current == nil && desired != nil {
		// The cache may not have seen an object someone created a moment ago (a GitOps tool creating a
		// namespace with its own policies). An apply would take such an object over without a conflict
		// wherever its fields hold the values meshkeeper's would: read it from the API server first.
		if current, err = r.live(ctx, gvk, key); err != nil {
			return err
		}
	}
	reportKey := conflictReportKey(gvk, namespace)
	if desired == nil {
		// Nothing of this kind is wanted here (the namespace left the mesh, say): what was reported of
		// it is over, and is reported anew, with its Warnings, once meshkeeper wants an object here again.
		r.reported.Forget(reportKey)
		r.refused.Succeeded(applyReportKey(gvk, namespace))
		r.reported.Forget(besideReportKey(gvk, namespace))
	}
	// An object meshkeeper generated for a ServiceMesh deleted with orphan propagation, which the garbage
	// collector took the owner reference off, is kept for the ServiceMesh created again to take over.
	if current != nil && !meshctx.Generated(current, mesh) && (!meshctx.Live(mesh) || !meshctx.Orphaned(current)) {
		if desired != nil {
			r.reportConflict(mesh, current, reportKey, fmt.Sprintf("%s %s/%s was not written by meshkeeper; meshkeeper leaves it as it is and "+
				"writes none of its own there. Delete it (or give it another name) to let meshkeeper manage the namespace's %s",
				current.Kind, current.Namespace, current.Name, current.Kind))
		}
		return nil
	}
	if desired != nil {
		rivals, err := r.rivals(ctx, mesh, gvk, namespace)
		if err != nil {
			return err
		}
		if len(rivals) > 0 {
			r.reportConflict(mesh, rivals[0], reportKey, RivalsMessage(rivals))
			return nil
		}
	}
	r.reported.Forget(reportKey)
	switch {
	case desired == nil && current == nil:
		r.Applied.forget(gvk, key)
		return nil
	case desired == nil:
		r.Applied.forget(gvk, key)
		err := r.Delete(ctx, current, client.Preconditions{UID: ptr.To(current.GetUID())})
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s %s: %w", gvk.Kind, key, err)
		}
		return nil
	}
	digest, err := specDigest(desired)
	if err != nil {
		return err
	}
	// beside are the spec fields the object was last seen to hold beyond meshkeeper's spec.
	var beside []string
	if current != nil && meshctx.OwnedBy(current, mesh) {
		held, known := r.Applied.holding(gvk, key, current)
		switch {
		case known && held.digest == digest:
			// Steady state: nothing to write. Fields someone else set beside meshkeeper's spec are
			// reported: no apply of meshkeeper's would remove them.
			r.reportBeside(mesh, current, gvk, held.beside)
			return nil
		case known:
			beside = held.beside
		default:
			// Not applied by this process, or changed since: compare the object's spec once.
			covered, found, err := r.compareSpec(ctx, gvk, key, desired, digest)
			if err != nil {
				return err
			}
			if covered && len(found) == 0 {
				r.reportBeside(mesh, current, gvk, nil)
				return nil // steady state: nothing to write
			}
			beside = found
		}
	}
	// meshkeeper's own object is applied by force, under its UID, so the apply cannot land on another
	// object of the name. An object the API server did not hold a moment ago is created by an apply
	// without force: if someone created one of the name since, its fields that differ from meshkeeper's
	// conflict and the apply is refused instead of taking the object over.
	var opts []client.PatchOption
	if current != nil {
		desired.SetUID(current.GetUID())
		opts = append(opts, client.ForceOwnership)
	}
	answer, err := apply.Object(ctx, r.Client, desired, opts...)
	if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
		// The namespace is being deleted since it was read, and its deletion takes meshkeeper's objects
		// with it: nothing to write, report or retry. Its watch event brings it back (forgetNamespace).
		return nil
	}
	if err != nil {
		// What is remembered stays: an apply the API server refused changed nothing, so the object
		// is still known to hold the spec remembered, which the status reports as not yet written. An
		// apply that did land, its answer lost, raised the object's generation past it. A write the API
		// server could not answer for a moment (throttled, unavailable, timed out, or a conflict with a
		// write made since the read) is retried without a Warning the first time: the retry a moment
		// later usually writes it. One that fails again (an admission webhook that cannot be reached
		// answers 500 for as long as it is down) is reported, as a refusal is at once: once for as long
		// as the answer stays the same.
		err = fmt.Errorf("applying %s %s: %w", gvk.Kind, key, err)
		if reported, news := r.refused.Failed(applyReportKey(gvk, namespace), err.Error(), err); reported && news {
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, ReasonApplyFailed, "ApplyPolicy", "%s; retried", err.Error())
		}
		return err
	}
	r.refused.Succeeded(applyReportKey(gvk, namespace))
	if len(beside) > 0 {
		// A server-side apply removes only fields of meshkeeper's own: what the object held beyond
		// meshkeeper's spec and still holds after the apply is someone else's. Read what it left.
		covered, left, err := r.compareSpec(ctx, gvk, key, desired, digest)
		if err != nil {
			return err
		}
		if !covered {
			// Changed again since the apply; its event brings the object back here.
			r.Applied.forget(gvk, key)
			return nil
		}
		r.reportBeside(mesh, current, gvk, left)
		return nil
	}
	// The API server's answer: the object's UID and the generation that holds the spec applied.
	r.Applied.remember(gvk, key, answer, digest)
	if current != nil {
		r.reportBeside(mesh, current, gvk, nil)
	}
	return nil
}

// live reads an object's metadata from the API server, around the cache; nil when there is none.
func (r *Reconciler) live(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey) (*metav1.PartialObjectMetadata, error) {
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := r.APIReader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	obj.SetGroupVersionKind(gvk)
	return obj, nil
}

// compareSpec reads the whole object around the cache (which holds only its metadata) and compares its
// spec with desired's: covered when every field desired's sets holds desired's value, and beside, the
// fields the object holds that desired's does not set. When covered, it remembers the object's
// generation as holding that spec, with those fields beside it.
func (r *Reconciler) compareSpec(ctx context.Context, gvk schema.GroupVersionKind, key client.ObjectKey,
	desired *unstructured.Unstructured, digest string) (covered bool, beside []string, err error) {
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(gvk)
	if err := r.APIReader.Get(ctx, key, current); err != nil {
		if apierrors.IsNotFound(err) {
			return false, nil, nil
		}
		return false, nil, fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	have, _ := current.Object["spec"].(map[string]any)
	want, _ := desired.Object["spec"].(map[string]any)
	covered, beside = compareFields(have, want, "spec")
	if covered {
		r.Applied.rememberBeside(gvk, key, current, digest, beside)
	}
	return covered, beside, nil
}

// compareFields tells whether have holds every field of want with want's value (lists are compared
// whole: the Istio CRDs make every list atomic), and returns the paths, under prefix, of the fields
// have holds that want does not set, sorted.
func compareFields(have, want map[string]any, prefix string) (covered bool, beside []string) {
	covered = true
	for k, w := range want {
		h, ok := have[k]
		hm, hIsMap := h.(map[string]any)
		wm, wIsMap := w.(map[string]any)
		switch {
		case !ok:
			covered = false
		case hIsMap && wIsMap:
			sub, more := compareFields(hm, wm, prefix+"."+k)
			covered = covered && sub
			beside = append(beside, more...)
		case !equality.Semantic.DeepEqual(h, w):
			covered = false
		}
	}
	for k := range have {
		if _, ok := want[k]; !ok {
			beside = append(beside, prefix+"."+k)
		}
	}
	sort.Strings(beside)
	return covered, beside
}

// maxBesideNamed is how many of the fields beside meshkeeper's spec a Warning names.
const maxBesideNamed = 10

// reportBeside emits a Warning once when meshkeeper's policy object holds fields someone else set
// beside meshkeeper's spec, which no server-side apply of meshkeeper's removes: the object then does
// not do what the ServiceMesh asks (a workloadSelector, say, narrows a Sidecar to the pods it selects).
// Without such fields it forgets what it reported.
func (r *Reconciler) reportBeside(mesh *meshv1alpha1.ServiceMesh, current *metav1.PartialObjectMetadata, gvk schema.GroupVersionKind, beside []string) {
	key := besideReportKey(gvk, current.GetNamespace())
	if len(beside) == 0 {
		r.reported.Forget(key)
		return
	}
	named := meshctx.Names(beside, maxBesideNamed)
	r.reportConflict(mesh, current, key, fmt.Sprintf("%s %s/%s, meshkeeper's, holds fields meshkeeper does not write: %s. Someone else "+
		"set them, and a server-side apply leaves a field to the manager that set it, so meshkeeper cannot remove them; with them the "+
		"%s is not the one the ServiceMesh asks for. Remove them, or delete the %s to have meshkeeper write it anew",
		gvk.Kind, current.GetNamespace(), current.GetName(), named, gvk.Kind, gvk.Kind))
}

// rivals are the objects of gvk in namespace, not meshkeeper's, that apply to the whole namespace as
// meshkeeper's would (Rivals); listed from the cache, read whole only when some other object is there.
func (r *Reconciler) rivals(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, gvk schema.GroupVersionKind, namespace string) ([]*metav1.PartialObjectMetadata, error) {
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing %ss in %s: %w", gvk.Kind, namespace, err)
	}
	for i := range list.Items {
		list.Items[i].SetGroupVersionKind(gvk)
	}
	return r.Rivals.Find(ctx, mesh, gvk, list.Items)
}

// reportConflict emits a Warning once when a namespace has a policy object of someone else's where
// meshkeeper would write its own: of the name meshkeeper would write, or applying to the whole namespace.
func (r *Reconciler) reportConflict(mesh *meshv1alpha1.ServiceMesh, current *metav1.PartialObjectMetadata, key, message string) {
	if !r.reported.Changed(key, message) {
		return
	}
	r.Recorder.Eventf(current, meshctx.Related(mesh), corev1.EventTypeWarning, meshv1alpha1.ReasonPolicyConflict, "ApplyPolicy", "%s", message)
	if mesh != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonPolicyConflict, "ApplyPolicy", "%s", message)
	}
}

// reportMalformed emits a Warning on the Namespace when its egress-hosts annotation has entries
// meshkeeper leaves out, saying of each why.
func (r *Reconciler) reportMalformed(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, malformed []string) {
	key := annotationReportKey(ns.Name)
	if len(malformed) == 0 {
		r.reported.Forget(key)
		return
	}
	message := malformedNote(ns.Name, malformed, mesh != nil && render.IngressNginxNamespace(&mesh.Spec, ns.Name))
	if !r.reported.Changed(key, message) {
		return
	}
	r.Recorder.Eventf(ns, meshctx.Related(mesh), corev1.EventTypeWarning, meshv1alpha1.ReasonMalformedEgressHosts, "ApplyPolicy", "%s", message)
}

// maxQuotedEntry is how much of one malformed entry a note quotes: a single entry may be as long as
// the annotation.
const maxQuotedEntry = 80

// malformedNote is the Warning about the malformed entries (quoted) of a namespace's egress-hosts
// annotation, each followed by why it is left out (render.EgressHostProblem): an entry such as
// "payments/payments-api" has the form "namespace/dnsName", and only the reason tells its owner that
// istiod refuses its short name. It names as many of them as fit in an Event's note (meshctx.NoteLimit,
// past which the recorder would cut the list short mid-entry), each cut to maxQuotedEntry, and counts
// the others: the annotation is its owner's to fill, with as many entries as they like. In the
// ingress-nginx controller's namespace (ingressNginx), whose Sidecar reaches every namespace, the
// annotation adds nothing, and the note says so rather than that the other entries are taken.
func malformedNote(namespace string, malformed []string, ingressNginx bool) string {
	outcome := "the Sidecar leaves them out and takes the others"
	if ingressNginx {
		outcome = "the Sidecar leaves them out. The annotation adds nothing in this namespace anyway: it runs the ingress-nginx " +
			"controller, whose Sidecar reaches every namespace (*/*)"
	}
	note := func(named []string, more int) string {
		list := strings.Join(named, ", ")
		if more > 0 {
			list += fmt.Sprintf(" and %d more", more)
		}
		return fmt.Sprintf("annotation %s of namespace %s has entries istiod would refuse in a Sidecar, or meshkeeper does not take "+
			"(each is \"namespace/dnsName\", such as payments/* or monitoring/prometheus.monitoring.svc.cluster.local): %s; %s",
			render.EgressHostsAnnotation, namespace, list, outcome)
	}
	named := make([]string, 0, len(malformed))
	for i, quoted := range malformed {
		entry := quoted
		if runes := []rune(entry); len(runes) > maxQuotedEntry {
			entry = string(runes[:maxQuotedEntry]) + `…"`
		}
		if host, err := strconv.Unquote(quoted); err == nil {
			if problem := render.EgressHostProblem(host); problem != "" {
				entry += " (" + problem + ")"
			}
		}
		// The first entry always fits: the rest of the note is far shorter than the limit.
		if i > 0 && len(note(append(named, entry), len(malformed)-i-1)) > meshctx.NoteLimit {
			return note(named, len(malformed)-i)
		}
		named = append(named, entry)
	}
	return note(named, 0)
}

// egressHostsOrLabelsChanged passes namespace updates that change what its policies depend on: its
// labels (enrollment), its egress-hosts annotation, and meshkeeper's ownership of its labels.
var egressHostsOrLabelsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return meshctx.LabelsOrDeletionChanged.Update(e) ||
			e.ObjectOld.GetAnnotations()[render.EgressHostsAnnotation] != e.ObjectNew.GetAnnotations()[render.EgressHostsAnnotation]
	},
}

// revisionsChanged passes the ServiceMesh updates that change the revision whose mesh-wide default
// Sidecar the namespaces' Sidecars carry (SidecarRevision: the default tag moving to another revision),
// or the revisions whose istiods read the policy objects of someone else's (ConfigRevisions: a revision
// installed or removed), which decide which of them keep meshkeeper from writing its own.
var revisionsChanged = predicate.Funcs{
	CreateFunc:  func(event.CreateEvent) bool { return false },
	DeleteFunc:  func(event.DeleteEvent) bool { return false },
	GenericFunc: func(event.GenericEvent) bool { return false },
	UpdateFunc: func(e event.UpdateEvent) bool {
		old, oldOK := e.ObjectOld.(*meshv1alpha1.ServiceMesh)
		updated, newOK := e.ObjectNew.(*meshv1alpha1.ServiceMesh)
		return oldOK && newOK && (SidecarRevision(old) != SidecarRevision(updated) || !ConfigRevisions(old).Equal(ConfigRevisions(updated)))
	},
}

// SetupWithManager registers the reconciler: a namespace on its own changes, every namespace on
// ServiceMesh changes, every namespace when the policy kinds' CRDs change and again when discovery
// serves those kinds, and, once they are served, a namespace when its policy objects change, and every
// namespace when a Sidecar of the root namespace changes (the mesh-wide default Sidecar, which every
// enrolled namespace's Sidecar takes the place of).
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	allNamespaces := meshctx.AllNamespaces(r.Client)
	toNamespace := handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
		mesh, err := meshctx.Get(ctx, r.Client)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Reading the ServiceMesh")
		}
		if meshSidecarEvent(obj, mesh) {
			return meshctx.NamespaceRequests(ctx, r.Client)
		}
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: obj.Namespace}}}
	})
	if r.Rivals == nil {
		r.Rivals = NewRivals(r.APIReader)
	}
	if r.MeshSidecars == nil {
		r.MeshSidecars = NewMeshSidecars(r.APIReader)
	}
	if r.Applied == nil {
		r.Applied = &AppliedSpecs{}
	}
	if r.Served == nil {
		served, err := meshctx.NewKindsServedFor(mgr, render.PolicyKinds)
		if err != nil {
			return err
		}
		r.Served = served
		if err := mgr.Add(r.Served); err != nil {
			return err
		}
	}
	// The CRDs of the policy kinds, by metadata: istio-base installs them, the API server then accepts
	// their names and marks them Established, and each of these changes is an event here.
	crd := meshctx.CRDMetadata()
	policyCRD := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return policyCRDNames.Has(obj.GetName())
	})
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}, builder.WithPredicates(egressHostsOrLabelsChanged)).
		Watches(&meshv1alpha1.ServiceMesh{}, allNamespaces, builder.WithPredicates(predicate.Or(meshctx.EnrollmentChanged, revisionsChanged))).
		Watches(crd, crdChanged{EventHandler: allNamespaces, served: r.Served}, builder.WithPredicates(policyCRD)).
		WatchesRawSource(r.Served.Source(allNamespaces)).
		WithOptions(meshctx.ControllerOptions(4)).
		Named("policy").
		Build(r)
	r.policyWatches = meshctx.NewKindWatches(mgr, c, render.PolicyKinds, toNamespace, r.Served)
	return err
}

// DeleteAll deletes every policy object meshkeeper generated for mesh (or an earlier ServiceMesh), before
// mesh goes; a user's object of the same name is left, whatever its labels. reader lists around the cache,
// which holds only the policies' metadata.
func DeleteAll(ctx context.Context, c client.Client, reader client.Reader, mesh *meshv1alpha1.ServiceMesh) error {
	for _, gvk := range render.PolicyKinds {
		if _, err := c.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err) {
			continue
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		err := reader.List(ctx, list, client.MatchingLabelsSelector{Selector: meshctx.ManagedBySelector})
		if apierrors.IsNotFound(err) {
			// The kind's CRD was deleted after the REST mapper mapped it (the mapper never forgets a
			// kind): the API server no longer serves the collection, and its deletion took every
			// object of the kind with it.
			continue
		}
		if err != nil {
			return fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			if item.Name != render.PolicyName || !meshctx.Generated(item, mesh) {
				continue
			}
			if err := c.Delete(ctx, item, client.Preconditions{UID: ptr.To(item.UID)}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting %s %s/%s: %w", gvk.Kind, item.Namespace, item.Name, err)
			}
		}
	}
	return nil
}

// conflictReportKey is the key under which a conflict with someone else's policy object of a kind in a
// namespace is reported.
func conflictReportKey(gvk schema.GroupVersionKind, namespace string) string {
	return gvk.Kind + " " + namespace
}

// besideReportKey is the key under which fields someone else set in meshkeeper's policy object of a
// kind in a namespace are reported.
func besideReportKey(gvk schema.GroupVersionKind, namespace string) string {
	return "beside " + gvk.Kind + " " + namespace
}

// annotationReportKey is the key under which a namespace's malformed egress-hosts annotation is reported.
func annotationReportKey(namespace string) string { return "annotation " + namespace }

// ReasonApplyFailed is the reason of the Warning Event on the ServiceMesh when the API server refuses
// meshkeeper's write of a policy object (an admission policy, say).
const ReasonApplyFailed = "PolicyApplyFailed"

// applyReportKey is the key under which a failed write of a namespace's policy object is reported.
func applyReportKey(gvk schema.GroupVersionKind, namespace string) string {
	return "apply " + gvk.Kind + " " + namespace
}
