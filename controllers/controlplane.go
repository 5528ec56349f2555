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
	"slices"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

const (
	// Release names of the two charts, as `helm list -n <namespace>` shows them.
	baseRelease   = "istio-base"
	istiodRelease = "istiod"
	// istiodDeployment is the Deployment the istiod chart renders for the default revision.
	istiodDeployment = "istiod"
	// defaultRevision is the Istio revision meshkeeper installs.
	defaultRevision = "default"
	// createdNamespaceLabel marks a control-plane namespace meshkeeper created, and so may delete.
	createdNamespaceLabel = "mesh.meshkeeper.io/created-by"
)

// namespaceRetry is how often a ServiceMesh waits for its terminating namespace to be gone.
const namespaceRetry = 5 * time.Second

// reconcileControlPlane installs or upgrades the two releases when they are out of sync, restores
// drifted objects, and reports the control plane's readiness. A chart that cannot be had leaves the
// running control plane as it is.
func (r *ServiceMeshReconciler) reconcileControlPlane(ctx context.Context, s *scope) (ctrl.Result, error) {
	spec := &s.mesh.Spec
	version := spec.Version
	if version == "" {
		version = charts.BuiltinVersion
	}

	istiodValues, err := render.IstiodValues(spec, version)
	if err != nil {
		s.terminal = true
		s.setCondition(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonInvalidSpec, err.Error())
		return ctrl.Result{}, nil
	}
	set, err := r.Resolver.Resolve(ctx, charts.Source{
		Repository:        spec.Charts.Repository,
		Version:           version,
		CredentialsSecret: types.NamespacedName{Namespace: spec.Namespace, Name: spec.Charts.CredentialsSecret},
		ImageHubs:         render.ImageHubs(istiodValues),
	})
	if err != nil {
		return ctrl.Result{}, r.chartUnavailable(s, err)
	}

	if err := r.ensureNamespace(ctx, spec.Namespace); errors.Is(err, errNamespaceTerminating) {
		s.setCondition(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonNamespaceTerminating,
			err.Error()+"; meshkeeper installs the control plane once it is gone")
		return ctrl.Result{RequeueAfter: namespaceRetry}, nil
	} else if err != nil {
		return ctrl.Result{}, err
	}

	owner := helm.Owner{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
		Name: s.mesh.Name, UID: string(s.mesh.UID)}
	releases := []helm.Release{
		{Name: baseRelease, Namespace: spec.Namespace, Chart: set.Base, ChartDigest: set.BaseDigest,
			Values: render.BaseValues(spec), Owner: owner},
		{Name: istiodRelease, Namespace: spec.Namespace, Chart: set.Istiod, ChartDigest: set.IstiodDigest,
			Values: istiodValues, Owner: owner},
	}
	for _, release := range releases {
		result, err := r.Charts.Ensure(ctx, release)
		r.recordHelmResult(s, release, set.Version, result, err)
		if err != nil {
			s.setCondition(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, meshv1alpha1.ReasonInstallFailed, err.Error())
			return ctrl.Result{}, err
		}
	}

	s.status.Version = version
	s.status.ChartVersion = set.Version
	s.status.Revision = defaultRevision
	return ctrl.Result{}, r.observeControlPlane(ctx, s)
}

// chartUnavailable reports a chart that cannot be had, or a source the installer's allow-lists refuse.
// A missing version and a refused source are terminal for this generation; an unreachable repository
// is retried with backoff.
func (r *ServiceMeshReconciler) chartUnavailable(s *scope, err error) error {
	reason := meshv1alpha1.ReasonRepositoryUnreachable
	switch {
	case errors.Is(err, charts.ErrChartNotFound):
		reason = meshv1alpha1.ReasonChartNotFound
	case errors.Is(err, charts.ErrRepositoryNotAllowed):
		reason = meshv1alpha1.ReasonRepositoryNotAllowed
	case errors.Is(err, charts.ErrImageHubNotAllowed):
		reason = meshv1alpha1.ReasonImageHubNotAllowed
	}
	message := err.Error() + "; the running control plane is left as it is"
	s.setCondition(meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, reason, message)
	r.Recorder.Eventf(s.mesh, nil, corev1.EventTypeWarning, reason, "ResolveCharts", "%s", message)
	if reason != meshv1alpha1.ReasonRepositoryUnreachable {
		s.terminal = true
		return nil
	}
	return err
}

// recordHelmResult emits an Event for every Helm action and for every failure. The action names the
// release: the events API folds Events with the same object, reason and action into one series, and
// the istiod Event must not disappear into istio-base's.
func (r *ServiceMeshReconciler) recordHelmResult(s *scope, release helm.Release, chartVersion string, result helm.Result, err error) {
	name := release.Namespace + "/" + release.Name
	action := string(result.Action) + "/" + release.Name
	if result.Action != helm.ActionNone || err != nil {
		metrics.HelmOperations.WithLabelValues(release.Name, strings.ToLower(string(result.Action)), outcome(err)).Inc()
	}
	if err != nil {
		r.Recorder.Eventf(s.mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonInstallFailed, action,
			"Release %s (chart %s %s): %v", name, release.Chart.Name(), chartVersion, err)
		return
	}
	switch result.Action {
	case helm.ActionNone:
	case helm.ActionRepaired:
		r.Recorder.Eventf(s.mesh, nil, corev1.EventTypeNormal, "DriftRepaired", action,
			"Release %s: restored %s", name, strings.Join(result.Repaired, ", "))
	default:
		r.Recorder.Eventf(s.mesh, nil, corev1.EventTypeNormal, string(result.Action), action,
			"Release %s: chart %s %s (was %s)", name, release.Chart.Name(), chartVersion, result.State)
	}
}

// observeControlPlane sets ControlPlaneReady from the istiod Deployment.
func (r *ServiceMeshReconciler) observeControlPlane(ctx context.Context, s *scope) error {
	deployment := &appsv1.Deployment{}
	err := r.Get(ctx, client.ObjectKey{Namespace: s.mesh.Spec.Namespace, Name: istiodDeployment}, deployment)
	if apierrors.IsNotFound(err) {
		deployment = nil
	} else if err != nil {
		return fmt.Errorf("reading the istiod Deployment: %w", err)
	}
	status, reason, message := controlPlaneReadiness(deployment)
	s.setCondition(meshv1alpha1.ConditionControlPlaneReady, status, reason, message)
	metrics.ControlPlaneReady.Set(boolGauge(status == metav1.ConditionTrue))
	return nil
}

// controlPlaneReadiness judges the istiod Deployment: ready when the current template is rolled out
// and every desired replica is available.
func controlPlaneReadiness(d *appsv1.Deployment) (metav1.ConditionStatus, string, string) {
	if d == nil {
		return metav1.ConditionFalse, meshv1alpha1.ReasonDeploymentMissing, "The istiod Deployment does not exist yet"
	}
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "The istiod Deployment's latest change is not yet observed by its controller"
	case st.UpdatedReplicas < desired || st.AvailableReplicas < desired || st.Replicas > desired:
		return metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, fmt.Sprintf(
			"istiod: %d of %d replicas updated, %d available", st.UpdatedReplicas, desired, st.AvailableReplicas)
	default:
		return metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, fmt.Sprintf("istiod: %d of %d replicas available", st.AvailableReplicas, desired)
	}
}

// errNamespaceTerminating: the control-plane namespace is being deleted (a previous ServiceMesh's
// uninstall), so nothing can be installed into it yet.
var errNamespaceTerminating = errors.New("the control-plane namespace is being deleted")

// ensureNamespace creates the control-plane namespace when it does not exist, marked as meshkeeper's.
// An existing namespace is left exactly as it is.
func (r *ServiceMeshReconciler) ensureNamespace(ctx context.Context, name string) error {
	existing := &corev1.Namespace{}
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, existing)
	if err == nil {
		if !existing.DeletionTimestamp.IsZero() {
			return fmt.Errorf("%w: namespace %s", errNamespaceTerminating, name)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(name)
	ns.SetLabels(map[string]string{createdNamespaceLabel: meshv1alpha1.FieldManager})
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(ns), client.FieldOwner(meshv1alpha1.FieldManager)); err != nil {
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// reconcileDelete uninstalls what meshkeeper installed: both releases (the Istio CRDs stay, and with them
// every user object), any webhook configuration still labelled as meshkeeper's, and the control-plane
// namespace if meshkeeper created it. Then it lets the ServiceMesh go.
func (r *ServiceMeshReconciler) reconcileDelete(ctx context.Context, cached *meshv1alpha1.ServiceMesh) error {
	// The name is always "default", so a cached ServiceMesh whose deletion already finished may stand for
	// a new one the user just created. Only the live object decides what is uninstalled.
	mesh := &meshv1alpha1.ServiceMesh{}
	if err := r.APIReader.Get(ctx, client.ObjectKeyFromObject(cached), mesh); err != nil {
		return client.IgnoreNotFound(err)
	}
	if mesh.UID != cached.UID || mesh.DeletionTimestamp.IsZero() || !slices.Contains(mesh.Finalizers, meshv1alpha1.Finalizer) {
		return nil
	}
	namespace := mesh.Spec.Namespace
	if err := r.unenrollAll(ctx); err != nil {
		return err
	}
	if err := r.releaseDataPlane(ctx, mesh); err != nil {
		return err
	}
	if err := r.deletePolicies(ctx); err != nil {
		return err
	}
	for _, release := range []string{istiodRelease, baseRelease} {
		err := r.Charts.Uninstall(ctx, namespace, release)
		metrics.HelmOperations.WithLabelValues(release, "uninstalled", outcome(err)).Inc()
		if err != nil {
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, "UninstallFailed", "Uninstall/"+release, "Release %s/%s: %v", namespace, release, err)
			return err
		}
	}
	if err := r.deleteLeftoverWebhooks(ctx); err != nil {
		return err
	}
	if err := r.deleteCreatedNamespace(ctx, namespace); err != nil {
		return err
	}
	metrics.ControlPlaneReady.Set(0)
	metrics.EnrolledNamespaces.Set(0)
	metrics.NamespaceConflicts.Set(0)
	metrics.SetIngresses(0, nil)
	metrics.SetProxies(0, 0, 0, nil)
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, "Uninstalled", "Uninstall",
		"Removed the control plane from %s; the Istio CRDs and their objects stay", namespace)
	ctrl.LoggerFrom(ctx).Info("Uninstalled the control plane", "namespace", namespace)
	return r.applyFinalizer(ctx, mesh, false)
}

// deleteLeftoverWebhooks removes webhook configurations meshkeeper's charts rendered that an uninstall
// did not (a release record lost by hand): a webhook pointing at a deleted istiod would block the
// creation of pods or Istio objects cluster-wide.
func (r *ServiceMeshReconciler) deleteLeftoverWebhooks(ctx context.Context) error {
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	var leftovers []client.Object
	if err := r.List(ctx, mutating, client.MatchingLabelsSelector{Selector: managedBySelector}); err != nil {
		return fmt.Errorf("listing webhook configurations: %w", err)
	}
	for i := range mutating.Items {
		leftovers = append(leftovers, &mutating.Items[i])
	}
	if err := r.List(ctx, validating, client.MatchingLabelsSelector{Selector: managedBySelector}); err != nil {
		return fmt.Errorf("listing webhook configurations: %w", err)
	}
	for i := range validating.Items {
		leftovers = append(leftovers, &validating.Items[i])
	}
	for _, webhook := range leftovers {
		if err := r.Delete(ctx, webhook); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting webhook configuration %s: %w", webhook.GetName(), err)
		}
	}
	return nil
}

func (r *ServiceMeshReconciler) deleteCreatedNamespace(ctx context.Context, name string) error {
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		return client.IgnoreNotFound(err)
	}
	if ns.Labels[createdNamespaceLabel] != meshv1alpha1.FieldManager {
		return nil
	}
	if err := r.Delete(ctx, ns); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting namespace %s: %w", name, err)
	}
	return nil
}

// outcome is the result label of an operation's metric.
func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
