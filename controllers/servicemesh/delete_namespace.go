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
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// resourceDiscovery is what the look into a namespace needs of discovery: every resource the API
// server serves, each in the version the server prefers. The discovery client SetupWithManager makes
// for the revision phase is one.
type resourceDiscovery interface {
	ServerPreferredResources() ([]*metav1.APIResourceList, error)
}

// leftPage is how many objects one list of a resource asks for. The lists of a resource stop at the
// first page that holds an object which keeps the namespace, so a resource with nothing in the
// namespace, or with anything of a user's in it, costs one small metadata-only request.
const leftPage = 20

// ignoredResources are the namespaced resources whose objects never keep a namespace: what the cluster
// records about other objects (Events, and a Service's Endpoints and EndpointSlices, which do nothing
// without their Service, itself looked for), and leader-election Leases, istiod's among them.
var ignoredResources = sets.New(
	schema.GroupResource{Resource: "events"},
	schema.GroupResource{Group: "events.k8s.io", Resource: "events"},
	schema.GroupResource{Resource: "endpoints"},
	schema.GroupResource{Group: "discovery.k8s.io", Resource: "endpointslices"},
	schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"},
)

// ignoredGroups are the API groups whose objects are figures computed from other objects (the metrics
// APIs that metrics-server and metrics adapters serve): they hold nothing of anyone's, and an adapter
// that does not answer does not keep a namespace.
var ignoredGroups = sets.New("metrics.k8s.io", "custom.metrics.k8s.io", "external.metrics.k8s.io")

// leftover is what keeps a namespace after the uninstall: the objects left in it, as "Kind/name"
// ("Kind.group/name" outside the core group), and the resources it could not be looked into for, which
// may hold objects of a user's as well.
type leftover struct {
	objects, unchecked []string
}

// empty tells whether nothing keeps the namespace.
func (l leftover) empty() bool {
	return len(l.objects) == 0 && len(l.unchecked) == 0
}

// String says what keeps the namespace, naming at most five objects and five resources.
func (l leftover) String() string {
	var reasons []string
	if len(l.objects) > 0 {
		reasons = append(reasons, "it still holds "+describeKept(l.objects))
	}
	if len(l.unchecked) > 0 {
		reasons = append(reasons, "meshkeeper could not look in it for "+describeKept(l.unchecked)+
			" (it may not list them, or their API did not answer)")
	}
	return strings.Join(reasons, ", and ")
}

// leftInNamespace finds what is left in the namespace after the uninstall, in every namespaced resource
// the API server serves and lists: a person may have put anything there (a mesh-wide
// AuthorizationPolicy or Telemetry, a Role, a NetworkPolicy, a PersistentVolumeClaim), and deleting the
// namespace deletes it all. What the cluster or istiod keeps in every namespace (clusterKept), what it
// records about other objects (ignoredResources, ignoredGroups), and what the garbage collector deletes
// with its owner (goesWithOwner) do not count. A resource meshkeeper may not list, or whose API does not
// answer, may hold anything: it is named in unchecked, and keeps the namespace too.
func (r *Reconciler) leftInNamespace(ctx context.Context, meshUID types.UID, namespace string) (leftover, error) {
	var left leftover
	d, ok := r.revisionState.discovery.(resourceDiscovery)
	if !ok {
		left.unchecked = append(left.unchecked, "any kind (no discovery client)")
		return left, nil
	}
	lists, err := d.ServerPreferredResources()
	if err != nil {
		// The groups that did answer are in lists; those that did not may hold anything.
		var failed *discovery.ErrGroupDiscoveryFailed
		if !errors.As(err, &failed) {
			return left, fmt.Errorf("discovering the kinds that may be left in namespace %s: %w", namespace, err)
		}
		for gv := range failed.Groups {
			if !ignoredGroups.Has(gv.Group) {
				left.unchecked = append(left.unchecked, "the kinds of "+gv.String())
			}
		}
		slices.Sort(left.unchecked)
	}
	resources, owners := namespacedResources(lists)
	for _, resource := range resources {
		objects, err := r.leftOf(ctx, resource.kind, namespace, meshUID, owners)
		switch {
		case err == nil:
			left.objects = append(left.objects, objects...)
		case apierrors.IsNotFound(err):
			// No longer served (its CRD was deleted meanwhile): nothing of it is left.
		case uncheckable(err):
			left.unchecked = append(left.unchecked, resourceName(resource.resource))
		default:
			return left, fmt.Errorf("listing %s left in namespace %s: %w", resourceName(resource.resource), namespace, err)
		}
	}
	return left, nil
}

// servedResource is a namespaced resource that may hold something, and its kind.
type servedResource struct {
	resource schema.GroupVersionResource
	kind     schema.GroupVersionKind
}

// namespacedResources picks from discovery's lists the namespaced resources to look into (those that
// can be listed, but for subresources, ignoredResources and ignoredGroups), and their kinds: an object
// of one of those kinds is looked at in its own resource, so its dependents need not be.
func namespacedResources(lists []*metav1.APIResourceList) ([]servedResource, sets.Set[schema.GroupKind]) {
	var resources []servedResource
	owners := sets.New[schema.GroupKind]()
	for _, list := range lists {
		if list == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil || ignoredGroups.Has(gv.Group) {
			continue
		}
		for _, res := range list.APIResources {
			if !res.Namespaced || strings.Contains(res.Name, "/") || ignoredResources.Has(gv.WithResource(res.Name).GroupResource()) {
				continue
			}
			if !slices.Contains(res.Verbs, "list") {
				continue
			}
			owners.Insert(schema.GroupKind{Group: gv.Group, Kind: res.Kind})
			resources = append(resources, servedResource{resource: gv.WithResource(res.Name), kind: gv.WithKind(res.Kind)})
		}
	}
	return resources, owners
}

// leftOf lists the objects of one kind in the namespace, metadata only, a page at a time, and names
// those that keep it; it stops at the first page that holds any.
func (r *Reconciler) leftOf(ctx context.Context, gvk schema.GroupVersionKind, namespace string, meshUID types.UID, owners sets.Set[schema.GroupKind]) ([]string, error) {
	var left []string
	list := &metav1.PartialObjectMetadataList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	for page := ""; ; page = list.Continue {
		if err := r.APIReader.List(ctx, list, client.InNamespace(namespace), client.Limit(leftPage), client.Continue(page)); err != nil {
			return nil, err
		}
		for i := range list.Items {
			obj := &list.Items[i]
			if clusterKept(gvk.GroupKind(), obj) || goesWithOwner(obj, meshUID, owners) {
				continue
			}
			left = append(left, objectName(gvk.GroupKind(), obj.Name))
		}
		if len(left) > 0 || list.Continue == "" {
			return left, nil
		}
	}
}

// goesWithOwner tells whether the garbage collector deletes the object once its owners are gone, and
// every owner is looked at by itself: one in the namespace (a Pod's ReplicaSet, a ReplicaSet's
// Deployment, a ControllerRevision's DaemonSet) keeps the namespace if it is still there and not on its
// way out, and the ServiceMesh being deleted takes its dependents with it. What istiod's Deployment left
// while the garbage collector deletes it does not keep the namespace, and neither does anything else
// whose owner is gone; an owner elsewhere (another cluster-scoped object) may stay, and so may its
// dependent.
func goesWithOwner(obj *metav1.PartialObjectMetadata, meshUID types.UID, owners sets.Set[schema.GroupKind]) bool {
	if len(obj.OwnerReferences) == 0 {
		return false
	}
	for _, ref := range obj.OwnerReferences {
		if ref.UID == meshUID {
			continue
		}
		gv, err := schema.ParseGroupVersion(ref.APIVersion)
		if err != nil {
			return false
		}
		gk := gv.WithKind(ref.Kind).GroupKind()
		if !owners.Has(gk) || inEveryNamespace(gk, ref.Name) {
			return false
		}
	}
	return true
}

// uncheckable tells whether a list failed in a way that leaves unknown what the resource holds, and
// that retrying does not mend: meshkeeper may not list it, or its API (an aggregated one) does not
// serve it as discovery said.
func uncheckable(err error) bool {
	return apierrors.IsForbidden(err) || apierrors.IsMethodNotSupported(err) || apierrors.IsServiceUnavailable(err) ||
		meta.IsNoMatchError(err) || meta.IsAmbiguousError(err)
}

// objectName is how an Event names an object: Kind/name, with the kind's group outside the core group.
func objectName(gk schema.GroupKind, name string) string {
	if gk.Group == "" {
		return gk.Kind + "/" + name
	}
	return gk.Kind + "." + gk.Group + "/" + name
}

// resourceName is how an Event names a resource, as RBAC rules and kubectl do: resource.group.
func resourceName(gvr schema.GroupVersionResource) string {
	if gvr.Group == "" {
		return gvr.Resource
	}
	return gvr.Resource + "." + gvr.Group
}
