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
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
)

// The controller's sidecar captures the cluster's Service ranges, read from its ServiceCIDRs when the
// spec does not list them.
// +kubebuilder:rbac:groups=networking.k8s.io,resources=servicecidrs,verbs=get;list;watch

// serviceCIDRKind is the API that tells a cluster's Service ranges (Kubernetes 1.33 and later).
var serviceCIDRKind = networkingv1.SchemeGroupVersion.WithKind("ServiceCIDR")

// ServiceCIDRsServed tells whether the API server serves networking.k8s.io/v1 ServiceCIDR, as the
// mapper's discovery found it.
func ServiceCIDRsServed(mapper meta.RESTMapper) (bool, error) {
	_, err := mapper.RESTMapping(serviceCIDRKind.GroupKind(), serviceCIDRKind.Version)
	switch {
	case err == nil:
		return true, nil
	case meta.IsNoMatchError(err):
		return false, nil
	default:
		return false, fmt.Errorf("looking up the ServiceCIDR API: %w", err)
	}
}

// WithServiceCIDRs returns spec with the Service ranges the controller's sidecar captures: the spec's
// own when it lists them, else those of the cluster's Ready ServiceCIDRs, read through reader. When
// neither tells them, the error is the terminal ServiceCIDRsUnknown failure: nothing of the integration
// may be applied without them.
func WithServiceCIDRs(ctx context.Context, reader client.Reader, spec meshv1alpha1.IngressNginxSpec) (meshv1alpha1.IngressNginxSpec, error) {
	if len(spec.ServiceCIDRs) > 0 {
		return spec, nil
	}
	list := &networkingv1.ServiceCIDRList{}
	served := true
	if err := reader.List(ctx, list); meta.IsNoMatchError(err) {
		served = false
	} else if err != nil {
		return spec, fmt.Errorf("listing ServiceCIDRs: %w", err)
	}
	cidrs, message := ServiceCIDRs(served, list.Items)
	if len(cidrs) == 0 {
		return spec, meshctx.Terminal(meshv1alpha1.ReasonServiceCIDRsUnknown, errors.New(message))
	}
	spec.ServiceCIDRs = cidrs
	return spec, nil
}

// ServiceCIDRs returns the ranges of the ServiceCIDRs among items that are Ready or being deleted (see
// counts), IPv4 before IPv6, each once,
// in a stable order (a changed order would be a changed annotation, and a rollout of the controller).
// When there are none, message says why and what to do.
func ServiceCIDRs(served bool, items []networkingv1.ServiceCIDR) (cidrs []string, message string) {
	if !served {
		return nil, "spec.ingressNginx.serviceCIDRs is unset and the cluster does not serve the ServiceCIDR API " +
			"(networking.k8s.io/v1, Kubernetes 1.33 and later) that tells its Service ranges: set spec.ingressNginx.serviceCIDRs " +
			"to the API server's --service-cluster-ip-range. meshkeeper configures neither the ingress-nginx controller nor any Ingress until then"
	}
	var prefixes []netip.Prefix
	for i := range items {
		if !counts(&items[i]) {
			continue
		}
		for _, cidr := range items[i].Spec.CIDRs {
			// The API server validates them; one it did not is no range to capture.
			if p, err := netip.ParsePrefix(cidr); err == nil {
				prefixes = append(prefixes, p.Masked())
			}
		}
	}
	if len(prefixes) == 0 {
		return nil, "spec.ingressNginx.serviceCIDRs is unset and the cluster has no Ready ServiceCIDR that tells its Service ranges: " +
			"set spec.ingressNginx.serviceCIDRs to the API server's --service-cluster-ip-range. " +
			"meshkeeper configures neither the ingress-nginx controller nor any Ingress until then"
	}
	slices.SortFunc(prefixes, func(a, b netip.Prefix) int {
		if c := a.Addr().Compare(b.Addr()); c != 0 {
			return c
		}
		return a.Bits() - b.Bits()
	})
	for _, p := range slices.Compact(prefixes) {
		cidrs = append(cidrs, p.String())
	}
	return cidrs, ""
}

// counts tells whether a ServiceCIDR's ranges may hold ClusterIPs: the API server allocates them from
// a Ready one, and it keeps one that is being deleted (Ready False, reason Terminating) for as long as
// Services hold addresses of it that no other ServiceCIDR covers. Their traffic must stay captured
// until it is gone.
func counts(s *networkingv1.ServiceCIDR) bool {
	return !s.DeletionTimestamp.IsZero() || meta.IsStatusConditionTrue(s.Status.Conditions, networkingv1.ServiceCIDRConditionReady)
}

// serviceCIDRChanged passes ServiceCIDR updates that change the ranges that count.
var serviceCIDRChanged = predicate.TypedFuncs[*networkingv1.ServiceCIDR]{
	UpdateFunc: func(e event.TypedUpdateEvent[*networkingv1.ServiceCIDR]) bool {
		return counts(e.ObjectOld) != counts(e.ObjectNew) || !slices.Equal(e.ObjectOld.Spec.CIDRs, e.ObjectNew.Spec.CIDRs)
	},
}

// ServiceCIDRSource returns a watch of the cluster's ServiceCIDRs whose range changes go to h, or nil
// on a cluster that does not serve them: a watch of a kind the API server does not serve would keep
// the manager from starting.
func ServiceCIDRSource(mgr ctrl.Manager, h handler.TypedEventHandler[*networkingv1.ServiceCIDR, reconcile.Request]) (source.Source, error) {
	served, err := ServiceCIDRsServed(mgr.GetRESTMapper())
	if err != nil || !served {
		return nil, err
	}
	return source.Kind(mgr.GetCache(), &networkingv1.ServiceCIDR{}, h, serviceCIDRChanged), nil
}
