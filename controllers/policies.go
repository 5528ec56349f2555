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
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// observeDataPlane sets the conditions that come from the data plane: IngressesConfigured,
// DataPlaneUpToDate, PoliciesApplied and MTLSReady.
func (r *ServiceMeshReconciler) observeDataPlane(ctx context.Context, s *scope, enrolled sets.Set[string]) error {
	controllerWithoutSidecar, err := r.observeIngresses(ctx, s)
	if err != nil {
		return err
	}
	withoutSidecar, err := r.observeProxies(ctx, s, enrolled)
	if err != nil {
		return err
	}
	if err := r.observePolicies(ctx, s, enrolled); err != nil {
		return err
	}
	r.observeMTLS(s, enrolled, withoutSidecar, controllerWithoutSidecar)
	return nil
}

// observePolicies sets PoliciesApplied from the policy objects as the cluster has them (their metadata,
// from the cache).
func (r *ServiceMeshReconciler) observePolicies(ctx context.Context, s *scope, enrolled sets.Set[string]) error {
	spec := &s.mesh.Spec
	if r.policyWatches != nil && !r.policyWatches.ensure(ctx) {
		s.setCondition(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonIstioCRDsMissing,
			"the API server does not serve PeerAuthentication and Sidecar yet; their CRDs come with the istio-base chart")
		return nil
	}
	wanted := map[schema.GroupVersionKind]sets.Set[string]{
		render.PeerAuthenticationKind: sets.New[string](),
		render.SidecarKind:            sets.New[string](),
	}
	// PeerAuthentications go to the control-plane namespace and the namespaces spec.mtls lists, once
	// they exist (as the policy controller writes them).
	for _, name := range append([]string{spec.Namespace}, slices.Collect(maps.Keys(spec.MTLS.Namespaces))...) {
		ns := &corev1.Namespace{}
		err := r.Get(ctx, client.ObjectKey{Name: name}, ns, client.UnsafeDisableDeepCopy)
		switch {
		case apierrors.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("reading namespace %s: %w", name, err)
		case ns.DeletionTimestamp.IsZero():
			wanted[render.PeerAuthenticationKind].Insert(name)
		}
	}
	if ptr.Deref(spec.SidecarScoping.Enabled, false) {
		wanted[render.SidecarKind] = enrolled.Clone()
	}

	var conflicts, pending []string
	applied := 0
	for _, gvk := range policyKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list); err != nil {
			return fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
		found := sets.New[string]()
		for _, item := range list.Items {
			if item.Name != render.PolicyName {
				continue
			}
			name := gvk.Kind + " " + item.Namespace + "/" + item.Name
			ours := generatedByMeshkeeper(&item)
			found.Insert(item.Namespace)
			switch {
			case wanted[gvk].Has(item.Namespace) && !ours:
				conflicts = append(conflicts, name)
			case wanted[gvk].Has(item.Namespace):
				applied++
			case ours:
				pending = append(pending, name+" (to remove)")
			}
		}
		for _, ns := range sets.List(wanted[gvk].Difference(found)) {
			pending = append(pending, gvk.Kind+" "+ns+"/"+render.PolicyName)
		}
	}
	switch {
	case len(conflicts) > 0:
		s.setCondition(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonPolicyConflict,
			fmt.Sprintf("%d policy object(s) named default were not written by meshkeeper and are left as they are: %s; "+
				"delete or rename them to let meshkeeper manage those namespaces", len(conflicts), names(conflicts)))
	case len(pending) > 0:
		s.setCondition(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			fmt.Sprintf("%d policy object(s) being written: %s", len(pending), names(pending)))
	default:
		s.setCondition(meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionTrue, meshv1alpha1.ReasonPoliciesApplied,
			fmt.Sprintf("%d PeerAuthentication(s) and Sidecar(s) in place", applied))
	}
	return nil
}

// observeMTLS sets MTLSReady: under STRICT mTLS, a pod without a sidecar (or the ingress-nginx
// controller without one) sends plaintext that its servers reject. The policy stays as asked.
func (r *ServiceMeshReconciler) observeMTLS(s *scope, enrolled sets.Set[string], withoutSidecar map[string]int, controllerWithoutSidecar bool) {
	spec := &s.mesh.Spec
	var risky []string
	strictSomewhere := render.MTLSMode(spec, "") == meshv1alpha1.MTLSStrict
	for _, ns := range sets.List(enrolled) {
		if render.MTLSMode(spec, ns) != meshv1alpha1.MTLSStrict {
			continue
		}
		strictSomewhere = true
		if n := withoutSidecar[ns]; n > 0 {
			risky = append(risky, fmt.Sprintf("%s (%d pod(s))", ns, n))
		}
	}
	for _, mode := range spec.MTLS.Namespaces {
		strictSomewhere = strictSomewhere || mode == meshv1alpha1.MTLSStrict
	}
	var problems []string
	if len(risky) > 0 {
		problems = append(problems, fmt.Sprintf("namespaces under STRICT mTLS have pods without a sidecar, whose plaintext requests "+
			"to mesh services are rejected: %s; restart them to inject the sidecar (kubectl rollout restart deployment -n <namespace>)", names(risky)))
	}
	if controllerWithoutSidecar && strictSomewhere {
		c := spec.IngressNginx.Controller
		problems = append(problems, fmt.Sprintf("the ingress-nginx controller %s %s/%s runs without its sidecar, so its requests to "+
			"services under STRICT mTLS are rejected (see IngressesConfigured)", c.Kind, c.Namespace, c.Name))
	}
	if len(problems) == 0 {
		s.setCondition(meshv1alpha1.ConditionMTLSReady, metav1.ConditionTrue, meshv1alpha1.ReasonNoPlaintextClients,
			"no client that STRICT mTLS would reject: every pod of a STRICT namespace has a sidecar")
		r.reportMTLS(s.mesh, "")
		return
	}
	slices.Sort(problems)
	message := "STRICT mTLS is applied as asked, but " + strings.Join(problems, "; and ")
	s.setCondition(meshv1alpha1.ConditionMTLSReady, metav1.ConditionFalse, meshv1alpha1.ReasonPlaintextClients, message)
	r.reportMTLS(s.mesh, message)
}

// reportMTLS emits a Warning on the ServiceMesh when the mTLS risk appears or changes.
func (r *ServiceMeshReconciler) reportMTLS(mesh *meshv1alpha1.ServiceMesh, message string) {
	if message == "" {
		r.reportedMTLS.forget("mtls")
		return
	}
	if !r.reportedMTLS.changed("mtls", message) {
		return
	}
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonPlaintextClients, "CheckMTLS", "%s", message)
}

// deletePolicies deletes every policy object meshkeeper generated, before the ServiceMesh goes.
func (r *ServiceMeshReconciler) deletePolicies(ctx context.Context) error {
	for _, gvk := range policyKinds {
		if _, err := r.RESTMapper().RESTMapping(gvk.GroupKind(), gvk.Version); meta.IsNoMatchError(err) {
			continue
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.APIReader.List(ctx, list, client.MatchingLabelsSelector{Selector: managedBySelector}); err != nil {
			return fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
		for i := range list.Items {
			item := &list.Items[i]
			if item.Name != render.PolicyName {
				continue
			}
			if err := r.Delete(ctx, item, client.Preconditions{UID: ptr.To(item.UID)}); client.IgnoreNotFound(err) != nil {
				return fmt.Errorf("deleting %s %s/%s: %w", gvk.Kind, item.Namespace, item.Name, err)
			}
		}
	}
	return nil
}
