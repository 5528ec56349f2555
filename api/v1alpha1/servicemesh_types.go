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

package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceMeshSpec is the desired state of the mesh: which Istio to run, which namespaces and
// ingress controller join it, and the mesh-wide policies meshkeeper generates.
// +kubebuilder:validation:XValidation:rule="!has(self.injection) || !has(self.injection.namespaces) || !(self.__namespace__ in self.injection.namespaces)",message="injection.namespaces must not list the control-plane namespace (spec.namespace): istiod's own pods are never injected"
// +kubebuilder:validation:XValidation:rule="!has(self.mtls) || !has(self.mtls.namespaces) || !(self.__namespace__ in self.mtls.namespaces)",message="mtls.namespaces must not list the control-plane namespace (spec.namespace): its PeerAuthentication is the mesh-wide default, which spec.mtls.mode sets"
// +kubebuilder:validation:XValidation:rule="!has(self.values) || !has(self.values.global) || !has(self.values.global.istioNamespace) || size(self.values.global.istioNamespace) == 0 || (has(self.__namespace__) && self.values.global.istioNamespace == self.__namespace__)",message="spec.values.global.istioNamespace must be empty or equal spec.namespace: the charts bind istiod's cluster-wide roles to the ServiceAccount in that namespace; set spec.namespace to choose where the control plane runs"
// +kubebuilder:validation:XValidation:rule="!has(self.values) || !has(self.values.trustedZtunnelNamespace) || size(self.values.trustedZtunnelNamespace) == 0 || (has(self.__namespace__) && self.values.trustedZtunnelNamespace == self.__namespace__)",message="spec.values.trustedZtunnelNamespace must be empty or equal spec.namespace: istiod lets the ztunnel ServiceAccount of that namespace obtain certificates for any pod on its node"
// +kubebuilder:validation:XValidation:rule="!has(self.values) || !has(self.values.meshConfig) || !has(self.values.meshConfig.rootNamespace) || size(self.values.meshConfig.rootNamespace) == 0 || (has(self.__namespace__) && self.values.meshConfig.rootNamespace == self.__namespace__)",message="spec.values.meshConfig.rootNamespace must be empty or equal spec.namespace: Istio configuration in the root namespace (EnvoyFilters, PeerAuthentications, Sidecars) applies to every proxy in the mesh, so only the control plane's namespace may be it"
// +kubebuilder:validation:XValidation:rule="!has(self.cni) || !has(self.cni.__namespace__) || size(self.cni.__namespace__) == 0 || self.cni.__namespace__ == 'kube-system' || (has(self.__namespace__) && self.cni.__namespace__ == self.__namespace__)",message="spec.cni.namespace must be empty, spec.namespace or kube-system"
// +kubebuilder:validation:XValidation:rule="!has(self.values) || !((has(self.values.profile) && self.values.profile == 'demo') || (has(self.values.global) && has(self.values.global.profile) && self.values.global.profile == 'demo')) || ((!has(self.proxy) || !has(self.proxy.resources) || (!has(self.proxy.resources.requests) && !has(self.proxy.resources.limits))) && (!has(self.controlPlane) || !has(self.controlPlane.resources) || (!has(self.controlPlane.resources.requests) && !has(self.controlPlane.resources.limits))))",message="proxy.resources and controlPlane.resources must not be set with spec.values.profile 'demo': the demo profile's own resource requests (10m CPU, 40Mi memory for sidecars, 100Mi for istiod) are merged over them by the chart, which can leave a request above the limit set here; drop the profile or set the resources through it"
type ServiceMeshSpec struct {
	// Version is the Istio version to run, as MAJOR.MINOR.PATCH with an optional pre-release of lowercase
	// letters, digits, dots and dashes that ends in a letter or digit (for example 1.31.1 or
	// 1.32.0-beta.1), at most 56 characters. It selects the image tag of istiod, the proxies and the CNI
	// agent and, when charts.repository is set, the chart version fetched from that repository. With the
	// RevisionBased strategy it also names the revision (dots as dashes) and so istiod's Service
	// istiod-<revision>, which must be a DNS label of at most 63 characters. Empty means the version of
	// the charts built into meshkeeper; the version in use is always reported in status.version.
	// +kubebuilder:validation:Pattern=`^((0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9a-z.-]*[0-9a-z])?)?$`
	// +kubebuilder:validation:MaxLength=56
	// +optional
	Version string `json:"version,omitempty"`

	// Namespace is where the control plane (istiod) runs and where mesh-wide policies live (the Istio
	// root namespace). It is created if it does not exist. It must be one of the namespaces the
	// operator's installer allowed (--control-plane-namespaces, by default only istio-system); another
	// is refused with Ready False, reason NamespaceNotAllowed, and nothing is installed. It cannot be
	// changed after creation: moving a control plane means deleting and recreating the ServiceMesh.
	// +kubebuilder:default=istio-system
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="spec.namespace is immutable: delete the ServiceMesh and create it again to move the control plane"
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Charts says where the Istio Helm charts (base, istiod and, with the CNI agent, cni) come from.
	// +kubebuilder:default={}
	// +optional
	Charts ChartsSpec `json:"charts,omitempty"`

	// Images sets the registry and pull policy of every Istio image (istiod, the proxies and the CNI
	// agent).
	// +kubebuilder:default={}
	// +optional
	Images ImagesSpec `json:"images,omitempty"`

	// ControlPlane shapes the istiod Deployment: size, placement, disruption budget and push tuning.
	// +kubebuilder:default={}
	// +optional
	ControlPlane ControlPlaneSpec `json:"controlPlane,omitempty"`

	// Proxy sets defaults for every sidecar proxy. The injector writes them into each sidecar when its pod
	// is created, so running pods keep the old ones until they are restarted: a change of deltaXDS,
	// dnsCapture or holdApplicationUntilProxyStarts (the mesh config) counts them in
	// status.proxies.outdated, a change of resources does not. dnsAutoAllocate is in the mesh config
	// before Istio 1.25; from 1.25 on it is istiod's own setting, in effect once istiod has rolled out.
	// +kubebuilder:default={}
	// +optional
	Proxy ProxySpec `json:"proxy,omitempty"`

	// Injection chooses the namespaces whose pods get the sidecar. A namespace is enrolled when it is
	// listed in namespaces or matched by namespaceSelector, unless an injection label of its own asks
	// for something else (istio-injection=disabled, say; counted in status.namespaces.conflicts), its
	// Pod Security level rejects what injection adds, or cni.excludeNamespaces lists it while the CNI
	// agent runs; NamespacesEnrolled names each. kube-system, kube-public, kube-node-lease and the
	// control-plane namespace are never enrolled. Enrolling changes no running pod: pods get the sidecar
	// when they are created.
	// +optional
	Injection InjectionSpec `json:"injection,omitempty"`

	// MTLS sets the mesh-wide default PeerAuthentication and per-namespace overrides.
	// +kubebuilder:default={}
	// +optional
	MTLS MTLSSpec `json:"mtls,omitempty"`

	// SidecarScoping gives every enrolled namespace a Sidecar resource that limits the configuration its
	// proxies receive to the hosts they need, which keeps proxy memory and push sizes small in large meshes.
	// +kubebuilder:default={}
	// +optional
	SidecarScoping SidecarScopingSpec `json:"sidecarScoping,omitempty"`

	// IngressNginx puts the ingress-nginx controller into the mesh: its pods get a sidecar that carries
	// only the traffic to Services, and every mesh Ingress is annotated so nginx sends to the Service
	// and the sidecar routes on Host.
	// +kubebuilder:default={}
	// +optional
	IngressNginx IngressNginxSpec `json:"ingressNginx,omitempty"`

	// CNI runs Istio's CNI node agent, so injected pods need no NET_ADMIN init container.
	// +kubebuilder:default={}
	// +optional
	CNI CNISpec `json:"cni,omitempty"`

	// Values are raw values for the istiod chart, merged over what meshkeeper computes from the fields
	// above. An escape hatch for settings this API does not cover; what is set here wins, except keys
	// that would move istiod's rights, webhooks or identity elsewhere, which are rejected (see
	// docs/security.md), and cni.enabled, which stays true while meshkeeper runs the CNI agent. Each
	// install or upgrade of istiod names the keys that override a field above in a Warning Event
	// ValuesOverrideSpec. The base and cni charts do not get these values.
	// +optional
	Values *IstiodValues `json:"values,omitempty"`

	// UpdateStrategy says how a change of version reaches the control plane: in place (the default)
	// or as a new revision beside the running one (see docs/upgrade.md).
	// +kubebuilder:default={}
	// +optional
	UpdateStrategy UpdateStrategySpec `json:"updateStrategy,omitempty"`

	// DataPlane says whether meshkeeper restarts the workloads whose pods need a new sidecar, and when.
	// +kubebuilder:default={}
	// +optional
	DataPlane DataPlaneSpec `json:"dataPlane,omitempty"`
}

// ChartsSpec says where the Istio charts come from.
// +kubebuilder:validation:XValidation:rule="!has(self.credentialsSecret) || size(self.credentialsSecret) == 0 || (has(self.repository) && size(self.repository) > 0)",message="charts.credentialsSecret needs charts.repository: the built-in charts are not fetched"
type ChartsSpec struct {
	// Repository is a Helm chart repository (https://…, with an index.yaml) or an OCI registry
	// (oci://…) from which the base, istiod and cni charts are fetched at spec.version. Empty means the
	// charts built into meshkeeper, which need no network access. It must lie under a repository the
	// operator's installer allowed (--allowed-chart-repositories, by default Istio's official ones);
	// another is refused with Ready False, reason RepositoryNotAllowed, and nothing is changed.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="self == '' || ((self.startsWith('https://') || self.startsWith('oci://')) && size(self) > 8 && !self.matches('[[:space:][:cntrl:]]'))",message="charts.repository must be empty (built-in charts) or an https:// or oci:// URL, without spaces or control characters"
	// +optional
	Repository string `json:"repository,omitempty"`

	// CredentialsSecret names a Secret in spec.namespace with the credentials of a private repository:
	// keys "username" and "password" for an https:// Helm repository (HTTP basic authentication), or
	// ".dockerconfigjson" (type kubernetes.io/dockerconfigjson) for an oci:// registry. Empty means
	// anonymous access. The credentials are sent only to the repository's own host, and to the token
	// service an oci:// registry names in its challenge, over https only.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
	// +optional
	CredentialsSecret string `json:"credentialsSecret,omitempty"`
}

// ImagesSpec sets where Istio images are pulled from.
type ImagesSpec struct {
	// Hub is the registry and path of the Istio images, without scheme, image name, tag or trailing
	// slash: the charts write each image as <hub>/<name>:<tag>, so the hub must make a valid image
	// reference (a registry host with an optional port, then lowercase path components), or istiod's
	// pods could not pull their image. It must lie under a hub the operator's installer allowed
	// (--allowed-image-hubs, by default docker.io/istio, gcr.io/istio-release and ghcr.io/istio); another
	// is refused with Ready False, reason ImageHubNotAllowed, and nothing is changed. Injected pods keep
	// the image they were created with until they are restarted, and a change of hub alone does not
	// count them as outdated.
	// +kubebuilder:default="docker.io/istio"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?)*(:[0-9]+)?(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$`
	// +optional
	Hub string `json:"hub,omitempty"`

	// PullPolicy is the image pull policy of istiod and the injected proxies.
	// +kubebuilder:default=IfNotPresent
	// +kubebuilder:validation:Enum=Always;IfNotPresent;Never
	// +optional
	PullPolicy corev1.PullPolicy `json:"pullPolicy,omitempty"`
}

// ControlPlaneSpec shapes the istiod Deployment.
// +kubebuilder:validation:XValidation:rule="!(has(self.replicas) && has(self.autoscaling))",message="set either controlPlane.replicas or controlPlane.autoscaling, not both"
type ControlPlaneSpec struct {
	// Replicas is the fixed number of istiod pods. When neither replicas nor autoscaling is set,
	// istiod runs 2 replicas, so a rolling upgrade or a node drain never leaves the mesh without
	// a control plane.
	// +kubebuilder:validation:Minimum=1
	// +optional
	Replicas *int32 `json:"replicas,omitempty"`

	// Autoscaling runs istiod under a HorizontalPodAutoscaler between minReplicas and maxReplicas.
	// +optional
	Autoscaling *AutoscalingSpec `json:"autoscaling,omitempty"`

	// Resources are the istiod container's requests and limits. Empty means the chart's (500m CPU and
	// 2048Mi memory requested); set, the container gets exactly these, nothing of the chart's.
	// Not with spec.values.profile demo, whose own requests the chart puts over these. With autoscaling
	// they must request CPU (requests.cpu, or limits.cpu): the autoscaler scales on its utilization.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// NodeSelector constrains istiod pods to matching nodes. Its keys and values must be label keys and
	// values, as in a pod's spec; meshkeeper reports others as InvalidSpec before it installs anything.
	// +optional
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`

	// Tolerations let istiod pods run on tainted nodes. Each is checked as the API server checks a
	// pod's, so that a typo is refused here rather than by the istiod Deployment: operators, effects and
	// their combinations when the ServiceMesh is applied, keys and values that are not label keys and
	// values as InvalidSpec before meshkeeper installs anything.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator in ['', 'Exists', 'Equal']",message="a toleration's operator must be Exists or Equal (empty means Equal); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.effect) || self.effect in ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']",message="a toleration's effect must be NoSchedule, PreferNoSchedule or NoExecute (empty means all three); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",message="a toleration with operator Exists must have no value; the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",message="a toleration without a key must have operator Exists (it then tolerates every taint); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",message="a toleration's tolerationSeconds needs effect NoExecute; the API server would refuse the pods"
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// PriorityClassName is the PriorityClass of the istiod pods. A class other than the built-in
	// system-node-critical and system-cluster-critical must exist, or istiod's pods are not created.
	// Empty means none (the cluster's default priority).
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*)?$`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`

	// PodDisruptionBudget creates a PodDisruptionBudget for istiod (minAvailable 1) while it runs more
	// than one replica (replicas, or autoscaling.minReplicas, above 1).
	// +kubebuilder:default=true
	// +optional
	PodDisruptionBudget *bool `json:"podDisruptionBudget,omitempty"`

	// PushTuning sets how istiod batches configuration changes before pushing them to proxies.
	// +kubebuilder:default={}
	// +optional
	PushTuning PushTuningSpec `json:"pushTuning,omitempty"`
}

// AutoscalingSpec bounds the istiod HorizontalPodAutoscaler.
// +kubebuilder:validation:XValidation:rule="self.minReplicas <= self.maxReplicas",message="controlPlane.autoscaling.minReplicas must not exceed maxReplicas"
type AutoscalingSpec struct {
	// MinReplicas is the lowest number of istiod pods.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=2
	MinReplicas int32 `json:"minReplicas"`

	// MaxReplicas is the highest number of istiod pods.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:default=5
	MaxReplicas int32 `json:"maxReplicas"`
}

// PushTuningSpec sets istiod's debounce and push throttle. Larger debounce windows merge more changes
// into one push (less CPU in istiod and the proxies) at the cost of slower propagation.
// +kubebuilder:validation:XValidation:rule="!has(self.debounceAfter) || !has(self.debounceMax) || duration(self.debounceAfter) <= duration(self.debounceMax)",message="controlPlane.pushTuning.debounceAfter must not exceed debounceMax"
type PushTuningSpec struct {
	// DebounceAfter is how long istiod waits after a change for further changes before it pushes
	// (PILOT_DEBOUNCE_AFTER).
	// +kubebuilder:default="100ms"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	DebounceAfter *metav1.Duration `json:"debounceAfter,omitempty"`

	// DebounceMax is the longest istiod delays a push while changes keep arriving (PILOT_DEBOUNCE_MAX).
	// +kubebuilder:default="10s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	DebounceMax *metav1.Duration `json:"debounceMax,omitempty"`

	// PushThrottle is how many proxies istiod pushes to concurrently (PILOT_PUSH_THROTTLE). The default
	// of 100 is meshkeeper's, not Istio's: istiod left to itself sizes it from its CPUs (20 with one, 25
	// with two, up to 100), so a small istiod pushes to more proxies at once under meshkeeper; lower it
	// for an istiod with little CPU.
	// +kubebuilder:default=100
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=10000
	// +optional
	PushThrottle *int32 `json:"pushThrottle,omitempty"`
}

// ProxySpec sets defaults for every sidecar proxy in the mesh.
type ProxySpec struct {
	// DeltaXDS makes proxies use incremental (delta) xDS, so a change sends only what changed instead
	// of the whole resource set (proxy metadata ISTIO_DELTA_XDS).
	// +kubebuilder:default=true
	// +optional
	DeltaXDS *bool `json:"deltaXDS,omitempty"`

	// DNSCapture makes the sidecar answer DNS queries of the application (ISTIO_META_DNS_CAPTURE).
	// +kubebuilder:default=true
	// +optional
	DNSCapture *bool `json:"dnsCapture,omitempty"`

	// DNSAutoAllocate gives ServiceEntries without addresses a virtual IP, so TCP traffic to them can be
	// told apart: istiod's PILOT_ENABLE_IP_AUTOALLOCATE from Istio 1.25 on, the proxy metadata
	// ISTIO_META_DNS_AUTO_ALLOCATE before.
	// +kubebuilder:default=true
	// +optional
	DNSAutoAllocate *bool `json:"dnsAutoAllocate,omitempty"`

	// HoldApplicationUntilProxyStarts starts application containers only after the sidecar is ready, so
	// an application never sends traffic before the proxy can carry it. With native sidecars (Istio turns
	// them on for pods on nodes whose kubelet supports them) the application always waits for the proxy,
	// and false has no effect.
	// +kubebuilder:default=true
	// +optional
	HoldApplicationUntilProxyStarts *bool `json:"holdApplicationUntilProxyStarts,omitempty"`

	// Resources are the requests and limits of the sidecar and its init container, in pods injected from
	// then on: a change does not count running pods as outdated, nor restart them. The Gateway API
	// gateways istiod deploys get them too. Empty means the chart's (100m CPU and 128Mi memory
	// requested, 2000m CPU and 1024Mi memory limit); set, the sidecar gets exactly these, nothing of the
	// chart's. Not with spec.values.profile demo, whose own requests the chart puts over these.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`
}

// InjectionSpec chooses the namespaces whose pods get the sidecar.
type InjectionSpec struct {
	// Namespaces are enrolled by name. Those whose pods Istio's injector never injects (kube-node-lease,
	// kube-public, kube-system and local-path-storage) are refused, as meshkeeper would never enroll them.
	// +listType=set
	// +kubebuilder:validation:MaxItems=10000
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +kubebuilder:validation:XValidation:rule="self.all(n, !(n in ['kube-node-lease', 'kube-public', 'kube-system', 'local-path-storage']))",message="injection.namespaces must not list kube-node-lease, kube-public, kube-system or local-path-storage: Istio's injector never injects their pods, so meshkeeper never enrolls them"
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`

	// NamespaceSelector enrolls every namespace whose labels match.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
}

// MTLSMode is the mutual TLS mode of a PeerAuthentication.
// +kubebuilder:validation:Enum=PERMISSIVE;STRICT
type MTLSMode string

const (
	// MTLSPermissive accepts both mTLS and plaintext traffic.
	MTLSPermissive MTLSMode = "PERMISSIVE"
	// MTLSStrict accepts only mTLS traffic.
	MTLSStrict MTLSMode = "STRICT"
)

// MTLSSpec sets the mutual TLS policy of the mesh.
type MTLSSpec struct {
	// Mode is the mesh-wide default: PERMISSIVE accepts plaintext and mTLS (the safe way to start),
	// STRICT rejects plaintext, which breaks clients without a sidecar.
	// +kubebuilder:default=PERMISSIVE
	// +optional
	Mode MTLSMode `json:"mode,omitempty"`

	// Namespaces overrides the mode per namespace, for example {legacy: PERMISSIVE} under a STRICT mesh.
	// The control-plane namespace (spec.namespace) is not one of them: its PeerAuthentication is the
	// mesh-wide default, Mode.
	// +kubebuilder:validation:MaxProperties=10000
	// +kubebuilder:validation:XValidation:rule="self.all(k, size(k) <= 63 && k.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'))",message="mtls.namespaces keys must be namespace names (DNS-1123 labels: lowercase letters, digits and '-', at most 63 characters)"
	// +optional
	Namespaces map[string]MTLSMode `json:"namespaces,omitempty"`
}

// OutboundTrafficPolicyMode says what a proxy does with traffic to hosts it has no configuration for.
// +kubebuilder:validation:Enum=ALLOW_ANY;REGISTRY_ONLY
type OutboundTrafficPolicyMode string

const (
	// OutboundAllowAny passes traffic to unknown hosts through unchanged.
	OutboundAllowAny OutboundTrafficPolicyMode = "ALLOW_ANY"
	// OutboundRegistryOnly blocks traffic to hosts outside the proxy's configured egress.
	OutboundRegistryOnly OutboundTrafficPolicyMode = "REGISTRY_ONLY"
)

// SidecarScopingSpec controls the Sidecar resource meshkeeper writes into every enrolled namespace.
type SidecarScopingSpec struct {
	// Enabled writes a namespace-wide Sidecar named "default" into every enrolled namespace. Off by
	// default: with scoping on, a proxy only knows the hosts of its own namespace, the control plane,
	// egressHosts and the namespace's mesh.meshkeeper.io/egress-hosts annotation, so calls to other
	// namespaces must be declared first.
	// +kubebuilder:default=false
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// EgressHosts are added to "./*" and "<control-plane namespace>/*" in every scoped namespace, in
	// Istio's "namespace/dnsName" form: "payments/*", "*/api.example.com", "./foo.svc.cluster.local".
	// dnsName is "*" or a fully qualified name (a short name such as "payments-api" or an IP address is
	// refused by istiod, which would then refuse the whole Sidecar).
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=320
	// +kubebuilder:validation:items:Pattern=`^(\*|\.|~|[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)/(\*|\*\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*|[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)+)$`
	// +kubebuilder:validation:items:XValidation:rule="!self.matches('[.][0-9]+$') && !self.matches('/.{256,}$')",message="an egress host's dnsName must not end in an all-digit label (an IP address) and must have at most 255 characters: istiod refuses such a Sidecar"
	// +optional
	EgressHosts []string `json:"egressHosts,omitempty"`

	// OutboundTrafficPolicy is ALLOW_ANY (traffic to hosts outside the scope passes through) or
	// REGISTRY_ONLY (it is blocked). A mesh locked down through spec.values
	// (meshConfig.outboundTrafficPolicy.mode REGISTRY_ONLY) stays so: the Sidecars are REGISTRY_ONLY then.
	// +kubebuilder:default=ALLOW_ANY
	// +optional
	OutboundTrafficPolicy OutboundTrafficPolicyMode `json:"outboundTrafficPolicy,omitempty"`
}

// IngressNginxSpec puts an ingress-nginx controller into the mesh.
type IngressNginxSpec struct {
	// Enabled turns the integration on. Turning it on or off changes the controller's pod template,
	// which rolls out its pods.
	// +kubebuilder:default=false
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Controller names the ingress-nginx controller workload that gets the sidecar.
	// +kubebuilder:default={}
	// +optional
	Controller WorkloadReference `json:"controller,omitempty"`

	// IngressClassNames are the ingress classes served by this controller; Ingresses of these classes
	// in enrolled namespaces get the service-upstream and upstream-vhost annotations. An Ingress that
	// names no class (neither spec.ingressClassName nor the kubernetes.io/ingress.class annotation) counts
	// only when the controller runs with --watch-ingress-without-class=true.
	// +kubebuilder:default={nginx}
	// +listType=set
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	IngressClassNames []string `json:"ingressClassNames,omitempty"`

	// ServiceCIDRs are the cluster's Service IP ranges: the only outbound ranges the controller's sidecar
	// captures, so nginx's other traffic (to the API server, to external auth) bypasses it. Unset, they
	// are the ranges of the cluster's Ready ServiceCIDRs (networking.k8s.io/v1, Kubernetes 1.33 and
	// later), followed as they change; a cluster without that API needs them set. They are written into
	// the controller's pod template, so a change of them rolls out its pods.
	// +listType=set
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +kubebuilder:validation:items:MaxLength=43
	// +kubebuilder:validation:XValidation:rule="self.all(c, isCIDR(c))",message="ingressNginx.serviceCIDRs entries must be CIDRs such as 10.96.0.0/12 or fd00:10:96::/112"
	// +optional
	ServiceCIDRs []string `json:"serviceCIDRs,omitempty"`
}

// WorkloadReference names a Deployment or DaemonSet.
type WorkloadReference struct {
	// Namespace of the workload.
	// +kubebuilder:default=ingress-nginx
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// Name of the workload.
	// +kubebuilder:default=ingress-nginx-controller
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	Name string `json:"name,omitempty"`

	// Kind of the workload.
	// +kubebuilder:default=Deployment
	// +kubebuilder:validation:Enum=Deployment;DaemonSet
	// +optional
	Kind string `json:"kind,omitempty"`
}

// ServiceMeshStatus is what meshkeeper observed of the mesh, computed from what the cluster reports.
type ServiceMeshStatus struct {
	// ObservedGeneration is the spec generation the status describes; it lags metadata.generation while
	// a change is being applied.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions: Ready summarises the others (ControlPlaneReady, CNIReady, NamespacesEnrolled,
	// IngressesConfigured, PoliciesApplied, MTLSReady), and DataPlaneUpToDate only while a canary is
	// rolled back (CanaryRolledBack); Reconciling and Stalled are kstatus' abnormal-true conditions.
	// +listType=map
	// +listMapKey=type
	// +patchStrategy=merge
	// +patchMergeKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty" patchStrategy:"merge" patchMergeKey:"type"`

	// Version is the Istio version of the installed control plane; with RevisionBased, of the revision
	// the default tag points at, so it changes when the tag moves. It changes as soon as the charts of a
	// new version are installed, before every istiod replica runs it: ControlPlaneReady says when they do.
	// +optional
	Version string `json:"version,omitempty"`

	// ChartVersion is the version of the istiod chart installed for spec.version (the built-in charts'
	// when spec.version is empty). With RevisionBased it is the chart of the revision spec.version names,
	// which during a canary is not the revision status.version reports.
	// +optional
	ChartVersion string `json:"chartVersion,omitempty"`

	// Revision is the Istio revision of the control plane: "default" with InPlace; with RevisionBased,
	// the revision the default tag points at (as activeRevision).
	// +optional
	Revision string `json:"revision,omitempty"`

	// ActiveRevision is the revision the default revision tag points at (RevisionBased); empty with
	// InPlace, which has no tag, so the REVISION column of kubectl get servicemesh is empty then.
	// +optional
	ActiveRevision string `json:"activeRevision,omitempty"`

	// Revisions are the installed revisions, newest first (RevisionBased).
	// +listType=map
	// +listMapKey=name
	// +optional
	Revisions []RevisionStatus `json:"revisions,omitempty"`

	// Namespaces counts enrolled namespaces.
	// +optional
	Namespaces NamespacesStatus `json:"namespaces,omitempty"`

	// Ingresses counts mesh Ingresses.
	// +optional
	Ingresses IngressesStatus `json:"ingresses,omitempty"`

	// Proxies counts the pods of enrolled namespaces by sidecar state.
	// +optional
	Proxies ProxiesStatus `json:"proxies,omitempty"`

	// MeshConfigs says, for the mesh config ConfigMap of each installed revision, which mesh config
	// meshkeeper wrote there and since when: the injector writes its proxy defaults into each sidecar, so
	// a pod created before then counts as outdated. An edit of the ConfigMap that drift repair undoes
	// leaves it as it was.
	// +listType=map
	// +listMapKey=name
	// +optional
	MeshConfigs []MeshConfigStatus `json:"meshConfigs,omitempty"`

	// CanaryRollback, when set, says that meshkeeper rolled the canary back: a workload it restarted onto
	// the canary revision did not roll out (dataPlane.restarts.rollbackOnFailure). The canary namespaces
	// are served by the active revision until the spec changes.
	// +optional
	CanaryRollback *CanaryRollbackStatus `json:"canaryRollback,omitempty"`

	// CNI reports the CNI node agent and whether the mesh runs it.
	// +optional
	CNI *CNIStatus `json:"cni,omitempty"`
}

// NamespacesStatus counts enrolled namespaces.
type NamespacesStatus struct {
	// Enrolled is the number of namespaces the mesh enrolls that carry the injection label it wants
	// (istio-injection=enabled, or istio.io/rev naming the revision that serves them), whether
	// meshkeeper wrote it or the namespace's owner set the same label.
	// +optional
	Enrolled int32 `json:"enrolled"`

	// Conflicts is the number of namespaces meshkeeper should enroll but whose own injection label
	// (for example istio-injection=disabled) it leaves alone.
	// +optional
	Conflicts int32 `json:"conflicts,omitempty"`
}

// IngressesStatus counts mesh Ingresses.
type IngressesStatus struct {
	// Configured is the number of Ingresses carrying meshkeeper's annotations.
	// +optional
	Configured int32 `json:"configured"`

	// Skipped is the number of mesh Ingresses meshkeeper could not configure.
	// +optional
	Skipped int32 `json:"skipped"`

	// SkippedByReason breaks skipped down by reason (for example MultipleBackendServices).
	// +optional
	SkippedByReason map[string]int32 `json:"skippedByReason,omitempty"`
}

// MeshConfigStatus is the mesh config meshkeeper wrote into one mesh config ConfigMap.
type MeshConfigStatus struct {
	// Name is the ConfigMap in spec.namespace: istio, or istio-<revision>.
	Name string `json:"name"`
	// Digest is the SHA-256 of its mesh key as meshkeeper wrote it, "sha256:" and 16 hex digits.
	Digest string `json:"digest"`
	// Since is when meshkeeper wrote that mesh config.
	Since metav1.Time `json:"since"`
}

// ProxiesStatus counts the pods of enrolled namespaces by sidecar state.
type ProxiesStatus struct {
	// Total is the number of pods in enrolled namespaces, and of the ingress-nginx controller's pods with
	// a sidecar, that are counted: finished pods, pods being deleted, pods in the node's network and pods
	// opted out of injection are not.
	// +optional
	Total int32 `json:"total"`

	// Current counts pods whose sidecar comes from the revision that serves their namespace, with the
	// current mesh config: they need nothing. Total is Current + WithoutSidecar + Outdated.
	// +optional
	Current int32 `json:"current"`

	// WithoutSidecar counts pods created before their namespace was enrolled; they need a restart.
	// +optional
	WithoutSidecar int32 `json:"withoutSidecar"`

	// Outdated counts pods whose proxy belongs to another revision or version, was injected for a CNI
	// agent while istiod no longer injects for one, or started before the current mesh config; they need a
	// restart.
	// +optional
	Outdated int32 `json:"outdated"`

	// Restarting counts the workloads meshkeeper restarted whose rollout has not completed yet.
	// +optional
	Restarting int32 `json:"restarting"`

	// NotRestartable counts the pods that need a restart but belong to no Deployment, StatefulSet or
	// DaemonSet (bare pods, Jobs, CronJobs), or to one a change of its pod template does not roll out (a
	// paused Deployment, updateStrategy OnDelete, a StatefulSet partition) or that another controller
	// owns, so meshkeeper never restarts them; and the pods of a workload meshkeeper restarted whose new pods still need a restart (its pod
	// template pins the proxy image or the revision), which it does not restart again until the mesh changes.
	// +optional
	NotRestartable int32 `json:"notRestartable"`

	// StalledRestarts are the workloads meshkeeper restarted whose rollout made no progress for their
	// deadline, at most 10. While one is listed and has not rolled out, meshkeeper starts no further
	// restart, also after the manager restarts or another replica takes over.
	// +optional
	// +listType=atomic
	// +kubebuilder:validation:MaxItems=10
	StalledRestarts []StalledRestart `json:"stalledRestarts,omitempty"`
}

// ServiceMesh is one Istio mesh managed by meshkeeper. There is one per cluster, named "default".
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=mesh,categories=meshkeeper
// +kubebuilder:validation:XValidation:rule="self.metadata.name == 'default'",message="a cluster has one ServiceMesh and it must be named 'default'"
// +kubebuilder:printcolumn:name="Version",type=string,JSONPath=`.status.version`,description="Istio version of the installed control plane (with RevisionBased, of the active revision)"
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.activeRevision`,description="Revision the default tag points at (RevisionBased; empty with InPlace)"
// +kubebuilder:printcolumn:name="Revisions",type=string,JSONPath=`.status.revisions[*].name`,priority=1,description="Installed revisions, newest first"
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Enrolled",type=integer,JSONPath=`.status.namespaces.enrolled`,description="Enrolled namespaces"
// +kubebuilder:printcolumn:name="Outdated",type=integer,JSONPath=`.status.proxies.outdated`,description="Pods whose sidecar is older than the control plane or its mesh config (pods without one are status.proxies.withoutSidecar)"
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ServiceMesh struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +kubebuilder:default={}
	// +optional
	Spec ServiceMeshSpec `json:"spec,omitempty"`
	// +optional
	Status ServiceMeshStatus `json:"status,omitempty"`
}

// ServiceMeshList is a list of ServiceMesh.
// +kubebuilder:object:root=true
type ServiceMeshList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ServiceMesh `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ServiceMesh{}, &ServiceMeshList{})
}
