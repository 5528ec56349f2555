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
)

// CNISpec runs Istio's CNI node agent (the istio-cni chart): it sets up each meshed pod's traffic
// redirection on the node, so injected pods need no istio-init container with NET_ADMIN and NET_RAW,
// and namespaces that enforce the Pod Security Standard baseline or restricted can join the mesh.
// The CNI agent is the data-plane mode meshkeeper runs next to the sidecar; ambient mode (ztunnel)
// would be another.
type CNISpec struct {
	// Enabled installs the CNI node agent and makes injection use it. Unset, a new ServiceMesh runs
	// it, and a ServiceMesh that meshkeeper managed before it knew about CNI keeps running without
	// it until this field is set; status.cni says which applies (see docs/api.md).
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Namespace is where the istio-cni release and its DaemonSet run: the control-plane namespace
	// (spec.namespace, the default) or kube-system, which platforms such as GKE require for pods of
	// priority system-node-critical. Like spec.namespace it must be one the operator's installer allowed
	// (--control-plane-namespaces, by default only istio-system): kube-system is refused with Ready
	// False, reason NamespaceNotAllowed, unless the installer added it.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$`
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// CNIBinDir is the node's directory of CNI plugin binaries. Empty means /opt/cni/bin (on GKE, which
	// the chart detects, /home/kubernetes/bin); k3s uses /var/lib/rancher/k3s/data/cni.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._/-]*)?$`
	// +optional
	CNIBinDir string `json:"cniBinDir,omitempty"`

	// CNIConfDir is the node's directory of CNI network configurations. Empty means /etc/cni/net.d;
	// k3s uses /var/lib/rancher/k3s/agent/etc/cni/net.d.
	// +kubebuilder:validation:MaxLength=1024
	// +kubebuilder:validation:Pattern=`^(/[A-Za-z0-9._/-]*)?$`
	// +optional
	CNIConfDir string `json:"cniConfDir,omitempty"`

	// Chained adds Istio's plugin to the node's existing CNI configuration (a plugin chain); false
	// installs it as a configuration of its own.
	// +kubebuilder:default=true
	// +optional
	Chained *bool `json:"chained,omitempty"`

	// ExcludeNamespaces are namespaces whose pods the CNI plugin never touches, in addition to
	// kube-system. While the agent runs, a namespace listed here is not enrolled (NamespacesEnrolled
	// reason CNIExcludesNamespace): its injected pods would find no traffic redirection and never start.
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`

	// Resources are the CNI agent container's requests and limits. Empty means the chart's (100m CPU
	// and 100Mi memory requested); set, the container gets exactly these, nothing of the chart's.
	// +optional
	Resources corev1.ResourceRequirements `json:"resources,omitempty"`

	// Tolerations of the CNI agent's pods. Unset means every taint is tolerated, as node agents do: a
	// node without the agent cannot start meshed pods. Set, it replaces that list. An empty list is
	// refused: clients that drop empty lists would turn it into unset, so whether the agent tolerated
	// every taint or none would depend on the tool that wrote it. Each toleration is checked as the API
	// server checks a pod's, so that a typo is refused here rather than by the agent's DaemonSet (keys
	// and values that are not label keys and values as InvalidSpec).
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:XValidation:rule="size(self) > 0",message="cni.tolerations must not be an empty list: leave it out to tolerate every taint (the default), or list the tolerations the agent should have"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator in ['', 'Exists', 'Equal']",message="a toleration's operator must be Exists or Equal (empty means Equal); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.effect) || self.effect in ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute']",message="a toleration's effect must be NoSchedule, PreferNoSchedule or NoExecute (empty means all three); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",message="a toleration with operator Exists must have no value; the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",message="a toleration without a key must have operator Exists (it then tolerates every taint); the API server would refuse the pods"
	// +kubebuilder:validation:items:XValidation:rule="!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",message="a toleration's tolerationSeconds needs effect NoExecute; the API server would refuse the pods"
	// +optional
	Tolerations []corev1.Toleration `json:"tolerations,omitempty"`

	// PriorityClassName is the PriorityClass of the CNI agent's pods. The default, system-node-critical,
	// keeps the agent scheduled and running on a full node, since a node without it cannot start meshed
	// pods. Some platforms admit pods of that class only in kube-system (see namespace). A class other
	// than the two built-in ones must exist, or the agent's pods are not created.
	// +kubebuilder:default=system-node-critical
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	PriorityClassName string `json:"priorityClassName,omitempty"`
}

// CNIStatus reports the CNI node agent.
type CNIStatus struct {
	// Enabled tells whether meshkeeper runs the CNI node agent and injects for it.
	Enabled bool `json:"enabled"`

	// EnabledBy says where enabled comes from: Spec (spec.cni.enabled), NewMesh (unset on a
	// ServiceMesh meshkeeper had not reconciled before: on) or ExistingMesh (unset on a ServiceMesh
	// meshkeeper managed before it knew about CNI: off). meshkeeper keeps this decision while
	// spec.cni.enabled stays unset.
	// +kubebuilder:validation:Enum=Spec;NewMesh;ExistingMesh
	EnabledBy CNIDecision `json:"enabledBy"`

	// Namespace is where the istio-cni release is installed; empty when it is not.
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// InjectorPending tells that the agent is installed while istiod still injects the privileged
	// istio-init container: a running mesh that turned CNI on, until istiod is installed again to inject
	// for the agent (the pass after the agent is ready on every node that should run it, as CNIReady
	// says until then, or later while that install fails). Namespaces
	// whose Pod Security level rejects istio-init are enrolled only once it is false.
	// +optional
	InjectorPending bool `json:"injectorPending,omitempty"`

	// ExcludeNamespaces are the namespaces the agent may still leave alone on some node:
	// spec.cni.excludeNamespaces, and, until a change of it has rolled out to every node (CNIReady
	// Available), the namespaces it listed before, which the agent's older pods still leave alone (it
	// reads them only as it starts). A namespace taken out of spec.cni.excludeNamespaces is enrolled only
	// once it is gone from here: its pods, injected for the agent, would otherwise fail in
	// istio-validation on the nodes where the old pods run.
	// +optional
	ExcludeNamespaces []string `json:"excludeNamespaces,omitempty"`

	// DesiredNodes is the number of nodes that should run the agent.
	// +optional
	DesiredNodes int32 `json:"desiredNodes,omitempty"`

	// ReadyNodes is the number of nodes that run an available agent pod of its DaemonSet's current
	// template: during a rollout, a node whose old pod is still ready is not counted.
	// +optional
	ReadyNodes int32 `json:"readyNodes,omitempty"`
}

// CNIDecision says where status.cni.enabled comes from.
type CNIDecision string

const (
	// CNIBySpec means spec.cni.enabled says it.
	CNIBySpec CNIDecision = "Spec"
	// CNIByNewMesh means spec.cni.enabled is unset on a ServiceMesh meshkeeper had not reconciled before.
	CNIByNewMesh CNIDecision = "NewMesh"
	// CNIByExistingMesh means spec.cni.enabled is unset on a ServiceMesh that meshkeeper managed before
	// it knew about CNI, whose pods run with istio-init; it stays so until the user sets the field.
	CNIByExistingMesh CNIDecision = "ExistingMesh"
)

// CNIEnabled decides whether the mesh runs the CNI node agent, and why. spec.cni.enabled decides when
// set. Unset, the decision meshkeeper recorded in status.cni stands; without one, a ServiceMesh that
// was never reconciled (no status yet) is new and gets CNI, and one with a status from a meshkeeper
// that did not know about CNI keeps running without it. A CRD default cannot tell the two apart: the
// API server applies defaults to stored objects too when it reads them.
func (m *ServiceMesh) CNIEnabled() (bool, CNIDecision) {
	switch {
	case m.Spec.CNI.Enabled != nil:
		return *m.Spec.CNI.Enabled, CNIBySpec
	case m.Status.CNI != nil && m.Status.CNI.EnabledBy != "":
		return m.Status.CNI.Enabled, m.Status.CNI.EnabledBy
	case m.Status.ObservedGeneration == 0 && len(m.Status.Conditions) == 0:
		return true, CNIByNewMesh
	default:
		return false, CNIByExistingMesh
	}
}

// CNINamespace is the namespace of the istio-cni release: spec.cni.namespace, or the control-plane
// namespace when that is empty.
func (s *ServiceMeshSpec) CNINamespace() string {
	if s.CNI.Namespace != "" {
		return s.CNI.Namespace
	}
	return s.Namespace
}

// ConditionCNIReady reports the CNI node agent: True when it is off, or when its DaemonSet runs its
// current version ready and available on every node that should run it.
const ConditionCNIReady = "CNIReady"

// Reasons of CNIReady and of the Pod Security check of enrollment; docs/enrollment.md and
// docs/control-plane.md say what each means and what to do.
const (
	// ReasonCNIDisabled: the mesh runs without the CNI node agent (status.cni.enabledBy says why).
	ReasonCNIDisabled = "CNIDisabled"
	// ReasonDaemonSetMissing: the istio-cni-node DaemonSet does not exist yet.
	ReasonDaemonSetMissing = "DaemonSetMissing"
	// ReasonNodesNotReady: the CNI agent is not ready and available on some nodes (the message names them
	// when their pods say so).
	ReasonNodesNotReady = "NodesNotReady"
	// ReasonWaitingForControlPlane: the CNI agent runs another Istio version than the one the spec asks
	// for, and moves to it once istiod runs that version on every replica: Istio's agent may lag the
	// control plane, never lead it. Or CNI is off while the istiod without a revision, left as it is
	// during a switch to RevisionBased, may still inject pods for the agent: the agent is removed once
	// the default tag moves off that istiod.
	ReasonWaitingForControlPlane = "WaitingForControlPlane"
	// ReasonPodSecurityRejectsAgent: the CNI agent's namespace enforces a Pod Security level other than
	// privileged, which rejects the agent's privileged pods; meshkeeper installs or changes no agent
	// there until the namespace admits them.
	ReasonPodSecurityRejectsAgent = "PodSecurityRejectsAgent"
	// ReasonPodSecurityRejectsSidecar: a namespace the spec selects enforces a Pod Security level
	// (pod-security.kubernetes.io/enforce) that rejects what injection adds: the istio-init container
	// injected without CNI (baseline and restricted reject it), or a sidecar a key of spec.values makes
	// privileged (a sidecar that runs as root only restricted); meshkeeper does not enroll it. Turning on spec.cni.enabled, or removing that key, lets it join.
	// For the ingress-nginx controller's namespace, meshkeeper sets none of its sidecar settings.
	ReasonPodSecurityRejectsSidecar = "PodSecurityRejectsSidecar"
	// ReasonCNIExcludesNamespace: a namespace the spec selects is in spec.cni.excludeNamespaces while
	// the CNI agent redirects the injected pods' traffic. Their istio-validation init container finds no
	// redirection there and fails, so they would never start; meshkeeper does not enroll it. For the
	// ingress-nginx controller's namespace, meshkeeper sets none of its sidecar settings.
	ReasonCNIExcludesNamespace = "CNIExcludesNamespace"
)
