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
	"maps"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// NamespaceReconciler enrolls namespaces into the mesh: it applies the injection label to the namespaces
// the ServiceMesh selects and takes its own label back from the ones it no longer selects. A label the
// user set is never changed; a conflicting one is reported.
type NamespaceReconciler struct {
	client.Client
	Recorder events.EventRecorder

	// reported holds, per namespace, the conflict last reported.
	reported transitions
}

// Reconcile brings one namespace's injection label to what the ServiceMesh asks for.
func (r *NamespaceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, req.NamespacedName, ns); err != nil {
		r.reported.forget(req.Name)
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	mesh, err := getMesh(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	owned := apply.OwnedKeys(ns, "labels")
	decision := policy.Decision{Labels: map[string]string{}} // no mesh: give back what meshkeeper set
	if mesh != nil && mesh.DeletionTimestamp.IsZero() {
		enrollment, err := policy.NewEnrollment(&mesh.Spec, "")
		if err != nil {
			return ctrl.Result{}, nil // the ServiceMesh reports its invalid selector
		}
		decision = enrollment.Namespace(ns, owned)
	}
	r.reportConflict(mesh, ns, decision)

	if decision.Labels == nil {
		return ctrl.Result{}, nil
	}
	desired := withOtherOwnedLabels(ns, owned, decision.Labels)
	if ownsExactly(ns.Labels, owned, desired) {
		return ctrl.Result{}, nil
	}
	if err := apply.Metadata(ctx, r.Client, ns, desired, nil); err != nil {
		return ctrl.Result{}, err
	}
	if decision.Enroll {
		r.Recorder.Eventf(ns, related(mesh), corev1.EventTypeNormal, "Enrolled", "Enroll", "%s", decision.Message)
	} else {
		reason := decision.Message
		if reason == "" {
			reason = "there is no ServiceMesh, or it is being deleted"
		}
		r.Recorder.Eventf(ns, related(mesh), corev1.EventTypeNormal, "Unenrolled", "Unenroll",
			"meshkeeper removed its injection label: %s", reason)
	}
	return ctrl.Result{}, nil
}

// reportConflict emits a Warning on the Namespace and the ServiceMesh when a namespace starts keeping
// its own injection label against the ServiceMesh's selection.
func (r *NamespaceReconciler) reportConflict(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, d policy.Decision) {
	if d.Reason != policy.InjectionLabelConflict {
		r.reported.forget(ns.Name)
		return
	}
	if !r.reported.changed(ns.Name, d.Message) {
		return
	}
	r.Recorder.Eventf(ns, related(mesh), corev1.EventTypeWarning, d.Reason, "Enroll", "%s", d.Message)
	if mesh != nil {
		r.Recorder.Eventf(mesh, ns, corev1.EventTypeWarning, d.Reason, "Enroll", "%s", d.Message)
	}
}

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

// ownsExactly tells whether meshkeeper already owns exactly the keys of want, with want's values, in
// current (an object's labels or annotations, whose owned keys are owned).
func ownsExactly(current map[string]string, owned sets.Set[string], want map[string]string) bool {
	if !owned.Equal(sets.KeySet(want)) {
		return false
	}
	for key, value := range want {
		if current[key] != value {
			return false
		}
	}
	return true
}

// related is the ServiceMesh as an Event's related object: nil when there is none (a nil
// *ServiceMesh in the interface would not be).
func related(mesh *meshv1alpha1.ServiceMesh) runtime.Object {
	if mesh == nil {
		return nil
	}
	return mesh
}

// getMesh returns the ServiceMesh, or nil when there is none.
func getMesh(ctx context.Context, c client.Reader) (*meshv1alpha1.ServiceMesh, error) {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := c.Get(ctx, client.ObjectKey{Name: meshv1alpha1.ServiceMeshName}, mesh); err != nil {
		return nil, client.IgnoreNotFound(err)
	}
	return mesh, nil
}

// labelsOrDeletionChanged passes namespace updates that change labels or begin a deletion: nothing else
// of a namespace bears on enrollment.
var labelsOrDeletionChanged = predicate.Funcs{
	UpdateFunc: func(e event.UpdateEvent) bool {
		return !maps.Equal(e.ObjectOld.GetLabels(), e.ObjectNew.GetLabels()) ||
			!e.ObjectOld.GetDeletionTimestamp().Equal(e.ObjectNew.GetDeletionTimestamp()) ||
			!apply.OwnedKeys(e.ObjectOld, "labels").Equal(apply.OwnedKeys(e.ObjectNew, "labels"))
	},
}

// allNamespacesHandler enqueues a request for every namespace: for controllers keyed by namespace,
// when the ServiceMesh changes.
func allNamespacesHandler(c client.Reader) handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		list := &corev1.NamespaceList{}
		if err := c.List(ctx, list); err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "Listing namespaces")
			return nil
		}
		requests := make([]reconcile.Request, 0, len(list.Items))
		for _, ns := range list.Items {
			requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKey{Name: ns.Name}})
		}
		return requests
	})
}

// SetupWithManager registers the reconciler: every namespace on label changes, and all of them when the
// ServiceMesh changes.
func (r *NamespaceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	allNamespaces := allNamespacesHandler(r.Client)
	return ctrl.NewControllerManagedBy(mgr).
		For(&corev1.Namespace{}, builder.WithPredicates(labelsOrDeletionChanged)).
		Watches(&meshv1alpha1.ServiceMesh{}, allNamespaces, builder.WithPredicates(specOrDeletionChanged)).
		Named("namespace").
		Complete(r)
}
