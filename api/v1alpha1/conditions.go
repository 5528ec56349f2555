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

// Condition types of a ServiceMesh. Ready summarises the others: it is True only when every other
// condition is True, except DataPlaneUpToDate, which reports pods only their owners can restart and
// does not hold Ready back.
const (
	ConditionReady               = "Ready"
	ConditionControlPlaneReady   = "ControlPlaneReady"
	ConditionNamespacesEnrolled  = "NamespacesEnrolled"
	ConditionIngressesConfigured = "IngressesConfigured"
	ConditionPoliciesApplied     = "PoliciesApplied"
	ConditionDataPlaneUpToDate   = "DataPlaneUpToDate"
	ConditionMTLSReady           = "MTLSReady"
)

// Condition reasons. They are part of the API: alerts and runbooks match on them.
const (
	// ReasonReconciling: meshkeeper is working towards the spec.
	ReasonReconciling = "Reconciling"
	// ReasonInvalidSpec: the spec passed validation but cannot be carried out (see the message).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSucceeded: the condition holds.
	ReasonSucceeded = "Succeeded"
)

// Reasons of ControlPlaneReady; docs/control-plane.md says what each means and what to do.
const (
	// ReasonAvailable: istiod's replicas are all updated and available.
	ReasonAvailable = "Available"
	// ReasonRollingOut: istiod is being rolled out.
	ReasonRollingOut = "RollingOut"
	// ReasonDeploymentMissing: the istiod Deployment does not exist yet.
	ReasonDeploymentMissing = "DeploymentMissing"
	// ReasonChartNotFound: the charts of spec.version cannot be had; terminal for the generation.
	ReasonChartNotFound = "ChartNotFound"
	// ReasonRepositoryUnreachable: the chart repository could not be asked; retried.
	ReasonRepositoryUnreachable = "ChartRepositoryUnreachable"
	// ReasonRepositoryNotAllowed: spec.charts.repository is not among the chart repositories the
	// operator's installer allowed (--allowed-chart-repositories); terminal for the generation.
	ReasonRepositoryNotAllowed = "RepositoryNotAllowed"
	// ReasonImageHubNotAllowed: an image hub of the spec (spec.images.hub, or a hub or image in
	// spec.values) is not among the hubs the operator's installer allowed (--allowed-image-hubs);
	// terminal for the generation.
	ReasonImageHubNotAllowed = "ImageHubNotAllowed"
	// ReasonInstallFailed: a Helm install or upgrade failed; retried.
	ReasonInstallFailed = "InstallFailed"
	// ReasonNamespaceTerminating: the control-plane namespace is still being deleted.
	ReasonNamespaceTerminating = "NamespaceTerminating"
)

// Reasons of NamespacesEnrolled.
const (
	// ReasonEnrolled: every namespace the spec selects carries the injection label.
	ReasonEnrolled = "Enrolled"
	// ReasonInjectionLabelConflict: a selected namespace keeps an injection label its user set.
	ReasonInjectionLabelConflict = "InjectionLabelConflict"
)

// Reasons of IngressesConfigured besides the decision reasons of internal/policy (Configured,
// IngressNginxDisabled, ControllerNotFound, HostNetwork, AnnotationConflict, and the reason Ingresses
// are skipped for when they share one); docs/ingress-nginx.md says what each means and what to do.
const (
	// ReasonIngressesSkipped: mesh Ingresses are left unchanged for more than one reason.
	ReasonIngressesSkipped = "IngressesSkipped"
)

// Reasons of DataPlaneUpToDate; docs/proxies.md.
const (
	// ReasonProxiesUpToDate: every counted pod of the enrolled namespaces runs the current sidecar.
	ReasonProxiesUpToDate = "UpToDate"
	// ReasonRestartNeeded: pods run without a sidecar or with an outdated one until restarted.
	ReasonRestartNeeded = "RestartNeeded"
)

// Reasons of PoliciesApplied and MTLSReady; docs/policies.md.
const (
	// ReasonPoliciesApplied: every PeerAuthentication and Sidecar meshkeeper generates is in place.
	ReasonPoliciesApplied = "Applied"
	// ReasonPolicyConflict: a namespace has its own PeerAuthentication or Sidecar named "default",
	// which meshkeeper leaves alone.
	ReasonPolicyConflict = "PolicyConflict"
	// ReasonMalformedEgressHosts: a namespace's mesh.meshkeeper.io/egress-hosts annotation has entries
	// that are left out of its Sidecar (an Event on the Namespace).
	ReasonMalformedEgressHosts = "MalformedEgressHosts"
	// ReasonIstioCRDsMissing: the Istio CRDs are not served yet, so no policy can be written.
	ReasonIstioCRDsMissing = "IstioCRDsMissing"
	// ReasonNoPlaintextClients: no enrolled namespace under STRICT mTLS has a pod without a sidecar,
	// and the ingress-nginx controller, if integrated, has its sidecar.
	ReasonNoPlaintextClients = "NoPlaintextClients"
	// ReasonPlaintextClients: under STRICT mTLS, pods without a sidecar (or the ingress-nginx
	// controller without one) send plaintext that their servers will reject.
	ReasonPlaintextClients = "PlaintextClients"
)

// Names meshkeeper uses on the objects it writes.
const (
	// FieldManager is the server-side apply field manager of every write meshkeeper makes.
	FieldManager = "meshkeeper"
	// Finalizer keeps the ServiceMesh until meshkeeper has removed what it installed.
	Finalizer = "mesh.meshkeeper.io/finalizer"
	// ServiceMeshName is the only allowed name of a ServiceMesh.
	ServiceMeshName = "default"
)
