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
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// The proxy count reads pods, which the cache keeps stripped to the sidecar's fields.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// observeIngresses sets IngressesConfigured and status.ingresses from the ingress-nginx controller
// workload and the Ingresses as the cluster has them, deciding about each as the controllers do.
// It returns whether the ingress-nginx controller lacks its sidecar while the integration is on.
func (r *ServiceMeshReconciler) observeIngresses(ctx context.Context, s *scope) (bool, error) {
	spec := s.mesh.Spec.IngressNginx
	view, err := newIngressView(ctx, r.Client, s.mesh)
	if err != nil {
		return false, err
	}
	// Read-only: the cache's own objects, not copies, for thousands of Ingresses on every pass.
	ingresses := &networkingv1.IngressList{}
	if err := r.List(ctx, ingresses, client.UnsafeDisableDeepCopy); err != nil {
		return false, fmt.Errorf("listing Ingresses: %w", err)
	}
	status := meshv1alpha1.IngressesStatus{}
	skipped := map[string][]string{}
	var pending []string
	for i := range ingresses.Items {
		ing := &ingresses.Items[i]
		d, err := view.decide(ctx, ing)
		if err != nil {
			return false, err
		}
		applied := d.Annotations == nil || ownsExactly(ing.Annotations, apply.OwnedKeys(ing, "annotations"), d.Annotations)
		switch {
		case !applied:
			pending = append(pending, ing.Namespace+"/"+ing.Name)
		case d.Configured:
			status.Configured++
		case d.Skipped():
			skipped[d.Reason] = append(skipped[d.Reason], ing.Namespace+"/"+ing.Name)
		}
	}
	if len(skipped) > 0 {
		status.SkippedByReason = map[string]int32{}
		for reason, list := range skipped {
			status.SkippedByReason[reason] = int32(len(list))
			status.Skipped += int32(len(list))
		}
	}
	s.status.Ingresses = status
	metrics.SetIngresses(status.Configured, status.SkippedByReason)

	if !policy.IngressNginxEnabled(spec) {
		s.setCondition(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionTrue, policy.IngressNginxDisabled,
			"The ingress-nginx integration is off (spec.ingressNginx.enabled is false)")
		return false, nil
	}
	w, err := readWorkload(ctx, r.APIReader, spec)
	if err != nil {
		return false, err
	}
	switch {
	case !w.decision.Configured:
		s.setCondition(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, w.decision.Reason, w.decision.Message)
	case !w.applied() || len(pending) > 0:
		message := fmt.Sprintf("%d Ingress(es) being configured: %s", len(pending), names(pending))
		if !w.applied() {
			message = fmt.Sprintf("the pod template of %s %s/%s is being configured", spec.Controller.Kind, spec.Controller.Namespace, spec.Controller.Name)
		}
		s.setCondition(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, message)
	case len(skipped) > 0:
		reason := meshv1alpha1.ReasonIngressesSkipped
		if len(skipped) == 1 {
			reason = slices.Collect(maps.Keys(skipped))[0]
		}
		s.setCondition(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, reason, skippedMessage(status, skipped))
	default:
		s.setCondition(meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionTrue, policy.Configured,
			fmt.Sprintf("the ingress-nginx controller has its sidecar; %d Ingress(es) route through the mesh", status.Configured))
	}
	return !w.decision.Configured || !w.applied(), nil
}

// skippedMessage says which Ingresses meshkeeper leaves unchanged, by reason.
func skippedMessage(status meshv1alpha1.IngressesStatus, skipped map[string][]string) string {
	parts := make([]string, 0, len(skipped))
	for _, reason := range slices.Sorted(maps.Keys(skipped)) {
		parts = append(parts, fmt.Sprintf("%s: %s", reason, names(skipped[reason])))
	}
	return fmt.Sprintf("%d Ingress(es) route through the mesh; %d cannot and are left unchanged (%s). "+
		"Each has a Warning Event that says what to change", status.Configured, status.Skipped, strings.Join(parts, "; "))
}

// observeProxies sets DataPlaneUpToDate and status.proxies from the pods of the enrolled namespaces. It
// returns, per namespace, the number of pods without a sidecar.
func (r *ServiceMeshReconciler) observeProxies(ctx context.Context, s *scope, enrolled sets.Set[string]) (map[string]int, error) {
	pods := &corev1.PodList{}
	if err := r.List(ctx, pods, client.UnsafeDisableDeepCopy); err != nil { // read-only, as above
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	withoutSidecar := map[string]int{}
	version := cmp.Or(s.status.Version, s.mesh.Spec.Version)
	since, err := r.meshConfigSince(ctx, s.mesh.Spec.Namespace)
	if err != nil {
		return nil, err
	}
	status := meshv1alpha1.ProxiesStatus{}
	perNamespace := map[string]int{}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if !enrolled.Has(pod.Namespace) {
			continue
		}
		state := policy.Proxy(policy.ProxyInput{Pod: pod, Version: version, Revision: s.status.Revision, MeshConfigSince: since})
		if state == policy.ProxyNotCounted {
			continue
		}
		status.Total++
		switch state {
		case policy.ProxyMissing:
			status.WithoutSidecar++
			perNamespace[pod.Namespace]++
			withoutSidecar[pod.Namespace]++
		case policy.ProxyOutdated:
			status.Outdated++
			perNamespace[pod.Namespace]++
		}
	}
	s.status.Proxies = status
	metrics.SetProxies(status.Total, status.WithoutSidecar, status.Outdated, perNamespace)

	if len(perNamespace) == 0 {
		s.setCondition(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionTrue, meshv1alpha1.ReasonProxiesUpToDate,
			fmt.Sprintf("all %d pod(s) of the enrolled namespaces run the current sidecar", status.Total))
		return withoutSidecar, nil
	}
	s.setCondition(meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded,
		fmt.Sprintf("%d pod(s) need a restart to get the current sidecar: %d without a sidecar, %d with an outdated proxy; most in %s. "+
			"Restart their workloads, for example kubectl rollout restart deployment -n <namespace>",
			status.WithoutSidecar+status.Outdated, status.WithoutSidecar, status.Outdated, worst(perNamespace)))
	return withoutSidecar, nil
}

// meshConfigName is the ConfigMap of the mesh config the istiod chart renders.
const meshConfigName = "istio"

// meshConfigSince returns when meshkeeper last changed the mesh config: the time of its entry in the
// managed fields of the istio ConfigMap, which the API server moves whenever a value meshkeeper owns
// changes. Zero when there is no mesh config yet.
func (r *ServiceMeshReconciler) meshConfigSince(ctx context.Context, namespace string) (metav1.Time, error) {
	cm := &corev1.ConfigMap{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: meshConfigName}, cm, client.UnsafeDisableDeepCopy); err != nil {
		return metav1.Time{}, client.IgnoreNotFound(err)
	}
	for _, entry := range cm.ManagedFields {
		if entry.Manager == meshv1alpha1.FieldManager && entry.Operation == metav1.ManagedFieldsOperationApply &&
			entry.Subresource == "" && entry.Time != nil {
			return *entry.Time, nil
		}
	}
	return metav1.Time{}, nil
}

// worst names up to five namespaces with the most pods needing a restart, with their counts.
func worst(perNamespace map[string]int) string {
	list := slices.SortedFunc(maps.Keys(perNamespace), func(a, b string) int {
		return cmp.Or(cmp.Compare(perNamespace[b], perNamespace[a]), cmp.Compare(a, b))
	})
	parts := make([]string, 0, 5)
	for _, ns := range list[:min(5, len(list))] {
		parts = append(parts, fmt.Sprintf("%s (%d)", ns, perNamespace[ns]))
	}
	if len(list) > 5 {
		return strings.Join(parts, ", ") + fmt.Sprintf(" and %d more namespace(s)", len(list)-5)
	}
	return strings.Join(parts, ", ")
}

// releaseDataPlane takes meshkeeper's annotations back from every Ingress and its sidecar settings
// from the ingress-nginx controller workload, before the ServiceMesh goes.
func (r *ServiceMeshReconciler) releaseDataPlane(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) error {
	ingresses := &networkingv1.IngressList{}
	if err := r.List(ctx, ingresses); err != nil {
		return fmt.Errorf("listing Ingresses: %w", err)
	}
	for i := range ingresses.Items {
		ing := &ingresses.Items[i]
		if !apply.OwnedKeys(ing, "annotations").HasAny(sets.List(ingressKeys)...) || !ing.DeletionTimestamp.IsZero() {
			continue
		}
		if err := apply.Metadata(ctx, r.Client, ing, nil, map[string]string{}); err != nil {
			return err
		}
	}
	holders := []workloadMeta{{kind: mesh.Spec.IngressNginx.Controller.Kind}}
	holders[0].meta.Namespace, holders[0].meta.Name = mesh.Spec.IngressNginx.Controller.Namespace, mesh.Spec.IngressNginx.Controller.Name
	if r.Workloads != nil {
		configured, err := configuredWorkloads(ctx, r.Workloads)
		if err != nil {
			return err
		}
		holders = append(holders, configured...)
	}
	for _, holder := range holders {
		obj, err := getWorkload(ctx, r.APIReader, holder.kind, client.ObjectKeyFromObject(&holder.meta))
		if err != nil {
			return err
		}
		if obj == nil || !holdsSidecarKeys(obj) {
			continue
		}
		if err := apply.PodTemplateMetadata(ctx, r.Client, obj, map[string]string{}, map[string]string{}); err != nil {
			return err
		}
	}
	return nil
}
