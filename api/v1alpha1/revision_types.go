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
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// UpdateStrategyType says how a change of spec.version reaches the control plane.
// +kubebuilder:validation:Enum=InPlace;RevisionBased
type UpdateStrategyType string

const (
	// UpdateInPlace upgrades the one istiod in place: every proxy talks to the new istiod at once.
	UpdateInPlace UpdateStrategyType = "InPlace"
	// UpdateRevisionBased installs each version as its own revision beside the running one and moves
	// the default revision tag to it once it is ready (a canary upgrade).
	UpdateRevisionBased UpdateStrategyType = "RevisionBased"
)

// UpdateStrategySpec says how Istio version changes are carried out.
// +kubebuilder:validation:XValidation:rule="!has(self.canary) || !has(self.canary.namespaces) || size(self.canary.namespaces) == 0 || (has(self.type) && self.type == 'RevisionBased')",message="updateStrategy.canary needs updateStrategy.type RevisionBased: with InPlace there is no second revision to serve the canary namespaces, and a change of version would reach every namespace at once; set type: RevisionBased, or remove canary"
type UpdateStrategySpec struct {
	// Type is InPlace (one istiod, upgraded in place; the default) or RevisionBased (one istiod per
	// version, side by side, with the default revision tag moved to the new one once it is ready).
	// +kubebuilder:default=InPlace
	// +optional
	Type UpdateStrategyType `json:"type,omitempty"`

	// InactiveRevisionDeletionGracePeriod is how long a revision that no tag, namespace or pod uses any
	// more is kept before it is removed (RevisionBased only). A revision that a pod still uses is never
	// removed, nor one that a workload's pod template names with istio.io/rev. At most 8760h (a year).
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) <= duration('8760h')",message="updateStrategy.inactiveRevisionDeletionGracePeriod must be at most 8760h (a year)"
	// +optional
	InactiveRevisionDeletionGracePeriod *metav1.Duration `json:"inactiveRevisionDeletionGracePeriod,omitempty"`

	// Canary lists enrolled namespaces a new revision serves first, while the default tag stays on the
	// previous revision. RevisionBased only: with InPlace a non-empty list is refused. Emptying or
	// removing it moves the tag.
	// +optional
	Canary *CanarySpec `json:"canary,omitempty"`
}

// CanarySpec names the namespaces a new revision serves before all others.
type CanarySpec struct {
	// Namespaces are enrolled namespaces whose injection label names the newest revision while the
	// default tag stays on the previous one.
	// +listType=set
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
}

// RevisionState is the role of one installed revision.
// +kubebuilder:validation:Enum=Active;Canary;Draining
type RevisionState string

const (
	// RevisionActive means the default tag points at the revision.
	RevisionActive RevisionState = "Active"
	// RevisionCanary means the revision serves the canary namespaces; the tag is still on another revision.
	RevisionCanary RevisionState = "Canary"
	// RevisionDraining means nothing new is injected by the revision; it stays while pods use it, and is
	// removed once it has been unused for the grace period.
	RevisionDraining RevisionState = "Draining"
)

// RevisionStatus is one installed revision of the control plane.
type RevisionStatus struct {
	// Name is the revision: the Istio version with dots as dashes (1.31.1 is 1-31-1), or "default" for
	// the istiod installed without a revision.
	Name string `json:"name"`
	// Version is the Istio version the revision runs.
	// +optional
	Version string `json:"version,omitempty"`
	// State is Active, Canary or Draining.
	State RevisionState `json:"state"`
	// Ready tells whether the revision's istiod is rolled out and available.
	Ready bool `json:"ready"`
	// Proxies counts the pods whose sidecar the revision injected.
	Proxies int32 `json:"proxies"`
	// UnusedSince is when a Draining revision was last seen unused (no tag, canary namespace, namespace
	// label or pod); it is removed once unused for the grace period from then, across restarts of
	// meshkeeper.
	// +optional
	UnusedSince *metav1.Time `json:"unusedSince,omitempty"`
}

// Reasons of the revision-based upgrade (ControlPlaneReady and Ready, and the Events of each step);
// docs/upgrade.md says what each means.
const (
	// ReasonUpgradeNotSupported: the change of version (or of strategy) is outside what Istio supports
	// (a minor version jump too wide, a downgrade below the running CRDs, a Kubernetes version outside
	// the new version's range); nothing was changed, and the message names the path that works.
	ReasonUpgradeNotSupported = "UpgradeNotSupported"
	// ReasonTagMoved: the default revision tag now points at another revision (an Event).
	ReasonTagMoved = "TagMoved"
	// ReasonRevisionDraining: a revision lost its tag and stays while pods use it (an Event).
	ReasonRevisionDraining = "RevisionDraining"
	// ReasonRevisionPruned: an unused revision was removed after the grace period (an Event).
	ReasonRevisionPruned = "RevisionPruned"
	// ReasonRevisionPruneBlocked: an unused revision's grace period ended, and a webhook configuration
	// meshkeeper does not own (a revision tag made with istioctl, say) still sends requests to its istiod,
	// or a workload's pod template names it with istio.io/rev (a CronJob between runs, a Deployment scaled
	// to 0); the revision stays until that webhook is removed or points elsewhere, and those workloads'
	// label names another revision or is removed (a Warning Event).
	ReasonRevisionPruneBlocked = "RevisionPruneBlocked"
	// ReasonCanaryNamespacesNotEnrolled: updateStrategy.canary.namespaces names namespaces that are not
	// enrolled (they do not exist, or spec.injection does not enroll them), which the canary revision
	// therefore never serves (a Warning Event, recorded when they change; ControlPlaneReady's message
	// names them while they last).
	ReasonCanaryNamespacesNotEnrolled = "CanaryNamespacesNotEnrolled"
	// ReasonRevisionNameShared: another Istio installation runs an istiod of the same revision name as a
	// revision of the mesh, in another namespace, and serves pods whose proxy names that revision: both
	// injectors select the same namespaces and pods, and webhook order decides which one injects (a
	// Warning Event, recorded when they change; ControlPlaneReady's message names them while they last).
	ReasonRevisionNameShared = "RevisionNameShared"
)
