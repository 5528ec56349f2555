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

package render

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// The Istio kinds meshkeeper generates, and the name of each: Istio applies a namespace's
// PeerAuthentication and Sidecar named "default" without a selector to the whole namespace, and the
// PeerAuthentication "default" of the root namespace to the whole mesh.
var (
	PeerAuthenticationKind = schema.GroupVersionKind{Group: "security.istio.io", Version: "v1", Kind: "PeerAuthentication"}
	SidecarKind            = schema.GroupVersionKind{Group: "networking.istio.io", Version: "v1", Kind: "Sidecar"}
)

// PolicyKinds are the kinds of the policy objects meshkeeper generates.
var PolicyKinds = []schema.GroupVersionKind{PeerAuthenticationKind, SidecarKind}

// PolicyName is the name of every policy object meshkeeper generates.
const PolicyName = "default"

// EgressHostsAnnotation is the Namespace annotation through which a namespace's owner adds egress hosts
// to its Sidecar: comma-separated "namespace/dnsName" entries.
const EgressHostsAnnotation = "mesh.meshkeeper.io/egress-hosts"

// Policies returns the policy objects meshkeeper wants in a namespace, by kind, labelled as
// meshkeeper's and owned by the ServiceMesh, and the malformed entries of the namespace's egress-hosts
// annotation. It is the one answer to "who gets a policy": the policy controller writes what it
// returns, and the ServiceMesh's PoliciesApplied reports against it. The namespace gets a
// PeerAuthentication when it is the control-plane namespace or spec.mtls.namespaces lists it, and,
// with Sidecar scoping on, a Sidecar when the enrollment decision enrolls it (enrolled): the scoped one
// (Sidecar), or, in the ingress-nginx controller's namespace while the integration is on, one that
// reaches every namespace (IngressNginxSidecar). root is the mesh-wide default Sidecar of Istio's root
// namespace, which the namespace's Sidecar takes the place of; nil when there is none. Without a
// ServiceMesh, with one being deleted, and in a namespace being deleted, it wants none.
func Policies(mesh *meshv1alpha1.ServiceMesh, ns *corev1.Namespace, enrolled bool, root *MeshSidecar) (map[schema.GroupVersionKind]*unstructured.Unstructured, []string) {
	desired := map[schema.GroupVersionKind]*unstructured.Unstructured{}
	if mesh == nil || !mesh.DeletionTimestamp.IsZero() || !ns.DeletionTimestamp.IsZero() {
		return desired, nil
	}
	spec := &mesh.Spec
	if WantsPeerAuthentication(spec, ns.Name) {
		desired[PeerAuthenticationKind] = PeerAuthentication(ns.Name, MTLSMode(spec, ns.Name))
	}
	var malformed []string
	if ptr.Deref(spec.SidecarScoping.Enabled, false) && enrolled {
		var hosts []string
		hosts, malformed = EgressHosts(ns.Annotations[EgressHostsAnnotation])
		if IngressNginxNamespace(spec, ns.Name) {
			desired[SidecarKind] = IngressNginxSidecar(spec, ns.Name, root)
		} else {
			desired[SidecarKind] = Sidecar(spec, ns.Name, hosts, root)
		}
	}
	for _, obj := range desired {
		obj.SetLabels(map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue})
		obj.SetOwnerReferences([]metav1.OwnerReference{*metav1.NewControllerRef(mesh, meshv1alpha1.GroupVersion.WithKind("ServiceMesh"))})
	}
	return desired, malformed
}

// PeerAuthentication is the namespace-wide PeerAuthentication "default" with the given mode. In the
// control-plane (root) namespace it is the mesh-wide default.
func PeerAuthentication(namespace string, mode meshv1alpha1.MTLSMode) *unstructured.Unstructured {
	u := newObject(PeerAuthenticationKind, namespace)
	u.Object["spec"] = map[string]any{"mtls": map[string]any{"mode": string(mode)}}
	return u
}

// MTLSMode returns the mTLS mode in effect in a namespace: its override in spec.mtls.namespaces, else
// the mesh-wide mode. The control-plane namespace has the mesh-wide mode whatever spec.mtls.namespaces
// says (the CRD refuses such an entry; a ServiceMesh stored before it may still have one): its
// PeerAuthentication is the mesh-wide default, and an override there would change the mode of every
// namespace without an override of its own.
func MTLSMode(spec *meshv1alpha1.ServiceMeshSpec, namespace string) meshv1alpha1.MTLSMode {
	if mode, ok := spec.MTLS.Namespaces[namespace]; ok && namespace != spec.Namespace {
		return mode
	}
	if spec.MTLS.Mode == "" {
		return meshv1alpha1.MTLSPermissive
	}
	return spec.MTLS.Mode
}

// WantsPeerAuthentication tells whether a namespace gets a PeerAuthentication from meshkeeper: the
// control-plane namespace (the mesh-wide default) and every namespace listed in spec.mtls.namespaces.
func WantsPeerAuthentication(spec *meshv1alpha1.ServiceMeshSpec, namespace string) bool {
	_, listed := spec.MTLS.Namespaces[namespace]
	return namespace == spec.Namespace || listed
}

// Sidecar is the namespace-wide Sidecar "default" of an enrolled namespace other than the ingress-nginx
// controller's (IngressNginxSidecar): egress to its own namespace, the control plane,
// spec.sidecarScoping.egressHosts, the egress hosts of the mesh-wide default Sidecar root (nil when
// there is none) and the namespace's own hosts, in that order, without duplicates.
func Sidecar(spec *meshv1alpha1.ServiceMeshSpec, namespace string, namespaceHosts []string, root *MeshSidecar) *unstructured.Unstructured {
	seen := sets.New[string]()
	hosts := []any{}
	var rootHosts []string
	if root != nil {
		rootHosts = root.Hosts
	}
	for _, list := range [][]string{{"./*", spec.Namespace + "/*"}, spec.SidecarScoping.EgressHosts, rootHosts, namespaceHosts} {
		for _, host := range list {
			if !seen.Has(host) {
				seen.Insert(host)
				hosts = append(hosts, host)
			}
		}
	}
	return sidecar(spec, namespace, hosts, root)
}

// IngressNginxNamespace tells whether namespace is the one of the ingress-nginx controller while
// spec.ingressNginx is enabled. A namespace-wide Sidecar there applies to the controller's sidecar too,
// which must reach the Services of every namespace its mesh Ingresses route to.
func IngressNginxNamespace(spec *meshv1alpha1.ServiceMeshSpec, namespace string) bool {
	return ptr.Deref(spec.IngressNginx.Enabled, false) && spec.IngressNginx.Controller.Namespace == namespace
}

// IngressNginxSidecar is the namespace-wide Sidecar "default" of the ingress-nginx controller's
// namespace when it is enrolled: egress to every namespace ("*/*"), so the controller's sidecar knows
// the Services of every namespace its mesh Ingresses route to and sends to them over mTLS (scoped to
// its own namespace and the control plane, it would pass them through as plain text under ALLOW_ANY,
// which STRICT backends refuse, or block them under REGISTRY_ONLY). The rest of the namespace loses
// its scoping with it; spec.sidecarScoping.egressHosts and the namespace's own hosts add nothing to
// "*/*". The outbound traffic policy is the mesh's, as in every other namespace.
func IngressNginxSidecar(spec *meshv1alpha1.ServiceMeshSpec, namespace string, root *MeshSidecar) *unstructured.Unstructured {
	return sidecar(spec, namespace, []any{"*/*"}, root)
}

// sidecar is the namespace-wide Sidecar "default" of namespace with egress to hosts, and the mesh's
// outbound traffic policy: spec.sidecarScoping's (ALLOW_ANY unless it says otherwise), but REGISTRY_ONLY
// whenever the whole mesh is locked down so, by spec.values (meshConfig.outboundTrafficPolicy.mode) or
// by the mesh-wide default Sidecar root: a namespace's own Sidecar overrides both, and turning scoping
// on must not open egress the mesh closed.
func sidecar(spec *meshv1alpha1.ServiceMeshSpec, namespace string, hosts []any, root *MeshSidecar) *unstructured.Unstructured {
	mode := spec.SidecarScoping.OutboundTrafficPolicy
	if mode == "" {
		mode = meshv1alpha1.OutboundAllowAny
	}
	if meshOutboundTrafficPolicy(spec) == string(meshv1alpha1.OutboundRegistryOnly) || (root != nil && root.RegistryOnly) {
		mode = meshv1alpha1.OutboundRegistryOnly
	}
	u := newObject(SidecarKind, namespace)
	u.Object["spec"] = map[string]any{
		"egress":                []any{map[string]any{"hosts": hosts}},
		"outboundTrafficPolicy": map[string]any{"mode": string(mode)},
	}
	return u
}

// MeshSidecar is what meshkeeper's namespace Sidecars carry over from the mesh-wide default Sidecar:
// the oldest Sidecar without a workloadSelector in Istio's root namespace (RootNamespace), which istiod
// applies to every namespace that has no namespace-wide Sidecar of its own. meshkeeper's Sidecar "default"
// takes its place in each enrolled namespace, so whatever of it meshkeeper's does not hold is lost there.
type MeshSidecar struct {
	// Name is the Sidecar's name.
	Name string
	// Hosts are the egress hosts of all its egress listeners that istiod accepts (ValidEgressHost):
	// namespaces using it could reach them. A "." in one is the namespace of the workload, as Istio reads
	// the root Sidecar in each namespace it applies to, and as it reads it in a namespace's own Sidecar.
	Hosts []string
	// RegistryOnly is set when it locks egress down to the hosts it lists (outboundTrafficPolicy.mode
	// REGISTRY_ONLY).
	RegistryOnly bool
}

// ReadMeshSidecar reads a Sidecar of the root namespace: what meshkeeper's Sidecars carry over from it,
// or nil when it has a workloadSelector, which makes it apply to the root namespace's own selected
// workloads and keeps istiod from taking it for the mesh-wide default. Istio decides on the field being
// there at all, even empty.
func ReadMeshSidecar(obj *unstructured.Unstructured) *MeshSidecar {
	spec, _ := obj.Object["spec"].(map[string]any)
	if selector, found := spec["workloadSelector"]; found && selector != nil {
		return nil
	}
	root := &MeshSidecar{Name: obj.GetName()}
	mode, _, _ := unstructured.NestedString(spec, "outboundTrafficPolicy", "mode")
	root.RegistryOnly = mode == string(meshv1alpha1.OutboundRegistryOnly)
	listeners, _ := spec["egress"].([]any)
	seen := sets.New[string]()
	for _, listener := range listeners {
		listener, _ := listener.(map[string]any)
		hosts, _ := listener["hosts"].([]any)
		for _, host := range hosts {
			if host, ok := host.(string); ok && ValidEgressHost(host) && !seen.Has(host) {
				seen.Insert(host)
				root.Hosts = append(root.Hosts, host)
			}
		}
	}
	return root
}

// egressHost is an Istio Sidecar egress host, "namespace/dnsName", as spec.sidecarScoping.egressHosts
// validates it: namespace is a name, "*", "." or "~"; dnsName is "*", or a name of at least two labels,
// or one with a leading "*.": istiod refuses a short name such as "payments/payments-api". Every label
// has at most 63 characters.
var egressHost = regexp.MustCompile(`^(\*|\.|~|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/(\*|\*\.` + dnsLabel + `(\.` + dnsLabel + `)*|` +
	dnsLabel + `(\.` + dnsLabel + `)+)$`)

const dnsLabel = `[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?`

// numericTopLabel matches a dnsName whose last label is all digits, which istiod refuses (an IP
// address is no egress host of a Sidecar).
var numericTopLabel = regexp.MustCompile(`\.[0-9]+$`)

// ValidEgressHost tells whether istiod accepts host as an egress host of a Sidecar, as
// spec.sidecarScoping.egressHosts validates it: egressHost, a dnsName of at most 255 characters and a
// last label that is not all digits.
func ValidEgressHost(host string) bool {
	if len(host) > 320 || !egressHost.MatchString(host) {
		return false
	}
	_, dnsName, _ := strings.Cut(host, "/")
	return len(dnsName) <= 255 && !numericTopLabel.MatchString(dnsName)
}

// egressNamespace is the namespace part of an egress host that egressHost accepts.
var egressNamespace = regexp.MustCompile(`^(\*|\.|~|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)$`)

// EgressHostProblem says, in words for the namespace's owner, why host is no egress host meshkeeper
// writes into a Sidecar; "" when ValidEgressHost accepts it. Each answer names what istiod refuses (or,
// for an exclusion or a name ending in a dot, what meshkeeper does not take), so that an entry that
// looks like "namespace/dnsName", such as the short name "payments/payments-api", is not reported as
// if it were not.
func EgressHostProblem(host string) string {
	if ValidEgressHost(host) {
		return ""
	}
	namespace, dnsName, found := strings.Cut(host, "/")
	switch {
	case strings.IndexFunc(host, unicode.IsSpace) >= 0:
		return "it holds a blank: entries are separated by commas"
	case !found:
		return `it has no namespace part: write "namespace/dnsName", with * for any namespace`
	case len(namespace) > 1 && namespace[0] == '~' && namespace[1] != '~' && egressNamespace.MatchString(namespace[1:]):
		return "a ~ before a namespace name excludes hosts, and the annotation only adds egress hosts"
	case !egressNamespace.MatchString(namespace):
		return "its namespace part is neither a namespace name (lower case) nor *, . or ~"
	case dnsName == "":
		return "its dnsName is empty: write * for every host of the namespace"
	case strings.Contains(dnsName, "/"):
		return "it holds more than one /: a dnsName has no path"
	case strings.Contains(dnsName, ":"):
		return "it holds a colon: a port or an IP address is no part of a dnsName"
	case len(dnsName) > 255:
		return "its dnsName is longer than 255 characters"
	case dnsName != "*" && !strings.Contains(dnsName, "."):
		return "its dnsName is a short name: istiod takes only * or a fully qualified name, such as <service>.<namespace>.svc.cluster.local"
	case strings.HasSuffix(dnsName, "."):
		return "its dnsName ends in a dot: write it without"
	case strings.Contains(strings.TrimPrefix(dnsName, "*."), "*"):
		return "its wildcard is neither the whole dnsName nor its whole first label (*.example.com)"
	case numericTopLabel.MatchString(dnsName):
		return "its dnsName ends in an all-digit label: an IP address is no egress host"
	}
	for _, label := range strings.Split(strings.TrimPrefix(dnsName, "*."), ".") {
		if len(label) > 63 {
			return "its dnsName has a label longer than 63 characters"
		}
	}
	return "its dnsName is no DNS name: labels of letters, digits and -, neither first nor last, joined by dots"
}

// EgressHosts parses a namespace's mesh.meshkeeper.io/egress-hosts annotation into its hosts and the
// entries istiod would refuse (ValidEgressHost). Blanks around entries and empty entries are ignored.
func EgressHosts(annotation string) (hosts, malformed []string) {
	for _, entry := range strings.Split(annotation, ",") {
		entry = strings.TrimSpace(entry)
		switch {
		case entry == "":
		case ValidEgressHost(entry):
			hosts = append(hosts, entry)
		default:
			malformed = append(malformed, fmt.Sprintf("%q", entry))
		}
	}
	return hosts, malformed
}

func newObject(gvk schema.GroupVersionKind, namespace string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{}}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(namespace)
	u.SetName(PolicyName)
	return u
}
