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
	"bytes"
	"encoding/json"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

// IstiodValues are raw values of the istiod chart: any key the chart reads, kept exactly as written
// in Raw. Only the keys declared below appear in the CRD's schema, because the API server's
// validation rules see declared keys only: they are the keys that would move istiod's rights, its
// webhooks or its identity elsewhere, and the rules reject them with a message that says why and what
// to use instead. The declared fields are read-only views of Raw that decoding fills; Raw alone is
// encoded.
//
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:XValidation:rule="!has(self.revision) && !has(self.revisionTags) && !has(self.defaultRevision)",message="spec.values.revision, revisionTags and defaultRevision must not be set: meshkeeper owns the control plane's revisions and the webhooks that select them"
// +kubebuilder:validation:XValidation:rule="!has(self.istiodRemote)",message="spec.values.istiodRemote must not be set: it points the sidecar injection webhook at another URL or makes istiod a remote of another cluster's control plane; meshkeeper runs istiod in spec.namespace and its webhooks call that istiod"
// +kubebuilder:validation:XValidation:rule="!has(self.base) || !has(self.base.validationURL) || size(self.base.validationURL) == 0",message="spec.values.base.validationURL must not be set: it sends every Istio configuration change to another URL for validation; the validation webhook calls istiod in spec.namespace"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || ((!has(self.global.remotePilotAddress) || size(self.global.remotePilotAddress) == 0) && (!has(self.global.externalIstiod) || !self.global.externalIstiod) && (!has(self.global.configCluster) || !self.global.configCluster))",message="spec.values.global.remotePilotAddress, externalIstiod and configCluster must not be set: they configure multi-cluster topologies (istiod of another cluster, or this istiod serving others) that meshkeeper does not manage; install those with Istio's own tools"
// +kubebuilder:validation:XValidation:rule="!has(self.env) || (!has(self.env.EXTERNAL_ISTIOD) && !has(self.env.CA_TRUSTED_NODE_ACCOUNTS))",message="spec.values.env.EXTERNAL_ISTIOD and env.CA_TRUSTED_NODE_ACCOUNTS must not be set: the first makes istiod serve other clusters, the second lets the ServiceAccounts it names obtain certificates for any pod on their node; use trustedZtunnelName for a ztunnel in spec.namespace"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.readerServiceAccount)",message="spec.values.global.readerServiceAccount must not be set: it binds the istio-reader ClusterRole, which reads every Secret in the cluster, to another ServiceAccount; set global.enableReaderRBAC to false if the reader is not wanted"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.operatorManageWebhooks) || !self.global.operatorManageWebhooks",message="spec.values.global.operatorManageWebhooks must not be true: meshkeeper installs istiod's webhooks and keeps them pointed at istiod in spec.namespace"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.certSigners) || self.global.certSigners.all(s, !s.startsWith('kubernetes.io/'))",message="spec.values.global.certSigners must not name kubernetes.io/ signers: istiod could then approve certificate requests for the cluster's own signers, such as client certificates for any user; name your own CA's signer"
// +kubebuilder:validation:XValidation:rule="(!has(self.profile) || self.profile != 'remote') && (!has(self.global) || !has(self.global.profile) || self.global.profile != 'remote')",message="spec.values.profile and global.profile must not be 'remote': the remote profile makes istiod a remote of another cluster's control plane, which meshkeeper does not manage"
// +kubebuilder:validation:XValidation:rule="(!has(self.profile) || size(self.profile) == 0 || self.profile in ['ambient', 'demo', 'preview', 'remote', 'stable']) && (!has(self.global) || !has(self.global.profile) || size(self.global.profile) == 0 || self.global.profile in ['ambient', 'demo', 'preview', 'remote', 'stable'])",message="spec.values.profile and global.profile must be empty or a profile of the built-in istiod chart (ambient, demo, preview, stable): the chart refuses to render with another, so istiod would never be installed"
// +kubebuilder:validation:XValidation:rule="(!has(self.platform) || size(self.platform) == 0 || self.platform in ['gke', 'k3d', 'k3s', 'microk8s', 'minikube', 'openshift']) && (!has(self.global) || !has(self.global.platform) || size(self.global.platform) == 0 || self.global.platform in ['gke', 'k3d', 'k3s', 'microk8s', 'minikube', 'openshift'])",message="spec.values.platform and global.platform must be empty or a platform of the built-in istiod chart (gke, k3d, k3s, microk8s, minikube, openshift): the chart refuses to render with another, so istiod would never be installed"
// +kubebuilder:validation:XValidation:rule="!has(self.compatibilityVersion) || size(self.compatibilityVersion) == 0 || self.compatibilityVersion in ['1.25', '1.26', '1.27', '1.28', '1.29', '1.30']",message="spec.values.compatibilityVersion must be empty or a compatibility version of the built-in istiod chart (1.25 to 1.30, as a string): the chart refuses to render with another, so istiod would never be installed"
// +kubebuilder:validation:XValidation:rule="!has(self._internal_defaults_do_not_set) && !has(self.defaults) && !has(self.pilot)",message="spec.values must not set _internal_defaults_do_not_set, defaults or pilot: the chart merges them over the other values, past these checks; set their keys at the top level of spec.values instead (pilot.env becomes env)"
// +kubebuilder:validation:XValidation:rule="!((has(self.env) && has(self.env.EXTERNAL_CA) && size(self.env.EXTERNAL_CA) > 0) || (has(self.global) && has(self.global.pilotCertProvider) && !(self.global.pilotCertProvider in ['istiod', 'custom', 'none']))) || (has(self.global) && has(self.global.certSigners) && size(self.global.certSigners) > 0)",message="spec.values.global.certSigners must name your CA's signer when env.EXTERNAL_CA is set or global.pilotCertProvider is other than istiod, custom or none: the istiod chart then grants istiod approval of certificate requests, of every signer when certSigners is empty, the cluster's own included, which mints client certificates for any user"
// +kubebuilder:validation:XValidation:rule="!has(self.initContainers)",message="spec.values.initContainers must not be set: init containers run with istiod's ServiceAccount token, which holds cluster-wide rights, from images no allow-list checks"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.omitSidecarInjectorConfigMap) || !self.global.omitSidecarInjectorConfigMap",message="spec.values.global.omitSidecarInjectorConfigMap must not be true: without the injector's ConfigMap istiod serves no injection, while the injection webhook, which fails closed, still sends it every pod of an enrolled namespace, so the API server refuses them all; leave a namespace out of spec.injection, or label a pod sidecar.istio.io/inject=false, to keep pods uninjected"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.resourceScope) || self.global.resourceScope == 'all'",message="spec.values.global.resourceScope must be all: with cluster the chart renders no istiod while the injection webhook, which fails closed, still calls it, so every pod of an enrolled namespace is refused; with namespace it renders neither istiod's cluster roles nor its webhooks; meshkeeper installs the whole control plane"
// +kubebuilder:validation:XValidation:rule="!has(self.configMap) || self.configMap",message="spec.values.configMap must not be false: the chart then writes no mesh config (the istio ConfigMap), and istiod and the proxies it injects run without what meshkeeper renders there (spec.proxy, spec.values.meshConfig); set meshConfig keys to change the mesh config"
// +kubebuilder:validation:XValidation:rule="!has(self.sidecarInjectorWebhook) || !has(self.sidecarInjectorWebhook.enableNamespacesByDefault) || !self.sidecarInjectorWebhook.enableNamespacesByDefault",message="spec.values.sidecarInjectorWebhook.enableNamespacesByDefault must not be true: it injects every namespace not labelled otherwise, system namespaces included; choose namespaces with spec.injection"
// +kubebuilder:validation:XValidation:rule="!has(self.global) || !has(self.global.proxy) || !has(self.global.proxy.autoInject) || self.global.proxy.autoInject == 'enabled'",message="spec.values.global.proxy.autoInject must be enabled: with another policy istiod injects only the pods labelled sidecar.istio.io/inject=true, while meshkeeper counts every other pod of an enrolled namespace as missing its sidecar (and automatic restarts restart their workloads); choose namespaces with spec.injection, and keep a pod out with the label sidecar.istio.io/inject=false"
// +kubebuilder:validation:XValidation:rule="!has(self.sidecarInjectorWebhook) || !has(self.sidecarInjectorWebhook.neverInjectSelector) || size(self.sidecarInjectorWebhook.neverInjectSelector) == 0",message="spec.values.sidecarInjectorWebhook.neverInjectSelector must not be set: istiod leaves the pods it selects uninjected, while meshkeeper counts them as missing their sidecar (and automatic restarts restart their workloads); label such pods sidecar.istio.io/inject=false, which meshkeeper reads, or leave their namespace out of spec.injection"
type IstiodValues struct {
	// Raw is the values object as written, every key included.
	Raw []byte `json:"-"`

	// Revision is the Istio revision of the control plane. Refused: meshkeeper names the revisions.
	// +optional
	Revision *string `json:"revision,omitempty"`
	// RevisionTags are more names for the revision, each with a webhook of its own. Refused: meshkeeper
	// owns the revision tags.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=63
	// +optional
	RevisionTags []string `json:"revisionTags,omitempty"`
	// DefaultRevision is the revision whose webhooks serve the default tag. Refused: meshkeeper moves
	// the default tag.
	// +optional
	DefaultRevision *string `json:"defaultRevision,omitempty"`
	// IstiodRemote configures istiod as a remote of another cluster's control plane. Refused.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	IstiodRemote *apiextensionsv1.JSON `json:"istiodRemote,omitempty"`
	// Base holds the validation webhook's settings.
	// +optional
	Base *BaseValues `json:"base,omitempty"`
	// Global holds the values every Istio chart shares.
	// +optional
	Global *GlobalValues `json:"global,omitempty"`
	// Env is istiod's environment.
	// +optional
	Env *EnvValues `json:"env,omitempty"`
	// EnvVarFrom are more variables of istiod's container, as Kubernetes EnvVars: the chart writes them
	// after env's and its own, and of two variables of one name the container gets the last. None may be
	// named EXTERNAL_ISTIOD or CA_TRUSTED_NODE_ACCOUNTS.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	EnvVarFrom []EnvVarFromValue `json:"envVarFrom,omitempty"`
	// Volumes are more volumes of istiod's pod, as Kubernetes Volumes; not hostPath or gitRepo.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Volumes []VolumeValue `json:"volumes,omitempty"`
	// MeshConfig is the mesh configuration.
	// +optional
	MeshConfig *MeshConfigValues `json:"meshConfig,omitempty"`
	// SidecarInjectorWebhook configures the injection webhook.
	// +optional
	SidecarInjectorWebhook *SidecarInjectorWebhookValues `json:"sidecarInjectorWebhook,omitempty"`
	// Profile is an Istio configuration profile: one the built-in istiod chart ships, not remote; not
	// demo together with proxy.resources or controlPlane.resources.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Profile *string `json:"profile,omitempty"`
	// Platform is the Kubernetes platform whose profile the chart merges under the values: one the
	// built-in istiod chart ships.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Platform *string `json:"platform,omitempty"`
	// CompatibilityVersion is the earlier Istio minor version whose behaviour the chart's profile keeps:
	// one the built-in istiod chart ships.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	CompatibilityVersion *string `json:"compatibilityVersion,omitempty"`
	// TrustedZtunnelNamespace is the namespace of the ztunnel istiod trusts to ask for certificates. It
	// must be empty or spec.namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	TrustedZtunnelNamespace *string `json:"trustedZtunnelNamespace,omitempty"`
	// ConfigMap writes the mesh config ConfigMap. Refused unless true: the mesh config is where
	// meshkeeper's proxy settings go.
	// +optional
	ConfigMap *bool `json:"configMap,omitempty"`
	// InitContainers run in istiod's pod before istiod. Refused.
	// +kubebuilder:validation:items:Type=object
	// +optional
	InitContainers []apiextensionsv1.JSON `json:"initContainers,omitempty"`
	// InternalDefaults are the chart's own defaults. Refused: set their keys at the top level.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	InternalDefaults *apiextensionsv1.JSON `json:"_internal_defaults_do_not_set,omitempty"`
	// Defaults is a key the chart refuses, and so does the CRD.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Defaults *apiextensionsv1.JSON `json:"defaults,omitempty"`
	// Pilot holds values the chart merges over the top level. Refused: set its keys at the top level
	// (pilot.env becomes env).
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	Pilot *apiextensionsv1.JSON `json:"pilot,omitempty"`
}

// BaseValues are the declared keys of spec.values.base.
// +kubebuilder:pruning:PreserveUnknownFields
type BaseValues struct {
	// ValidationURL is the URL the validation webhook calls instead of istiod. Refused unless empty.
	// +optional
	ValidationURL *string `json:"validationURL,omitempty"`
}

// GlobalValues are the declared keys of spec.values.global.
// +kubebuilder:pruning:PreserveUnknownFields
type GlobalValues struct {
	// IstioNamespace is the namespace of the istiod ServiceAccount the charts grant rights to. It must
	// be empty or spec.namespace, which sets it.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	IstioNamespace *string `json:"istioNamespace,omitempty"`
	// RemotePilotAddress is the address of another cluster's istiod. Refused unless empty.
	// +optional
	RemotePilotAddress *string `json:"remotePilotAddress,omitempty"`
	// ExternalIstiod makes istiod serve other clusters. Refused unless false.
	// +optional
	ExternalIstiod *bool `json:"externalIstiod,omitempty"`
	// ConfigCluster makes this cluster the configuration cluster of an external istiod. Refused unless
	// false.
	// +optional
	ConfigCluster *bool `json:"configCluster,omitempty"`
	// ReaderServiceAccount is the ServiceAccount the istio-reader ClusterRole is bound to. Refused.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	ReaderServiceAccount *apiextensionsv1.JSON `json:"readerServiceAccount,omitempty"`
	// OperatorManageWebhooks leaves the webhooks to another installer. Refused unless false.
	// +optional
	OperatorManageWebhooks *bool `json:"operatorManageWebhooks,omitempty"`
	// PilotCertProvider is who issues istiod's serving certificate. Other than istiod, custom or none,
	// it needs certSigners.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	PilotCertProvider *string `json:"pilotCertProvider,omitempty"`
	// CertSigners are the Kubernetes signers whose certificate requests istiod may approve. None may
	// be a kubernetes.io/ signer; an external CA (env.EXTERNAL_CA, or a pilotCertProvider other than
	// istiod, custom or none) needs one.
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MaxLength=253
	// +optional
	CertSigners []string `json:"certSigners,omitempty"`
	// Profile is an Istio configuration profile: one the built-in istiod chart ships, not remote; not
	// demo together with proxy.resources or controlPlane.resources.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Profile *string `json:"profile,omitempty"`
	// Platform is the Kubernetes platform whose profile the chart merges under the values: one the
	// built-in istiod chart ships.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Platform *string `json:"platform,omitempty"`
	// Proxy holds the settings of the sidecars istiod injects.
	// +optional
	Proxy *GlobalProxyValues `json:"proxy,omitempty"`
	// OmitSidecarInjectorConfigMap leaves out the injector's ConfigMap, and with it istiod's injection.
	// Refused unless false: the injection webhook fails closed.
	// +optional
	OmitSidecarInjectorConfigMap *bool `json:"omitSidecarInjectorConfigMap,omitempty"`
	// ResourceScope is which of the chart's objects are rendered: all, cluster or namespace. Refused
	// unless all.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	ResourceScope *string `json:"resourceScope,omitempty"`
}

// GlobalProxyValues are the declared keys of spec.values.global.proxy.
// +kubebuilder:pruning:PreserveUnknownFields
type GlobalProxyValues struct {
	// AutoInject is the injection policy: enabled injects every pod of an enrolled namespace that does
	// not opt out. Refused unless enabled: meshkeeper counts every such pod as one that needs a sidecar.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	AutoInject *string `json:"autoInject,omitempty"`
}

// EnvValues are the declared keys of spec.values.env.
// +kubebuilder:pruning:PreserveUnknownFields
type EnvValues struct {
	// ExternalIstiod (EXTERNAL_ISTIOD) makes istiod serve other clusters. Refused.
	// +optional
	ExternalIstiod *string `json:"EXTERNAL_ISTIOD,omitempty"`
	// CATrustedNodeAccounts (CA_TRUSTED_NODE_ACCOUNTS) are ServiceAccounts that may obtain
	// certificates for pods on their node. Refused: trustedZtunnelName names a ztunnel in spec.namespace.
	// +optional
	CATrustedNodeAccounts *string `json:"CA_TRUSTED_NODE_ACCOUNTS,omitempty"`
	// ExternalCA (EXTERNAL_CA) has istiod sign workload certificates through another CA. It needs
	// global.certSigners.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ExternalCA *string `json:"EXTERNAL_CA,omitempty"`
}

// EnvVarFromValue is an entry of spec.values.envVarFrom, a Kubernetes EnvVar. Only its name is
// declared, for the rule that reads it; value and valueFrom are kept as written.
// +kubebuilder:pruning:PreserveUnknownFields
type EnvVarFromValue struct {
	// Name is the variable's name.
	// +kubebuilder:validation:MaxLength=256
	// +kubebuilder:validation:XValidation:rule="!(self in ['EXTERNAL_ISTIOD', 'CA_TRUSTED_NODE_ACCOUNTS'])",message="spec.values.envVarFrom must not name EXTERNAL_ISTIOD or CA_TRUSTED_NODE_ACCOUNTS: the chart adds its entries to istiod's environment after env's, and the last variable of a name wins, so they would set what env must not (the first makes istiod serve other clusters, the second lets the ServiceAccounts it names obtain certificates for any pod on their node); use trustedZtunnelName for a ztunnel in spec.namespace"
	// +optional
	Name *string `json:"name,omitempty"`
}

// VolumeValue is an entry of spec.values.volumes, a Kubernetes Volume. Only hostPath and gitRepo are
// declared, for the rules that refuse them; the rest is kept as written.
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:XValidation:rule="!has(self.hostPath)",message="spec.values.volumes must not hold a hostPath volume: it gives istiod's pod, which runs with cluster-wide rights, the files of the node it runs on; only the istio-cni agent (spec.cni) reaches into the node"
// +kubebuilder:validation:XValidation:rule="!has(self.gitRepo)",message="spec.values.volumes must not hold a gitRepo volume: it clones a repository of any URL into istiod's pod, which runs with cluster-wide rights; use an image of an allowed hub or a ConfigMap"
type VolumeValue struct {
	// HostPath is a directory of the node.
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	HostPath *apiextensionsv1.JSON `json:"hostPath,omitempty"`
	// GitRepo is a clone of a git repository (deprecated in Kubernetes).
	// +kubebuilder:validation:Type=object
	// +kubebuilder:pruning:PreserveUnknownFields
	// +optional
	GitRepo *apiextensionsv1.JSON `json:"gitRepo,omitempty"`
}

// MeshConfigValues are the declared keys of spec.values.meshConfig.
// +kubebuilder:pruning:PreserveUnknownFields
type MeshConfigValues struct {
	// RootNamespace is the namespace whose Istio configuration applies to the whole mesh. It must be
	// empty or spec.namespace.
	// +kubebuilder:validation:MaxLength=63
	// +optional
	RootNamespace *string `json:"rootNamespace,omitempty"`
}

// SidecarInjectorWebhookValues are the declared keys of spec.values.sidecarInjectorWebhook.
// +kubebuilder:pruning:PreserveUnknownFields
type SidecarInjectorWebhookValues struct {
	// EnableNamespacesByDefault injects every namespace not labelled otherwise. Refused unless false:
	// spec.injection chooses the namespaces.
	// +optional
	EnableNamespacesByDefault *bool `json:"enableNamespacesByDefault,omitempty"`
	// NeverInjectSelector are label selectors of pods the injector leaves out. Refused unless empty:
	// pods opt out with the label sidecar.istio.io/inject=false, which meshkeeper reads.
	// +kubebuilder:validation:items:Type=object
	// +optional
	NeverInjectSelector []apiextensionsv1.JSON `json:"neverInjectSelector,omitempty"`
}

// istiodValuesView decodes the declared keys without IstiodValues' own UnmarshalJSON.
type istiodValuesView IstiodValues

// UnmarshalJSON keeps data as Raw and fills the declared fields from it. A declared key of another
// type than the schema's (in an object stored before the key was declared) leaves the views empty
// rather than failing the whole ServiceMesh: Raw is what meshkeeper renders from.
func (v *IstiodValues) UnmarshalJSON(data []byte) error {
	var view istiodValuesView
	if !bytes.Equal(bytes.TrimSpace(data), []byte("null")) {
		if err := json.Unmarshal(data, &view); err != nil {
			view = istiodValuesView{}
		}
	}
	view.Raw = append([]byte(nil), data...)
	*v = IstiodValues(view)
	return nil
}

// MarshalJSON encodes Raw, which holds every key.
func (v IstiodValues) MarshalJSON() ([]byte, error) {
	if len(v.Raw) == 0 {
		return []byte("{}"), nil
	}
	return v.Raw, nil
}
