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

package ingress

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync/atomic"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// WorkloadReconciler gives the ingress-nginx controller workload its sidecar: the pod-template
// label and annotations of policy.IngressNginxPodTemplate, and nothing else of the workload. It takes
// them back from a workload that is no longer the one named, or when the integration is disabled.
type WorkloadReconciler struct {
	client.Client
	// APIReader reads workloads whole: meshkeeper caches only their metadata.
	APIReader client.Reader
	// Workloads caches the metadata of every Deployment and DaemonSet (NewWorkloadCache).
	Workloads cache.Cache
	Recorder  events.EventRecorder
	// Report receives what each reconcile found of the named workload, for the status pass; nil
	// reports nothing.
	Report *WorkloadReport

	// reported holds the reason last reported.
	reported meshctx.Transitions
	// refused holds, per workload, the failures of meshkeeper's writes of its pod template and the
	// refusal last reported.
	refused meshctx.RefusedWrites
	// following is the workload whose status changes wake the reconciler, nil for none: the named
	// workload while it rolls out a pod template with meshkeeper's settings. Otherwise only changes of
	// its spec and of meshkeeper's fields do, so a workload at rest costs no read.
	following atomic.Pointer[workloadKey]
}

// followRollout follows the status of w's workload while it rolls out meshkeeper's settings, and
// stops following otherwise (w nil: there is no named workload).
func (r *WorkloadReconciler) followRollout(w *Workload) {
	if w == nil || w.object == nil || !w.Decision.Configured || !w.Applied() || w.rollout.Done {
		r.following.Store(nil)
		return
	}
	r.following.Store(&workloadKey{kind: w.kind, key: client.ObjectKeyFromObject(w.object)})
}

// The ingress-nginx controller's Deployment or DaemonSet gets its pod template's sidecar settings.
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;patch

// ingressNginxRequest is the one request of the reconciler: there is one ingress-nginx integration.
var ingressNginxRequest = reconcile.Request{NamespacedName: client.ObjectKey{Name: "ingress-nginx"}}

// workloadKinds are the kinds spec.ingressNginx.controller can name.
var workloadKinds = map[string]schema.GroupVersionKind{
	"Deployment": appsv1.SchemeGroupVersion.WithKind("Deployment"),
	"DaemonSet":  appsv1.SchemeGroupVersion.WithKind("DaemonSet"),
}

// sidecarKeys are the pod-template keys the integration sets.
var sidecarKeys = policy.PodTemplateKeys()

// Reconcile brings the named workload's pod template to what the ServiceMesh asks for, and releases
// every other workload meshkeeper configured. Another workload that refuses to be released (a change
// freeze on the old controller) does not keep the named one from being configured: its refusal is
// reported (Warnings WorkloadApplyFailed) and retried, and the named one is configured meanwhile.
func (r *WorkloadReconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	mesh, err := meshctx.Get(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if meshctx.Kept(mesh) {
		// No ServiceMesh, or one deleted with orphan propagation: the controller keeps its sidecar to
		// the control plane kept running, and a ServiceMesh created again takes its settings over.
		return ctrl.Result{}, nil
	}
	var spec meshv1alpha1.IngressNginxSpec // zero: disabled
	if meshctx.Live(mesh) {
		spec = mesh.Spec.IngressNginx
	}
	target := spec.Controller
	if !policy.IngressNginxEnabled(spec) {
		target = meshv1alpha1.WorkloadReference{}
	}
	others, releaseErr := r.releaseOthers(ctx, mesh, target)
	result, err := r.configure(ctx, mesh, spec, target, others)
	if releaseErr != nil {
		return ctrl.Result{}, errors.Join(releaseErr, err)
	}
	return result, err
}

// configure brings the named workload, target, to what spec asks for; others are the other workloads
// that hold meshkeeper's settings.
func (r *WorkloadReconciler) configure(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, spec meshv1alpha1.IngressNginxSpec,
	target meshv1alpha1.WorkloadReference, others []string) (ctrl.Result, error) {
	var err error
	if target.Name == "" {
		r.reported.Forget(ingressNginxRequest.Name)
		r.followRollout(nil)
		// The status pass reads the workloads itself; the report's change wakes it once they are released.
		r.Report.Set(Observed{Held: others})
		return ctrl.Result{}, nil
	}
	// Without the Service ranges the sidecar would capture nothing or everything: leave the workload as it is.
	if spec, err = WithServiceCIDRs(ctx, r.Client, spec); err != nil {
		if e := meshctx.Classify(err); e != nil {
			unknown := &Workload{Decision: policy.PodTemplateDecision{Reason: e.Reason, Message: e.Error()}}
			// The Warning goes to the workload too, as for every other reason: its metadata is enough.
			if obj, err := CachedWorkload(ctx, r.Workloads, target); err == nil && obj != nil {
				unknown.object = obj
			}
			r.report(mesh, unknown)
		}
		return meshctx.Result(ctx, err)
	}
	in := ControllerInput{Spec: spec, Privilege: meshctx.Privilege(mesh), CNIExcluded: meshctx.CNIExcludes(mesh, spec.Controller.Namespace)}
	w, err := ReadWorkload(ctx, r.APIReader, r.Client, r.Client, in)
	if err != nil {
		return ctrl.Result{}, err
	}
	r.report(mesh, w)
	w.rollout = w.judgeRollout(r.Report.Get())
	observed := w.observed(in)
	observed.Held = others
	r.Report.Set(observed)
	r.followRollout(w)
	if w.object == nil || w.Applied() {
		if w.object != nil {
			r.forgetRefusal(w.kind, w.object)
		}
		return ctrl.Result{}, nil
	}
	if err := apply.PodTemplateMetadata(ctx, r.Client, w.object, w.Decision.Labels, w.Decision.Annotations); err != nil {
		// A decision that does not configure the controller (host network, a conflict) takes back what
		// meshkeeper set: the Warning says which way the write went.
		r.reportRefused(mesh, w.kind, w.object, !w.Decision.Configured, err)
		return ctrl.Result{}, err
	}
	r.forgetRefusal(w.kind, w.object)
	if w.Decision.Configured {
		r.Recorder.Eventf(w.object, mesh, corev1.EventTypeNormal, "SidecarConfigured", "ConfigureIngressNginx", "%s", w.Decision.Message)
	}
	return ctrl.Result{}, nil
}

// report emits a Warning on the ServiceMesh (and the workload, when there is one) when the controller
// becomes impossible to configure, or what keeps it from being configured changes: the reason, or the
// message under the same reason, which names the workload and what to change (another workload the
// spec points at that does not exist either, another key in conflict). The message depends on nothing
// else, so an unchanged refusal is not recorded again.
func (r *WorkloadReconciler) report(mesh *meshv1alpha1.ServiceMesh, w *Workload) {
	reason := w.Decision.Reason
	if w.Decision.Configured {
		r.reported.Forget(ingressNginxRequest.Name)
		return
	}
	if !r.reported.Changed(ingressNginxRequest.Name, reason+"\x00"+w.Decision.Message) {
		return
	}
	// A workload of the other kind under the name is where its owner looks: the Warning says which kind to name.
	if regarding := cmp.Or[client.Object](w.object, w.other); regarding != nil {
		r.Recorder.Eventf(regarding, meshctx.Related(mesh), corev1.EventTypeWarning, reason, "ConfigureIngressNginx", "%s", w.Decision.Message)
	}
	if mesh != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, reason, "ConfigureIngressNginx", "%s", w.Decision.Message)
	}
}

// ReasonWorkloadApplyFailed is the reason of the Warning Event on the ingress-nginx controller's
// workload, and on the ServiceMesh, when the API server refuses meshkeeper's write of its pod template
// (an admission webhook or policy of the cluster's, a quota).
const ReasonWorkloadApplyFailed = "IngressNginxApplyFailed"

// reportRefused emits a Warning on the workload and on the ServiceMesh when the API server refuses
// meshkeeper's write of the workload's pod template (releasing: the write that takes meshkeeper's
// sidecar settings back), once per change of the API server's answer rather than on every retry. A
// failure only of the API server's making (meshctx.Transient) is warned about only when the attempt
// after it fails too, as for an Ingress (Reconciler.reportRefused).
func (r *WorkloadReconciler) reportRefused(mesh *meshv1alpha1.ServiceMesh, kind string, obj client.Object, releasing bool, err error) {
	key := kind + " " + client.ObjectKeyFromObject(obj).String()
	what := "put its sidecar settings on the pod template of " + key
	if releasing {
		what = "take its sidecar settings back from the pod template of " + key
	}
	if _, news := r.refused.Failed(key, what+"\x00"+err.Error(), err); !news {
		return
	}
	note := fmt.Sprintf("meshkeeper cannot %s: %v. An admission webhook or policy of the cluster's refuses the change, or the "+
		"API server cannot answer: allow meshkeeper's change to the pod template; retried with backoff", what, err)
	r.Recorder.Eventf(obj, meshctx.Related(mesh), corev1.EventTypeWarning, ReasonWorkloadApplyFailed, "ConfigureIngressNginx", "%s", note)
	if mesh != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, ReasonWorkloadApplyFailed, "ConfigureIngressNginx", "%s", note)
	}
}

// forgetRefusal drops what was recorded of the refusals of the workload: its write went through, or
// there was nothing to write.
func (r *WorkloadReconciler) forgetRefusal(kind string, obj client.Object) {
	r.refused.Succeeded(kind + " " + client.ObjectKeyFromObject(obj).String())
}

// releaseOthers gives up meshkeeper's sidecar settings on every workload but target. It returns the
// workloads it found holding them ("<Kind> <namespace>/<name>"), before it released them.
func (r *WorkloadReconciler) releaseOthers(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, target meshv1alpha1.WorkloadReference) ([]string, error) {
	holders, err := configuredWorkloads(ctx, r.Workloads)
	if err != nil {
		return nil, err
	}
	var errs []error
	var others []string
	for _, holder := range holders {
		if holder.kind == target.Kind && holder.meta.Namespace == target.Namespace && holder.meta.Name == target.Name {
			continue
		}
		others = append(others, holder.name())
		obj, err := getWorkload(ctx, r.APIReader, holder.kind, client.ObjectKeyFromObject(&holder.meta))
		if err != nil || obj == nil {
			errs = append(errs, err)
			continue
		}
		if err := apply.PodTemplateMetadata(ctx, r.Client, obj, map[string]string{}, map[string]string{}); err != nil {
			r.reportRefused(mesh, holder.kind, obj, true, err)
			errs = append(errs, err)
			continue
		}
		r.forgetRefusal(holder.kind, obj)
		r.Recorder.Eventf(obj, meshctx.Related(mesh), corev1.EventTypeNormal, "SidecarRemoved", "ReleaseIngressNginx",
			"meshkeeper removed its sidecar settings from the pod template of %s %s: it is no longer the mesh's ingress-nginx controller",
			holder.kind, client.ObjectKeyFromObject(obj))
	}
	slices.Sort(others)
	return others, errors.Join(errs...)
}

// Workload is the ingress-nginx controller workload as read, and meshkeeper's decision about it.
type Workload struct {
	object client.Object // nil when it does not exist
	// other is, when object is nil, the workload of the other kind with its namespace and name (the
	// chart's controller.kind changed), nil when there is none.
	other client.Object
	// kind is the object's kind, Deployment or DaemonSet.
	kind     string
	template *corev1.PodTemplateSpec
	// rollout is how far the pod template with meshkeeper's settings is rolled out (judgeRollout).
	rollout Rollout
	// namespace is what the decision read of the workload's namespace's labels, and namespaceTerminating
	// whether it is being deleted (controllerNamespace).
	namespace            map[string]string
	namespaceTerminating bool
	Decision             policy.PodTemplateDecision
}

// Applied tells whether the pod template already carries exactly what meshkeeper decided to own.
func (w *Workload) Applied() bool {
	return meshctx.OwnsExactly(w.template.Labels, apply.OwnedPodTemplateKeys(w.object, "labels"), w.Decision.Labels) &&
		meshctx.OwnsExactly(w.template.Annotations, apply.OwnedPodTemplateKeys(w.object, "annotations"), w.Decision.Annotations)
}

// Observed is what the workload reconciler last read of the named workload and decided about it, and
// what that read depended on: the resolved spec, and the workload's generation and meshkeeper's managed
// fields, which the workload cache also holds. The status pass uses it instead of reading the workload
// again while the cache shows the same workload.
type Observed struct {
	Input ControllerInput
	// Namespace is what the decision read of the workload's namespace's labels, and NamespaceTerminating
	// whether it was being deleted (controllerNamespace).
	Namespace            map[string]string
	NamespaceTerminating bool
	Exists               bool
	UID                  types.UID
	Generation           int64
	Mine                 []metav1.ManagedFieldsEntry
	Decision             policy.PodTemplateDecision
	Applied              bool
	// Held names the other workloads that carried meshkeeper's sidecar settings when the reconciler
	// last looked ("<Kind> <namespace>/<name>"): it was taking them back.
	Held []string
	// Rollout is how far the workload had rolled out the settings. It follows the workload's status,
	// which the workload cache does not hold: the reconciler reads the workload again on each change of
	// its status while it rolls out, and the report changes with what it finds.
	Rollout Rollout
}

// WorkloadReport carries the last Observed from the workload reconciler to the status pass.
type WorkloadReport = meshctx.Report[Observed]

// NewWorkloadReport returns an empty WorkloadReport.
func NewWorkloadReport() *WorkloadReport { return meshctx.NewReport[Observed]() }

func (w *Workload) observed(in ControllerInput) Observed {
	o := Observed{Input: in, Namespace: w.namespace, NamespaceTerminating: w.namespaceTerminating, Decision: w.Decision}
	if w.object != nil {
		o.Exists, o.UID, o.Generation, o.Mine = true, w.object.GetUID(), w.object.GetGeneration(), meshkeepersFields(w.object.GetManagedFields())
		o.Applied, o.Rollout = w.Applied(), w.rollout
	}
	return o
}

// Describes tells whether o still describes the workload in names, as the workload cache shows it now
// (nil: it does not exist), in a namespace whose labels the decision reads are namespace.
func (o Observed) Describes(in ControllerInput, namespace map[string]string, cached *metav1.PartialObjectMetadata) bool {
	if !equality.Semantic.DeepEqual(o.Input, in) || !maps.Equal(o.Namespace, namespace) || o.Exists != (cached != nil) {
		return false
	}
	return cached == nil || (cached.Generation == o.Generation && equality.Semantic.DeepEqual(o.Mine, meshkeepersFields(cached.ManagedFields)))
}

// ControllerSource is where the decision about the ingress-nginx controller workload is read from:
// what the workload reconciler last found, while the workload cache shows the workload it read; from
// the API server only when that is not so (the reconciler has yet to see a change), so a decision about
// Ingresses costs no read of the workload.
type ControllerSource struct {
	// Report is what the WorkloadReconciler last found; nil: the workload is always read.
	Report *WorkloadReport
	// Workloads is the workload cache (NewWorkloadCache); nil: Report is not used.
	Workloads client.Reader
	// APIReader reads the workload whole, around the cache.
	APIReader client.Reader
	// Namespaces reads the workload's namespace, from the manager's cache.
	Namespaces client.Reader
	// Reviews asks the API server whether the controller's pods may list IngressClasses
	// (ingressClassesForbidden); nil asks nothing.
	Reviews client.Writer
}

// ControllerInput is what the decision about the controller workload depends on, besides the
// workload and its namespace.
type ControllerInput struct {
	// Spec is spec.ingressNginx, its Service ranges those WithServiceCIDRs resolved.
	Spec meshv1alpha1.IngressNginxSpec
	// Privilege is why the mesh's injected pods need what the Pod Security levels baseline and
	// restricted reject (meshctx.Privilege).
	Privilege policy.Privilege
	// CNIExcluded: the CNI plugin skips the controller's namespace (policy.Enrollment.CNIExcludes).
	CNIExcluded bool
}

// ControllerState is meshkeeper's decision about the controller workload, whether its pod template
// carries it, and how far that template is rolled out.
type ControllerState struct {
	Decision policy.PodTemplateDecision
	// Applied: the decision configures the workload and its pod template carries it.
	Applied bool
	Rollout Rollout
}

// Decide returns meshkeeper's decision about the controller workload in names, whether its pod
// template carries it, and how far that is rolled out.
func (s ControllerSource) Decide(ctx context.Context, in ControllerInput) (ControllerState, error) {
	observed, reported := s.Report.Get()
	if reported && s.Workloads != nil {
		cached, err := CachedWorkload(ctx, s.Workloads, in.Spec.Controller)
		if err != nil {
			return ControllerState{}, fmt.Errorf("reading the ingress-nginx controller's metadata: %w", err)
		}
		namespace, terminating, err := controllerNamespace(ctx, s.Namespaces, in.Spec.Controller.Namespace)
		if err != nil {
			return ControllerState{}, err
		}
		if observed.Describes(in, namespace, cached) && observed.NamespaceTerminating == terminating {
			return ControllerState{Decision: observed.Decision, Applied: observed.Decision.Configured && observed.Applied,
				Rollout: observed.Rollout}, nil
		}
	}
	w, err := ReadWorkload(ctx, s.APIReader, s.Namespaces, s.Reviews, in)
	if err != nil {
		return ControllerState{}, err
	}
	// Applied reads the pod template, which a workload that does not exist lacks.
	applied := w.Decision.Configured && w.Applied()
	return ControllerState{Decision: w.Decision, Applied: applied, Rollout: w.judgeRollout(observed, reported)}, nil
}

// CachedWorkload reads the metadata of the workload ref names from the workload cache; nil when it does
// not exist.
func CachedWorkload(ctx context.Context, workloads client.Reader, ref meshv1alpha1.WorkloadReference) (*metav1.PartialObjectMetadata, error) {
	gvk, ok := workloadKinds[ref.Kind]
	if !ok {
		gvk = workloadKinds["Deployment"]
	}
	obj := &metav1.PartialObjectMetadata{}
	obj.SetGroupVersionKind(gvk)
	if err := workloads.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return obj, nil
}

// meshkeepersFields is meshkeeper's entries of managed fields, as the workload cache keeps them: each
// cut down to the sidecar settings it owns in the pod template (apply.KeysOnlyAt), all that
// holdsSidecarKeys reads, and dropped when it owns none. The cache holds every Deployment and DaemonSet
// of the cluster, and whoever may update one may write its managed fields, entries of meshkeeper's name
// among them, up to the API server's limit on an object. Observed.Mine is cut alike, so that Describes
// compares the same parts; the time of each entry, which meshkeeper's applies move, is kept.
func meshkeepersFields(entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	var mine []metav1.ManagedFieldsEntry
	for _, entry := range entries {
		if entry.Manager != meshv1alpha1.FieldManager || entry.Subresource != "" || entry.FieldsV1 == nil {
			continue
		}
		if cut := apply.KeysOnlyAt(entry.FieldsV1.GetRawBytes(), sidecarKeyList, templateLabels, templateAnnotations); cut != nil {
			entry.FieldsV1 = metav1.NewFieldsV1(string(cut))
			mine = append(mine, entry)
		}
	}
	return mine
}

// sidecarKeyList is sidecarKeys as a list, and templateLabels and templateAnnotations the paths of the
// pod template's maps in a managed-fields set, for meshkeepersFields.
var (
	sidecarKeyList      = sets.List(sidecarKeys)
	templateLabels      = []string{"spec", "template", "metadata", "labels"}
	templateAnnotations = []string{"spec", "template", "metadata", "annotations"}
)

// ReadWorkload reads the workload in names, whole (from reader), and its namespace (from namespaces),
// asks the API server whether its pods may list IngressClasses (ingressClassesForbidden, through
// reviews; nil asks nothing), and decides about it.
func ReadWorkload(ctx context.Context, reader, namespaces client.Reader, reviews client.Writer, input ControllerInput) (*Workload, error) {
	ref := input.Spec.Controller
	obj, err := getWorkload(ctx, reader, ref.Kind, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name})
	if err != nil {
		return nil, err
	}
	namespace, terminating, err := controllerNamespace(ctx, namespaces, ref.Namespace)
	if err != nil {
		return nil, err
	}
	w := &Workload{object: obj, kind: workloadKind(obj), namespace: namespace, namespaceTerminating: terminating}
	in := policy.PodTemplateInput{IngressNginx: input.Spec, NamespaceLabels: namespace, NamespaceTerminating: terminating,
		Privilege: input.Privilege, CNIExcluded: input.CNIExcluded}
	if obj == nil {
		// The chart's controller.kind may have changed: a workload of the other kind under the name
		// is ingress-nginx, and the decision says which kind to name.
		other := otherKind(ref.Kind)
		if w.other, err = getWorkload(ctx, reader, other, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}); err != nil {
			return nil, err
		}
		if w.other != nil {
			in.OtherKind = other
		}
	}
	if obj != nil {
		w.template = podTemplate(obj)
		in.Template = w.template
		in.OwnedLabels = apply.OwnedPodTemplateKeys(obj, "labels")
		in.OwnedAnnotations = apply.OwnedPodTemplateKeys(obj, "annotations")
		in.OthersLabels = apply.OthersKeysAt(obj, "spec", "template", "metadata", "labels")
		in.OthersAnnotations = apply.OthersKeysAt(obj, "spec", "template", "metadata", "annotations")
		if in.IngressClassesForbidden, err = ingressClassesForbidden(ctx, reviews, ref.Namespace, w.template); err != nil {
			return nil, err
		}
	}
	w.Decision = policy.IngressNginxPodTemplate(in)
	return w, nil
}

// The ingress-nginx controller's pods list IngressClasses as they start: a Forbidden answer has them
// ignore spec.ingressClassName.
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// ingressClassesForbidden asks the API server (a SubjectAccessReview, through reviews) whether the
// service account the controller's pods of template, in namespace, run as may list IngressClasses, as
// ingress-nginx does as it starts: true when it may not (policy.PodTemplateInput.IngressClassesForbidden).
// The answer is for now, and the pods asked as they started: a change of the controller's RBAC counts
// for its pods once they restart, and for meshkeeper once it reads the workload again (its spec
// changes, as a restart changes it). Nothing is asked, and false returned, without reviews, for a
// controller that talks to the API server with a kubeconfig's credentials (policy.ServiceAccountOf),
// and when meshkeeper may not ask.
func ingressClassesForbidden(ctx context.Context, reviews client.Writer, namespace string, template *corev1.PodTemplateSpec) (bool, error) {
	account, ok := policy.ServiceAccountOf(template)
	if reviews == nil || !ok {
		return false, nil
	}
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + namespace + ":" + account,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{Verb: "list", Group: networkingv1.GroupName, Version: "v1",
			Resource: "ingressclasses"},
	}}
	if err := reviews.Create(ctx, review); err != nil {
		if apierrors.IsForbidden(err) {
			return false, nil
		}
		return false, fmt.Errorf("asking whether service account %s/%s of the ingress-nginx controller may list IngressClasses: %w",
			namespace, account, err)
	}
	return !review.Status.Allowed, nil
}

// controllerNamespaceKeys are the namespace labels the decision about the controller reads: Istio's
// injector and the Pod Security admission (its level and the version it is pinned to) read them before
// the pod's own.
var controllerNamespaceKeys = []string{policy.LabelIstioInjection, policy.LabelPodSecurityEnforce, policy.LabelPodSecurityEnforceVersion}

// controllerNamespace reads those labels of the namespace name (nil when it has none of them or does not
// exist), and whether it is being deleted: nothing can be created in it then, ingress-nginx reinstalled
// by Helm least of all.
func controllerNamespace(ctx context.Context, namespaces client.Reader, name string) (map[string]string, bool, error) {
	ns := &corev1.Namespace{}
	if err := namespaces.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading namespace %s: %w", name, err)
	}
	var found map[string]string
	for _, key := range controllerNamespaceKeys {
		if value, ok := ns.Labels[key]; ok {
			if found == nil {
				found = map[string]string{}
			}
			found[key] = value
		}
	}
	return found, !ns.DeletionTimestamp.IsZero(), nil
}

// getWorkload reads a Deployment or DaemonSet around the cache; nil when it does not exist.
func getWorkload(ctx context.Context, reader client.Reader, kind string, key client.ObjectKey) (client.Object, error) {
	var obj client.Object
	switch kind {
	case "DaemonSet":
		obj = &appsv1.DaemonSet{}
	default:
		obj = &appsv1.Deployment{}
	}
	if err := reader.Get(ctx, key, obj); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading %s %s: %w", kind, key, err)
	}
	return obj, nil
}

// otherKind is the kind spec.ingressNginx.controller can name besides kind.
func otherKind(kind string) string {
	if kind == "DaemonSet" {
		return "Deployment"
	}
	return "DaemonSet"
}

// workloadKind is the kind of a workload getWorkload read.
func workloadKind(obj client.Object) string {
	if _, ok := obj.(*appsv1.DaemonSet); ok {
		return "DaemonSet"
	}
	return "Deployment"
}

func podTemplate(obj client.Object) *corev1.PodTemplateSpec {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return &o.Spec.Template
	case *appsv1.DaemonSet:
		return &o.Spec.Template
	}
	return nil
}

// workloadMeta is a workload's metadata from the workload cache.
type workloadMeta struct {
	kind string
	meta metav1.PartialObjectMetadata
}

// name is "<Kind> <namespace>/<name>".
func (w workloadMeta) name() string {
	return fmt.Sprintf("%s %s/%s", w.kind, w.meta.Namespace, w.meta.Name)
}

// configuredWorkloads lists the workloads whose pod template carries sidecar settings meshkeeper
// applied. The chart's own workloads (istiod) are meshkeeper's through Helm and never count.
func configuredWorkloads(ctx context.Context, workloads client.Reader) ([]workloadMeta, error) {
	var found []workloadMeta
	for kind, gvk := range workloadKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		// Read-only: the cache's own objects, not copies of every workload of the cluster.
		if err := workloads.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", kind, err)
		}
		for _, item := range list.Items {
			if holdsSidecarKeys(&item) {
				found = append(found, workloadMeta{kind: kind, meta: item})
			}
		}
	}
	return found, nil
}

// HeldWorkloads names ("<Kind> <namespace>/<name>", sorted) the workloads whose pod template still
// carries sidecar settings meshkeeper applied, from the workload cache (NewWorkloadCache).
func HeldWorkloads(ctx context.Context, workloads client.Reader) ([]string, error) {
	holders, err := configuredWorkloads(ctx, workloads)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(holders))
	for _, h := range holders {
		names = append(names, h.name())
	}
	slices.Sort(names)
	return names, nil
}

// holdsSidecarKeys tells whether meshkeeper applied sidecar settings to a workload's pod template. The
// workloads of the Istio charts never count: the chart manager applies them under the same field
// manager, the istiod chart's pod template carries sidecar.istio.io/inject, and taking that back would
// be an apply of the template's metadata alone. They carry meshkeeper's label and an owner reference
// to the ServiceMesh; either tells, since anyone who may edit the Deployment may remove the label.
func holdsSidecarKeys(obj metav1.Object) bool {
	if meshctx.ManagedBySelector.Matches(labels.Set(obj.GetLabels())) || meshctx.OwnedByServiceMesh(obj, nil) {
		return false
	}
	return apply.OwnedPodTemplateKeys(obj, "labels").HasAny(sets.List(sidecarKeys)...) ||
		apply.OwnedPodTemplateKeys(obj, "annotations").HasAny(sets.List(sidecarKeys)...)
}

// NewWorkloadCache returns a cache for the metadata of every Deployment and DaemonSet, keeping of
// their managed fields only meshkeeper's sidecar settings (meshkeepersFields) and none of their
// annotations: enough to find the ingress-nginx controller and the workloads meshkeeper configured,
// without holding every workload's spec (the manager's cache holds only meshkeeper's own Deployments).
func NewWorkloadCache(mgr ctrl.Manager) (cache.Cache, error) {
	return cache.New(mgr.GetConfig(), cache.Options{
		Scheme:     mgr.GetScheme(),
		Mapper:     mgr.GetRESTMapper(),
		HTTPClient: mgr.GetHTTPClient(),
		DefaultTransform: func(obj any) (any, error) {
			if m, ok := obj.(*metav1.PartialObjectMetadata); ok {
				m.ManagedFields, m.Annotations = meshkeepersFields(m.ManagedFields), nil
			}
			return obj, nil
		},
	})
}

// workloadChanged passes updates of workloads of kind that bear on the decision: the spec (generation)
// and what meshkeeper owns; and, while it rolls out meshkeeper's settings, every change of the followed
// workload (its status, which the cache does not hold, changes its resourceVersion only).
func (r *WorkloadReconciler) workloadChanged(kind string) predicate.TypedPredicate[*metav1.PartialObjectMetadata] {
	return predicate.TypedFuncs[*metav1.PartialObjectMetadata]{
		UpdateFunc: func(e event.TypedUpdateEvent[*metav1.PartialObjectMetadata]) bool {
			if e.ObjectOld.Generation != e.ObjectNew.Generation || holdsSidecarKeys(e.ObjectOld) != holdsSidecarKeys(e.ObjectNew) {
				return true
			}
			followed := r.following.Load()
			return followed != nil && followed.kind == kind && followed.key == client.ObjectKeyFromObject(e.ObjectNew) &&
				e.ObjectOld.ResourceVersion != e.ObjectNew.ResourceVersion
		},
	}
}

// SetupWithManager registers the reconciler and its workload cache. It wakes on changes of the
// ServiceMesh, of the named workload and the labels of its namespace, of any workload meshkeeper
// configured, and of the cluster's Service ranges.
func (r *WorkloadReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Workloads == nil {
		workloads, err := NewWorkloadCache(mgr)
		if err != nil {
			return err
		}
		if err := mgr.Add(workloads); err != nil {
			return err
		}
		r.Workloads = workloads
	}
	toRequest := handler.TypedEnqueueRequestsFromMapFunc(func(ctx context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
		if holdsSidecarKeys(obj) {
			return []reconcile.Request{ingressNginxRequest}
		}
		mesh, err := meshctx.Get(ctx, r.Client)
		if err != nil || mesh == nil {
			return nil
		}
		// A workload of either kind under the name: the one named, or the other, whose coming or
		// going changes what ControllerNotFound says to do.
		ref := mesh.Spec.IngressNginx.Controller
		if ref.Namespace == obj.Namespace && ref.Name == obj.Name {
			return []reconcile.Request{ingressNginxRequest}
		}
		return nil
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("ingressnginx").
		WithOptions(meshctx.ControllerOptions(0)).
		Watches(&meshv1alpha1.ServiceMesh{}, handler.EnqueueRequestsFromMapFunc(
			func(context.Context, client.Object) []reconcile.Request {
				return []reconcile.Request{ingressNginxRequest}
			}),
			builder.WithPredicates(predicate.Or(meshctx.SpecOrDeletionChanged, meshctx.CNIInjectsChanged))).
		// Istio's injector and the Pod Security admission read the controller's namespace's labels.
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(
			func(ctx context.Context, obj client.Object) []reconcile.Request {
				mesh, err := meshctx.Get(ctx, r.Client)
				if err != nil || mesh == nil || mesh.Spec.IngressNginx.Controller.Namespace != obj.GetName() {
					return nil
				}
				return []reconcile.Request{ingressNginxRequest}
			}),
			builder.WithPredicates(meshctx.LabelsOrDeletionChanged))
	for kind, gvk := range workloadKinds {
		obj := &metav1.PartialObjectMetadata{}
		obj.SetGroupVersionKind(gvk)
		b = b.WatchesRawSource(source.Kind(r.Workloads, obj, toRequest, r.workloadChanged(kind)))
	}
	ranges, err := ServiceCIDRSource(mgr, handler.TypedEnqueueRequestsFromMapFunc(
		func(context.Context, *networkingv1.ServiceCIDR) []reconcile.Request {
			return []reconcile.Request{ingressNginxRequest}
		}))
	if err != nil {
		return err
	}
	if ranges != nil {
		b = b.WatchesRawSource(ranges)
	}
	return b.Complete(r)
}
