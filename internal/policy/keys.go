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

// Labels and annotations the decisions read and write.
const (
	// LabelIstioInjection on a namespace turns injection by the default revision on ("enabled") or off.
	LabelIstioInjection = "istio-injection"
	// LabelIstioRevision on a namespace selects the Istio revision that injects its pods.
	LabelIstioRevision = "istio.io/rev"
	// SidecarInject, as a pod label (or a pod annotation, which Istio also honours), asks for a sidecar
	// in a pod whose namespace is not labelled.
	SidecarInject = "sidecar.istio.io/inject"
	// LabelGatewayManaged marks the pods istiod deploys for a Gateway API Gateway (its gateway
	// controller's name as value); their istio.io/rev annotation names the revision of that istiod.
	LabelGatewayManaged = "gateway.istio.io/managed"

	// AnnotationIncludeInboundPorts: "" keeps inbound traffic away from the sidecar.
	AnnotationIncludeInboundPorts = "traffic.sidecar.istio.io/includeInboundPorts"
	// AnnotationIncludeOutboundIPRanges limits the outbound traffic the sidecar captures.
	AnnotationIncludeOutboundIPRanges = "traffic.sidecar.istio.io/includeOutboundIPRanges"
	// AnnotationProxyConfig overrides the mesh's proxy config for one pod.
	AnnotationProxyConfig = "proxy.istio.io/config"

	// AnnotationServiceUpstream makes nginx send to the Service's ClusterIP instead of the endpoints.
	AnnotationServiceUpstream = "nginx.ingress.kubernetes.io/service-upstream"
	// AnnotationUpstreamVhost sets the Host header nginx sends upstream.
	AnnotationUpstreamVhost = "nginx.ingress.kubernetes.io/upstream-vhost"
	// AnnotationIngressClass is the legacy way to name an Ingress's class, before spec.ingressClassName.
	AnnotationIngressClass = "kubernetes.io/ingress.class"
	// AnnotationCanary marks an ingress-nginx canary Ingress, which nginx merges into the main Ingress
	// of the same host and path.
	AnnotationCanary = "nginx.ingress.kubernetes.io/canary"
	// AnnotationServiceExportTo on a Service lists the namespaces Istio makes it known to, comma-separated:
	// "*" every namespace, "." the Service's own, "~" none, or namespace names.
	AnnotationServiceExportTo = "networking.istio.io/exportTo"
)

// IngressAnnotationsRead are the only annotations of an Ingress that Ingress (the decision) reads: its
// legacy class, whether it is a canary, and the two meshkeeper sets. The cache keeps no other.
var IngressAnnotationsRead = []string{AnnotationIngressClass, AnnotationCanary, AnnotationServiceUpstream, AnnotationUpstreamVhost}

// defaultRevision is the name of the Istio revision installed without a revision name.
const defaultRevision = "default"

// InjectionLabel is the namespace label that has the given Istio revision inject the namespace's pods:
// istio-injection=enabled for the default revision ("" or "default"), istio.io/rev=<revision> for any
// other.
func InjectionLabel(revision string) (key, value string) {
	if revision == "" || revision == defaultRevision {
		return LabelIstioInjection, "enabled"
	}
	return LabelIstioRevision, revision
}
