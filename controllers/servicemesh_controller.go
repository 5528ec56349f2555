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

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
)

// ServiceMeshReconciler reconciles the ServiceMesh itself: for now it observes the spec and reports
// honestly what meshkeeper does with it.
type ServiceMeshReconciler struct {
	client.Client
	Recorder events.EventRecorder
}

// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes,verbs=get;list;watch
// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes/status,verbs=get;patch;update
// +kubebuilder:rbac:groups=mesh.meshkeeper.io,resources=servicemeshes/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile computes the status of a ServiceMesh and writes it when it changed.
func (r *ServiceMeshReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := r.Get(ctx, req.NamespacedName, mesh); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}

	status := computeStatus(mesh)
	if equality.Semantic.DeepEqual(mesh.Status, status) {
		return ctrl.Result{}, nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("Updating status", "observedGeneration", status.ObservedGeneration)
	return ctrl.Result{}, apply.Status(ctx, r.Client, meshv1alpha1.GroupVersion.WithKind("ServiceMesh"),
		client.ObjectKeyFromObject(mesh), &status)
}

// SetupWithManager registers the reconciler. Only spec changes (generation) wake it: its own status
// writes must not.
func (r *ServiceMeshReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&meshv1alpha1.ServiceMesh{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("servicemesh").
		Complete(r)
}
