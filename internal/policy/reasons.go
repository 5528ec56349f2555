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

package policy

// Reasons of the decisions in this package. They are API: the controllers put them in conditions and
// in status counts (status.ingresses.skippedByReason), and alerts match on them.
const (
	// Listed: the namespace is named in spec.injection.namespaces.
	Listed = "Listed"
	// SelectorMatched: the namespace's labels match spec.injection.namespaceSelector.
	SelectorMatched = "SelectorMatched"
	// NotSelected: the namespace is neither listed nor matched by the selector.
	NotSelected = "NotSelected"
	// SystemNamespace: kube-system, kube-public and kube-node-lease are never injected.
	SystemNamespace = "SystemNamespace"
	// ControlPlaneNamespace: istiod's own namespace (spec.namespace) is never injected.
	ControlPlaneNamespace = "ControlPlaneNamespace"
	// InjectionLabelConflict: the namespace carries an injection label meshkeeper did not set and would
	// have to change; meshkeeper leaves it alone.
	InjectionLabelConflict = "InjectionLabelConflict"
	// Terminating: the object is being deleted; there is nothing to write.
	Terminating = "Terminating"

	// Configured: the object carries everything the mesh needs from meshkeeper.
	Configured = "Configured"
	// IngressNginxDisabled: spec.ingressNginx.enabled is false, so meshkeeper configures neither the
	// controller nor any Ingress, and removes what it wrote before.
	IngressNginxDisabled = "IngressNginxDisabled"
	// ControllerNotFound: the workload named by spec.ingressNginx.controller does not exist.
	ControllerNotFound = "ControllerNotFound"
	// HostNetwork: the ingress-nginx controller runs in the node's network namespace, where a sidecar
	// cannot be added.
	HostNetwork = "HostNetwork"
	// AnnotationConflict: a label or annotation meshkeeper would set already has another value that
	// meshkeeper did not set; meshkeeper keeps it and sets none of its own on that object.
	AnnotationConflict = "AnnotationConflict"

	// ClassNotServed: the Ingress belongs to a class the mesh's ingress-nginx controller does not serve.
	ClassNotServed = "ClassNotServed"
	// NamespaceNotEnrolled: the Ingress's namespace is not in the mesh.
	NamespaceNotEnrolled = "NamespaceNotEnrolled"
	// NoBackend: the Ingress names no backend at all.
	NoBackend = "NoBackend"
	// ResourceBackend: a backend of the Ingress is a resource reference, not a Service.
	ResourceBackend = "ResourceBackend"
	// MultipleBackendServices: the Ingress sends to more than one Service, and upstream-vhost can name
	// only one.
	MultipleBackendServices = "MultipleBackendServices"
	// ServiceMissing: the backend Service does not exist.
	ServiceMissing = "ServiceMissing"
	// ServiceExternalName: the backend Service is of type ExternalName and has no ClusterIP.
	ServiceExternalName = "ServiceExternalName"
	// ServiceHeadless: the backend Service is headless (clusterIP: None).
	ServiceHeadless = "ServiceHeadless"
)
