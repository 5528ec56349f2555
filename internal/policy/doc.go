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

// Package policy decides, without a client, what meshkeeper does with the objects of the data plane
// enrollment: a Namespace, the ingress-nginx controller's pod template, an Ingress. Each decision
// takes plain API objects, returns the labels or annotations meshkeeper should own on the object and
// a reason (a constant of this package) with a message for the object's owner. The controllers apply
// what a decision returns with server-side apply under the field manager "meshkeeper", as the whole
// of what meshkeeper owns there, so a key left out is removed again; and they count the reasons for
// status. A decision is a list of checks tried in order; the first that matches gives the reason, so
// the order of the list is the precedence of the rules.
//
// Ownership is an input. The caller reads from the object's managedFields which label or annotation
// keys meshkeeper's field manager owns and passes them as a set of keys. A key in that set is
// meshkeeper's to change; any other key was set by someone else and is never overwritten.
//
// # Namespaces (Enrollment)
//
// In order:
//   - A namespace being deleted: Terminating, nothing to write (Labels is nil).
//   - kube-system, kube-public, kube-node-lease, local-path-storage (those Istio's injector never
//     injects): SystemNamespace; the control-plane namespace
//     (spec.namespace): ControlPlaneNamespace. Never enrolled, even when listed or selected, and
//     reported so even when nothing selects them, because that is why they can never be enrolled.
//   - Neither listed in spec.injection.namespaces nor matched by spec.injection.namespaceSelector:
//     NotSelected. A namespace both listed and selected is reported as Listed.
//   - An injection label meshkeeper does not own and would have to change: istio-injection with any
//     other value than meshkeeper's, or istio.io/rev with any value (its owner chose a revision):
//     InjectionLabelConflict. The namespace is not enrolled, and meshkeeper withdraws its own
//     injection label if it has one, so that the owner's choice takes effect.
//   - Otherwise enrolled (Listed or SelectorMatched) with InjectionLabel(revision):
//     istio-injection=enabled for the default revision, istio.io/rev=<revision> for another.
//
// Where the issue was silent:
//   - Ownership is a set of label keys, not one boolean: when meshkeeper moves to a named revision,
//     its old istio-injection label must read as its own while the istio.io/rev label a user added
//     must not.
//   - A label the owner set to exactly meshkeeper's value is no conflict, and meshkeeper does not
//     take it over: the namespace is enrolled, Labels is empty, and the label stays the owner's to
//     remove.
//   - The selector sees only the labels meshkeeper does not own, so meshkeeper's own label can never
//     keep a namespace selected after its owner removed the label that made it match.
//   - A namespaceSelector of {} selects every namespace, as everywhere in Kubernetes; no selector
//     selects none. An invalid selector is an error of NewEnrollment, since it is a fault of the
//     spec, not of any namespace.
//
// # The ingress-nginx controller (IngressNginxPodTemplate)
//
// meshkeeper puts on the pod template the label sidecar.istio.io/inject=true and the annotations
// includeInboundPorts="" (inbound traffic stays with nginx), includeOutboundIPRanges=<serviceCIDRs
// joined by ","> (only traffic to Services goes through the sidecar) and proxy.istio.io/config with
// holdApplicationUntilProxyStarts (nginx starts once its sidecar can route). In order:
// IngressNginxDisabled, ControllerNotFound (the caller passes a nil template), CustomAnnotationsPrefix
// (the controller runs with --annotations-prefix set to another prefix than nginx.ingress.kubernetes.io,
// and would not read meshkeeper's Ingress annotations), HostNetwork,
// NamespaceNeverInjected (a namespace Istio's injector never injects, kube-system among them),
// NamespaceInjectionDisabled, PodSecurityRejectsSidecar, CNIExcludesNamespace, then AnnotationConflict; each of these owns nothing, so meshkeeper's earlier settings are removed.
//
// Where the issue was silent:
//   - The keys are all or nothing. A sidecar with one of them at a user's value is one meshkeeper
//     cannot vouch for (includeInboundPorts="*" would put the sidecar in front of nginx's clients),
//     so on any conflict meshkeeper sets none and names every conflicting key.
//   - A sidecar.istio.io/inject annotation other than "true" counts as a conflict although
//     meshkeeper never sets that annotation: it says the owner wants no sidecar, and meshkeeper's
//     label would override it.
//   - hostNetwork is read from the template's spec. Values compare as exact strings.
//
// # Ingresses (Ingress)
//
// The class is spec.ingressClassName, else the kubernetes.io/ingress.class annotation, as ingress-nginx
// reads it, the annotation served only when it is the controller's --ingress-class, whatever the
// classes listed (ClassSelection.ServesAnnotation); an Ingress with neither is served only by a controller that runs with
// --watch-ingress-without-class=true (WatchesIngressesWithoutClass), whatever the cluster's default
// IngressClass, which ingress-nginx never reads. A mesh Ingress gets
// nginx.ingress.kubernetes.io/service-upstream="true" and nginx.ingress.kubernetes.io/upstream-vhost="<service>.<namespace>.svc", where service is the one
// distinct backend Service across spec.defaultBackend and every path of every rule; hosts, paths,
// TLS and the port (by name or number) do not matter to the Ingress on its own. In order: Terminating (the Ingress or its
// namespace is being deleted: nothing to write), IngressNginxDisabled, ClassNotServed (also for an Ingress
// of a namespace the controller does not watch, by its --watch-namespace or --watch-namespace-selector:
// NamespaceScope.Watches; ClassNotListed,
// a skip, for a class not listed that the controller serves all the same, in an enrolled namespace:
// ClassSelection.Serves), NamespaceNotEnrolled (nothing to write either while pods of the namespace, which left the mesh,
// still run a sidecar and the Ingress holds meshkeeper's annotations: KeptForSidecars),
// ControllerWithoutSidecar (the decision about the controller workload is not
// Configured: without its sidecar, nginx would send plaintext to the ClusterIP), CanaryIngress, NoBackend,
// ResourceBackend, MultipleBackendServices, ServiceMissing, ServiceExternalName, ServiceHeadless,
// ServiceNotCaptured, ServiceNotExported (Istio does not export the Service to the controller's
// namespace: its networking.istio.io/exportTo annotation, else the mesh's
// meshConfig.defaultServiceExportTo), AnnotationConflict, else Configured. IngressDecision.Skipped tells the mesh Ingresses meshkeeper could not configure
// from those outside the mesh (Terminating, IngressNginxDisabled, ClassNotServed,
// NamespaceNotEnrolled), for status.ingresses.skipped.
//
// An Ingress decided Configured so, on its own, is held back with SharedUpstream while it shares an
// upstream of ingress-nginx (a Service port of its namespace, IngressUpstreams) with a mesh Ingress
// decided Skipped, directly or through other Ingresses decided Configured (UpstreamGroup): the oldest
// Ingress naming an upstream decides its service-upstream for all of them, so they are configured all
// or none. The controllers decide each Ingress with its group.
//
// Where the issue was silent:
//   - The two annotations are all or nothing, so MultipleBackendServices leaves service-upstream off
//     too, although every Service may have a ClusterIP. Without upstream-vhost nginx sends the
//     client's Host, which names no mesh Service, so the sidecar passes the request through
//     unmeshed, and nginx has still lost its per-endpoint balancing (sticky sessions, retrying
//     another endpoint).
//     Likewise upstream-vhost alone would change the Host the pods see while nginx still bypasses
//     the sidecar. For the same reason a conflict on either annotation keeps the owner's value and
//     sets neither.
//   - An annotation the owner set to exactly meshkeeper's value is no conflict and is not taken
//     over: meshkeeper owns only the other one, and the Ingress counts as Configured.
//   - A disabled integration removes meshkeeper's annotations from every Ingress: without the
//     controller's sidecar they would only change how nginx reaches the Service.
//   - A resource backend is reported before a fan-out, and a fan-out before the state of its
//     Services: the message then asks for the change that is needed in any case first.
//   - A nil Service lookup finds no Service.
//
// ProxyPod, the cached pod, embeds an ObjectMeta but is no API type: the package is left out of the
// generated CRDs.
//
// +kubebuilder:skip
package policy
