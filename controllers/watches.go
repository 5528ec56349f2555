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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// chartKind is a kind the Istio charts render. meshkeeper watches each (only the objects it labelled)
// to notice a deleted or edited object and restore it.
type chartKind struct {
	object client.Object
	// ignore strips fields whose changes are not drift before old and new are compared.
	ignore func(obj map[string]any)
	// cacheAll caches every object of the kind, not only meshkeeper's: another controller needs them.
	cacheAll bool
}

// chartKinds are the kinds the base and istiod charts render with meshkeeper's values, declared as
// data so that adding one is one line. The CRDs are left out: they carry Helm's keep policy, no owner,
// and are only changed by an upgrade.
var chartKinds = []chartKind{
	{object: &appsv1.Deployment{}},
	// Ingresses name Services of every namespace; the Ingress controller reads their type and ClusterIP.
	{object: &corev1.Service{}, cacheAll: true},
	{object: &corev1.ConfigMap{}},
	{object: &corev1.ServiceAccount{}},
	{object: &rbacv1.Role{}},
	{object: &rbacv1.RoleBinding{}},
	{object: &rbacv1.ClusterRole{}},
	{object: &rbacv1.ClusterRoleBinding{}},
	{object: &policyv1.PodDisruptionBudget{}},
	{object: &autoscalingv2.HorizontalPodAutoscaler{}},
	// istiod writes its CA bundle into its webhooks and switches the validator to failurePolicy Fail once
	// it serves; those rewrites are istiod's job, not drift.
	{object: &admissionregistrationv1.MutatingWebhookConfiguration{}, ignore: helm.IgnoreIstiodRewrites},
	{object: &admissionregistrationv1.ValidatingWebhookConfiguration{}, ignore: helm.IgnoreIstiodRewrites},
}

// managedBySelector selects the objects meshkeeper's charts rendered.
var managedBySelector = labels.SelectorFromSet(labels.Set{helm.ManagedByLabel: helm.ManagedByValue})

// CacheOptions are the manager's cache options: CacheByObject, and of every cached object's managed
// fields only meshkeeper's (the ones OwnedKeys reads). Other managers' entries can outweigh the rest of
// an Ingress or a Namespace, and a cluster has thousands of them.
func CacheOptions() cache.Options {
	return cache.Options{ByObject: CacheByObject(), DefaultTransform: keepOwnManagedFields}
}

// keepOwnManagedFields drops the managed-fields entries of every manager but meshkeeper.
func keepOwnManagedFields(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	entries := o.GetManagedFields()
	mine := entries[:0:0]
	for _, entry := range entries {
		if entry.Manager == meshv1alpha1.FieldManager {
			mine = append(mine, entry)
		}
	}
	if len(mine) != len(entries) {
		o.SetManagedFields(mine)
	}
	return obj, nil
}

// CacheByObject limits the manager's cache for every chart kind to the objects meshkeeper labelled, so
// the cache never holds every ConfigMap or Deployment of the cluster, and keeps of each Pod only what
// the proxy count reads.
func CacheByObject() map[client.Object]cache.ByObject {
	byObject := map[client.Object]cache.ByObject{}
	for _, kind := range chartKinds {
		if !kind.cacheAll {
			byObject[kind.object] = cache.ByObject{Label: managedBySelector}
		}
	}
	byObject[&corev1.Pod{}] = cache.ByObject{Transform: proxyFields}
	return byObject
}

// proxyFields is the cache's transform of Pods.
func proxyFields(obj any) (any, error) {
	if pod, ok := obj.(*corev1.Pod); ok {
		return policy.ProxyFields(pod), nil
	}
	return obj, nil
}

// managedByMeshkeeper passes only the objects meshkeeper's charts rendered, for kinds cached whole.
var managedByMeshkeeper = predicate.NewPredicateFuncs(func(obj client.Object) bool {
	return managedBySelector.Matches(labels.Set(obj.GetLabels()))
})

// changedPredicate passes creates and deletes, and updates that change more than bookkeeping (resource
// version, managed fields) and what kind.ignore strips. Status changes pass for Deployments only: the
// istiod Deployment's availability is the control plane's readiness.
func changedPredicate(kind chartKind) predicate.Predicate {
	_, keepStatus := kind.object.(*appsv1.Deployment)
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !equality.Semantic.DeepEqual(
				comparableObject(e.ObjectOld, keepStatus, kind.ignore),
				comparableObject(e.ObjectNew, keepStatus, kind.ignore))
		},
	}
}

func comparableObject(obj client.Object, keepStatus bool, ignore func(map[string]any)) map[string]any {
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		// Unconvertible objects are passed on: a spurious reconcile is harmless, a missed one is not.
		return map[string]any{"unconvertible": obj.GetResourceVersion()}
	}
	if metadata, ok := u["metadata"].(map[string]any); ok {
		delete(metadata, "resourceVersion")
		delete(metadata, "managedFields")
	}
	if !keepStatus {
		delete(u, "status")
	}
	if ignore != nil {
		ignore(u)
	}
	return u
}
