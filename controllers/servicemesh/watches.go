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
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/meshkeeper/meshkeeper/internal/helm"
)

// ChartKind is a kind the Istio charts render. meshkeeper watches each (only the objects it labelled)
// to notice a deleted or edited object and restore it.
type ChartKind struct {
	Object client.Object
	// ignore strips fields whose changes are not drift before old and new are compared.
	ignore func(obj map[string]any)
	// wake, when set, passes an update that ignore hides but that meshkeeper must see (before and after as
	// unstructured content).
	wake func(before, after map[string]any) bool
	// CacheAll caches every object of the kind, not only meshkeeper's: another controller needs them.
	CacheAll bool
	// ClusterScoped tells that the kind's objects have no namespace.
	ClusterScoped bool
}

// ChartKinds are the kinds the base, istiod and CNI charts render with meshkeeper's values, declared as
// data so that adding one is one line. The CRDs are left out: they carry Helm's keep policy, no owner,
// and are only changed by an upgrade.
var ChartKinds = []ChartKind{
	{Object: &appsv1.Deployment{}},
	{Object: &appsv1.DaemonSet{}},
	// Ingresses name Services of every namespace; the Ingress controller reads their type and ClusterIP.
	{Object: &corev1.Service{}, CacheAll: true},
	{Object: &corev1.ConfigMap{}},
	{Object: &corev1.ServiceAccount{}},
	{Object: &rbacv1.Role{}},
	{Object: &rbacv1.RoleBinding{}},
	{Object: &rbacv1.ClusterRole{}, ClusterScoped: true},
	{Object: &rbacv1.ClusterRoleBinding{}, ClusterScoped: true},
	{Object: &policyv1.PodDisruptionBudget{}},
	{Object: &autoscalingv2.HorizontalPodAutoscaler{}},
	// Rendered with spec.values global.networkPolicy.enabled.
	{Object: &networkingv1.NetworkPolicy{}},
	// istiod writes its CA bundle into its webhooks and switches the validator to failurePolicy Fail once
	// it serves; those rewrites are istiod's job, not drift. A webhook switched to fail open is not one of
	// them.
	{Object: &admissionregistrationv1.MutatingWebhookConfiguration{}, ignore: helm.IgnoreIstiodRewrites, wake: helm.Opened, ClusterScoped: true},
	{Object: &admissionregistrationv1.ValidatingWebhookConfiguration{}, ignore: helm.IgnoreIstiodRewrites, wake: helm.Opened, ClusterScoped: true},
	// Rendered by istiod's chart with spec.values experimental.stableValidationPolicy: the policy that
	// refuses the Istio fields outside the stable channel, and its binding. A deleted one, or a binding
	// weakened from Deny to Audit, lifts that guard for the whole mesh.
	{Object: &admissionregistrationv1.ValidatingAdmissionPolicy{}, ClusterScoped: true},
	{Object: &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}, ClusterScoped: true},
}

// changedPredicate passes creates and deletes, updates that change more than bookkeeping (resource
// version, managed fields) and what kind.ignore strips, and those kind.wake passes. Status changes pass for Deployments and
// DaemonSets only: the istiod Deployment's availability is the control plane's readiness, the CNI
// DaemonSet's the agent's.
func changedPredicate(kind ChartKind) predicate.Predicate {
	_, deployment := kind.Object.(*appsv1.Deployment)
	_, daemonSet := kind.Object.(*appsv1.DaemonSet)
	keepStatus := deployment || daemonSet
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			before, after := comparableObject(e.ObjectOld, keepStatus), comparableObject(e.ObjectNew, keepStatus)
			if kind.wake != nil && kind.wake(before, after) {
				return true
			}
			if kind.ignore != nil {
				kind.ignore(before)
				kind.ignore(after)
			}
			return !equality.Semantic.DeepEqual(before, after)
		},
	}
}

// comparableObject is obj's content without its bookkeeping (resource version, managed fields) and,
// unless keepStatus, without its status.
func comparableObject(obj client.Object, keepStatus bool) map[string]any {
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
	return u
}
