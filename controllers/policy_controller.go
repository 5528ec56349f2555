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

package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// PolicyReconciler writes the mesh's policies into each namespace: the PeerAuthentication "default"
// (the mesh-wide one in the control-plane namespace, and one per namespace of spec.mtls.namespaces),
// and, with Sidecar scoping on, the Sidecar "default" of every enrolled namespace. It removes what it
// wrote when it is no longer wanted, and never touches a PeerAuthentication or Sidecar "default" it did
// not write: those are reported.
type PolicyReconciler struct {
	client.Client
	// APIReader reads policy objects whole, around the cache (which holds only their metadata).
	APIReader client.Reader
	Recorder  events.EventRecorder

	// policyWatches watches the policy kinds once their CRDs are served.
	policyWatches *lateWatches
	reported      transitions // by "kind namespace" and "annotation namespace"
}

// The Istio policies meshkeeper generates.
// +kubebuilder:rbac:groups=security.istio.io,resources=peerauthentications,verbs=get;list;watch;create;patch;delete
// +kubebuilder:rbac:groups=networking.istio.io,resources=sidecars,verbs=get;list;watch;create;patch;delete

// policyKinds are the kinds the reconciler writes.
var policyKinds = []schema.GroupVersionKind{render.PeerAuthenticationKind, render.SidecarKind}

// Reconcile brings one namespace's PeerAuthentication and Sidecar to what the ServiceMesh asks for.
func (r *PolicyReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, nil
	}
	mesh, err := getMesh(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !r.policyWatches.ensure(ctx) {
		// The Istio CRDs come with the control plane: their watch brings the namespace back, and this
		// retry covers discovery lagging behind a CRD that was just established.
		return ctrl.Result{RequeueAfter: 10 * time.Second}, nil
	}
	desired, malformed, err := desiredPolicies(mesh, ns)
	if err != nil {
		return ctrl.Result{}, nil // the ServiceMesh reports its invalid spec
	}
	r.reportMalformed(mesh, ns, malformed)
	var errs []error
	for _, gvk := range policyKinds {
		errs = append(errs, r.reconcileKind(ctx, mesh, ns.Name, gvk, desired[gvk]))
	}
	return ctrl.Result{}, errors.Join(errs...)
}

// desiredPolicies returns the policy objects a namespace should have from meshkeeper, by kind (nil:
// none), and the malformed entries of its egress-hosts annotation.
func desiredPolicies(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace) (map[schema.GroupVersionKind]*unstructured.Unstructured, []string, error) {
	desired := map[schema.GroupVersionKind]*unstructured.Unstructured{}
	if mesh == nil || !mesh.DeletionTimestamp.IsZero() {
		return desired, nil, nil
	}
	spec := &mesh.Spec
	if render.WantsPeerAuthentication(spec, ns.Name) {
		desired[render.PeerAuthenticationKind] = render.PeerAuthentication(ns.Name, render.MTLSMode(spec, ns.Name))
	}
	if !ptr.Deref(spec.SidecarScoping.Enabled, false) {
		return desired, nil, nil
	}
	enrollment, err := policy.NewEnrollment(spec, "")
	if err != nil {
		return nil, nil, err
	}
	if !enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Enroll {
		return desired, nil, nil
	}
	hosts, malformed := render.EgressHosts(ns.Annotations[render.EgressHostsAnnotation])
	desired[render.SidecarKind] = render.Sidecar(spec, ns.Name, hosts)
	return desired, malformed, nil
}

// reconcileKind creates, updates or deletes meshkeeper's object of one kind in a namespace.
func (r *PolicyReconciler) reconcileKind(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace string,
	gvk schema.GroupVersionKind, desired *unstructured.Unstructured) error {
	current := &unstructured.Unstructured{}
	current.SetGroupVersionKind(gvk)
	key := client.ObjectKey{Namespace: namespace, Name: render.PolicyName}
	err := r.APIReader.Get(ctx, key, current)
	switch {
	case apierrors.IsNotFound(err):
		current = nil
	case err != nil:
		return fmt.Errorf("reading %s %s: %w", gvk.Kind, key, err)
	}
	reportKey := gvk.Kind + " " + namespace
	if current != nil && !generatedByMeshkeeper(current) {
		if desired != nil {
			r.reportConflict(mesh, current, reportKey)
		}
		return nil
	}
	r.reported.forget(reportKey)
	switch {
	case desired == nil && current == nil:
		return nil
	case desired == nil:
		err := r.Delete(ctx, current, client.Preconditions{UID: ptr.To(current.GetUID())})
		if client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("deleting %s %s: %w", gvk.Kind, key, err)
		}
		return nil
	case current != nil && equality.Semantic.DeepEqual(current.Object["spec"], desired.Object["spec"]) && ownedBy(current, mesh):
		return nil // steady state: nothing to write
	}
	desired.SetLabels(map[string]string{helm.ManagedByLabel: helm.ManagedByValue})
	desired.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(mesh, meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))})
	if current != nil {
		desired.SetUID(current.GetUID())
	}
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(desired), client.FieldOwner(meshv1alpha1.FieldManager), client.ForceOwnership); err != nil {
		return fmt.Errorf("applying %s %s: %w", gvk.Kind, key, err)
	}
	return nil
}

// generatedByMeshkeeper tells whether meshkeeper wrote a policy object.
func generatedByMeshkeeper(obj metav1.Object) bool {
	return obj.GetLabels()[helm.ManagedByLabel] == helm.ManagedByValue
}

func ownedBy(obj metav1.Object, mesh *meshv1alpha1.ServiceMesh) bool {
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == mesh.UID {
			return true
		}
	}
	return false
}

// reportConflict emits a Warning once when a namespace has its own policy object of the name meshkeeper
// would write.
func (r *PolicyReconciler) reportConflict(mesh *meshv1alpha1.ServiceMesh, current *unstructured.Unstructured, key string) {
	message := fmt.Sprintf("%s %s/%s was not written by meshkeeper; meshkeeper leaves it as it is and writes none of its own there. "+
		"Delete it (or give it another name) to let meshkeeper manage the namespace's %s", current.GetKind(), current.GetNamespace(),
		current.GetName(), current.GetKind())
	if !r.reported.changed(key, message) {
		return
	}
	r.Recorder.Eventf(current, related(mesh), corev1.EventTypeWarning, meshv1alpha1.ReasonPolicyConflict, "ApplyPolicy", "%s", message)
	if mesh != nil {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonPolicyConflict, "ApplyPolicy", "%s", message)
	}
}

// reportMalformed emits a Warning on the Namespace when its egress-hosts annotation has entries
// meshkeeper leaves out.
func (r *PolicyReconciler) reportMalformed(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, malformed []string) {
	key := "annotation " + ns.Name
	if len(malformed) == 0 {
		r.reported.forget(key)
		return
	}
	message := fmt.Sprintf("annotation %s of namespace %s has entries that are not \"namespace/dnsName\" (such as payments/* or "+
		"monitoring/prometheus.monitoring.svc.cluster.local): %s; the Sidecar leaves them out and takes the others",
		render.EgressHostsAnnotation, ns.Name, strings.Join(malformed, ", "))
	if !r.reported.changed(key, message) {
		return
	}
	r.Recorder.Eventf(ns, related(mesh), corev1.EventTypeWarning, meshv1alpha1.ReasonMalformedEgressHosts, "ApplyPolicy", "%s", message)
}

// policyObjectChanged passes changes of policy objects named "default": the only ones meshkeeper writes
// or reports.
var policyObjectChanged = predicate.NewTypedPredicateFuncs(func(obj *metav1.PartialObjectMetadata) bool {
	return obj.Name == render.PolicyName
})

// egressHostsOrLabelsChanged passes namespace updates that change what its policies depend on: its
// labels (enrollment), its egress-hosts annotation, and meshkeeper's ownership of its labels.
var egressHostsOrLabelsChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return labelsOrDeletionChanged.Update(e) ||
			e.ObjectOld.GetAnnotations()[render.EgressHostsAnnotation] != e.ObjectNew.GetAnnotations()[render.EgressHostsAnnotation]
	},
}

// SetupWithManager registers the reconciler: a namespace on its own changes, every namespace on
// ServiceMesh changes, and, once their CRDs are served, a namespace when its policy objects change.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	allNamespaces := allNamespacesHandler(r.Client)
	toNamespace := handler.TypedEnqueueRequestsFromMapFunc(func(_ context.Context, obj *metav1.PartialObjectMetadata) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: obj.Namespace}}}
	})
	// The CRDs of the policy kinds, by metadata: when istio-base installs them, every namespace's
	// policies can be written.
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"})
	policyCRD := predicate.NewPredicateFuncs(func(obj client.Object) bool {
		return obj.GetName() == "peerauthentications.security.istio.io" || obj.GetName() == "sidecars.networking.istio.io"
	})
	c, err := ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}, builder.WithPredicates(egressHostsOrLabelsChanged)).
		Watches(&meshv1alpha1.ServiceMesh{}, allNamespaces, builder.WithPredicates(specOrDeletionChanged)).
		Watches(crd, allNamespaces, builder.WithPredicates(policyCRD)).
		WithOptions(controller.Options{MaxConcurrentReconciles: 4}).
		Named("policy").
		Build(r)
	r.policyWatches = newLateWatches(mgr, c, policyKinds, toNamespace)
	return err
}
