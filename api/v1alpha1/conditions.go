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
//
// Reconciling and Stalled are kstatus' abnormal-true conditions (sigs.k8s.io/cli-utils/pkg/kstatus,
// which Helm's --wait, Flux and kpt read), present only while True: Reconciling while meshkeeper is
// still working towards the spec (installing, rolling out, enrolling, retrying a failure that may pass),
// Stalled when it cannot get there without a person: a failure that retrying cannot fix
// (ChartNotFound, InvalidSpec) or a conflict or skip that only a change to the spec or to the
// cluster's objects resolves. Neither is present when the mesh is Ready.
const (
	ConditionReady               = "Ready"
	ConditionReconciling         = "Reconciling"
	ConditionStalled             = "Stalled"
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
	// ReasonUninstallBlocked (Ready, on a ServiceMesh being deleted): the control plane is uninstalled,
	// but some objects refused to give back what meshkeeper wrote on them (an admission webhook or policy
	// denies the change), or taking it back failed without a refusal; they are named, retried with
	// backoff, and the finalizer stays until then.
	ReasonUninstallBlocked = "UninstallBlocked"
	// ReasonUninstallFailed (Ready, on a ServiceMesh being deleted; ControlPlaneReady and CNIReady for
	// what was being uninstalled): a step of the uninstall failed, the uninstall of a Helm release above
	// all (an API error deleting one of its objects); the message has the release and the error. Retried
	// with backoff, and the finalizer stays until then.
	ReasonUninstallFailed = "UninstallFailed"
)

// Reasons of ControlPlaneReady; docs/control-plane.md says what each means and what to do.
const (
	// ReasonAvailable: istiod's replicas are all updated and available.
	ReasonAvailable = "Available"
	// ReasonRollingOut: istiod is being rolled out.
	ReasonRollingOut = "RollingOut"
	// ReasonProgressDeadlineExceeded: istiod's rollout made no progress for the Deployment's
	// progressDeadlineSeconds (its Progressing condition says ProgressDeadlineExceeded): its new pods
	// cannot be pulled, scheduled or started, which only a person can fix.
	ReasonProgressDeadlineExceeded = "ProgressDeadlineExceeded"
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
	// ReasonNamespaceNotAllowed: spec.namespace or spec.cni.namespace is not among the namespaces the
	// operator's installer allowed (--control-plane-namespaces), where meshkeeper may keep Helm's
	// release Secrets; terminal for the generation, nothing is installed or changed.
	ReasonNamespaceNotAllowed = "NamespaceNotAllowed"
	// ReasonInstallFailed: a Helm install or upgrade failed; retried.
	ReasonInstallFailed = "InstallFailed"
	// ReasonNamespaceTerminating: the control-plane namespace is still being deleted.
	ReasonNamespaceTerminating = "NamespaceTerminating"
)

// controlPlaneReadyReasons classifies every reason ControlPlaneReady carries: true for those that judge
// istiod's rollout once the control plane is installed (the servicemesh controller reads them off the
// istiod Deployment), false for those of a control-plane phase that failed, or of an uninstall, which
// leave istiod injecting what it was last installed with. The restart controller restarts no workload
// onto the latter (a restarted pod would get the sidecar of the values before), so a reason of the
// control plane's missing here, or in the wrong class, would let restarts run ahead of a failed install.
var controlPlaneReadyReasons = map[string]bool{
	ReasonAvailable:                true,
	ReasonRollingOut:               true,
	ReasonProgressDeadlineExceeded: true,
	ReasonDeploymentMissing:        true,

	ReasonChartNotFound:         false,
	ReasonRepositoryUnreachable: false,
	ReasonRepositoryNotAllowed:  false,
	ReasonImageHubNotAllowed:    false,
	ReasonNamespaceNotAllowed:   false,
	ReasonInstallFailed:         false,
	ReasonNamespaceTerminating:  false,
	ReasonInvalidSpec:           false,
	ReasonUpgradeNotSupported:   false,
	ReasonUninstallFailed:       false,
	ReasonUninstallBlocked:      false,
}

// IsRolloutReason tells whether reason, of ControlPlaneReady, judges istiod's rollout, the control plane
// being installed for the generation the condition observed. Any other reason, an install's failure
// among them, is not one.
func IsRolloutReason(reason string) bool {
	return controlPlaneReadyReasons[reason]
}

// IsControlPlaneReadyReason tells whether ControlPlaneReady may carry reason, in either class of
// IsRolloutReason.
func IsControlPlaneReadyReason(reason string) bool {
	_, ok := controlPlaneReadyReasons[reason]
	return ok
}

// Reasons of NamespacesEnrolled, and of meshkeeper's decision about each namespace (internal/policy
// decides; its Events carry these reasons).
const (
	// ReasonEnrolled: every namespace the spec selects carries the injection label.
	ReasonEnrolled = "Enrolled"
	// ReasonInjectionLabelConflict: a selected namespace carries an injection label meshkeeper did not
	// set and would have to change; meshkeeper leaves it alone.
	ReasonInjectionLabelConflict = "InjectionLabelConflict"
	// ReasonNamespaceWriteRefused: the API server refuses meshkeeper's write of the injection label of
	// some namespaces, putting it on or taking it back (an admission webhook or policy of the cluster's
	// that forbids the label there). meshkeeper retries with backoff; the change must be allowed, or the
	// namespaces taken out of spec.injection.
	ReasonNamespaceWriteRefused = "NamespaceWriteRefused"
	// ReasonListed: the namespace is named in spec.injection.namespaces.
	ReasonListed = "Listed"
	// ReasonSelectorMatched: the namespace's labels match spec.injection.namespaceSelector.
	ReasonSelectorMatched = "SelectorMatched"
	// ReasonNotSelected: the namespace is neither listed nor matched by the selector.
	ReasonNotSelected = "NotSelected"
	// ReasonSystemNamespace: Istio's injector never injects the pods of kube-system, kube-public,
	// kube-node-lease and local-path-storage, and meshkeeper never enrolls them.
	ReasonSystemNamespace = "SystemNamespace"
	// ReasonControlPlaneNamespace: istiod's own namespace (spec.namespace) is never injected.
	ReasonControlPlaneNamespace = "ControlPlaneNamespace"
	// ReasonTerminating: the object is being deleted; there is nothing to write.
	ReasonTerminating = "Terminating"
)

// Reasons of IngressesConfigured, and of meshkeeper's decision about the ingress-nginx controller and
// each Ingress (internal/policy decides; status.ingresses.skippedByReason counts the skips by these
// reasons); docs/ingress-nginx.md says what each means and what to do.
const (
	// ReasonIngressesSkipped: mesh Ingresses are left unchanged for more than one reason.
	ReasonIngressesSkipped = "IngressesSkipped"
	// ReasonConfigured: the object carries everything the mesh needs from meshkeeper.
	ReasonConfigured = "Configured"
	// ReasonIngressNginxDisabled: spec.ingressNginx.enabled is false, so meshkeeper configures neither
	// the controller nor any Ingress, and removes what it wrote before.
	ReasonIngressNginxDisabled = "IngressNginxDisabled"
	// ReasonControllerNotFound: the workload named by spec.ingressNginx.controller does not exist.
	ReasonControllerNotFound = "ControllerNotFound"
	// ReasonHostNetwork: the ingress-nginx controller runs in the node's network namespace, where a
	// sidecar cannot be added.
	ReasonHostNetwork = "HostNetwork"
	// ReasonAnnotationConflict: a label or annotation meshkeeper would set already has another value
	// that meshkeeper did not set; meshkeeper keeps it and sets none of its own on that object.
	ReasonAnnotationConflict = "AnnotationConflict"
	// ReasonNamespaceInjectionDisabled: the ingress-nginx controller's namespace has an istio-injection
	// label other than "enabled", which keeps Istio's injector away from every pod there; meshkeeper
	// sets none of its sidecar settings on the controller.
	ReasonNamespaceInjectionDisabled = "NamespaceInjectionDisabled"
	// ReasonNamespaceNeverInjected: the ingress-nginx controller runs in a namespace whose pods Istio's
	// injector never injects (kube-system, kube-public, kube-node-lease, local-path-storage), whatever
	// their labels; meshkeeper sets none of its sidecar settings on the controller.
	ReasonNamespaceNeverInjected = "NamespaceNeverInjected"
	// ReasonCustomAnnotationsPrefix: the ingress-nginx controller runs with --annotations-prefix set to
	// another prefix than nginx.ingress.kubernetes.io, under which it would not read service-upstream
	// and upstream-vhost as meshkeeper writes them; meshkeeper sets none of its sidecar settings on the
	// controller, and annotates no Ingress.
	ReasonCustomAnnotationsPrefix = "CustomAnnotationsPrefix"
	// ReasonClassNotServed: the Ingress belongs to a class the mesh's ingress-nginx controller does not
	// serve.
	ReasonClassNotServed = "ClassNotServed"
	// ReasonClassNotListed: the Ingress, in an enrolled namespace, belongs to a class that
	// spec.ingressNginx.ingressClassNames does not list but that the mesh's ingress-nginx controller
	// serves (an IngressClass of its --controller-class, or its --ingress-class): nginx sends its requests
	// to the pods' IPs in plaintext, past the controller's sidecar.
	ReasonClassNotListed = "ClassNotListed"
	// ReasonControllerWithoutSidecar: the ingress-nginx controller gets no sidecar (hostNetwork, a
	// conflict on its pod template, a namespace the injector never injects or that keeps it out or whose Pod Security level
	// rejects istio-init, another annotations prefix, or it does not exist), so a mesh Ingress gets no annotations: nginx
	// would send plaintext to the Service's ClusterIP, which STRICT mTLS rejects. IngressesConfigured
	// then carries the controller's reason.
	ReasonControllerWithoutSidecar = "ControllerWithoutSidecar"
	// ReasonNamespaceNotEnrolled: the Ingress's namespace is not in the mesh.
	ReasonNamespaceNotEnrolled = "NamespaceNotEnrolled"
	// ReasonNoBackend: the Ingress names no backend at all.
	ReasonNoBackend = "NoBackend"
	// ReasonResourceBackend: a backend of the Ingress is a resource reference, not a Service.
	ReasonResourceBackend = "ResourceBackend"
	// ReasonMultipleBackendServices: the Ingress sends to more than one Service, and upstream-vhost can
	// name only one.
	ReasonMultipleBackendServices = "MultipleBackendServices"
	// ReasonServiceMissing: the backend Service does not exist.
	ReasonServiceMissing = "ServiceMissing"
	// ReasonServiceExternalName: the backend Service is of type ExternalName and has no ClusterIP.
	ReasonServiceExternalName = "ServiceExternalName"
	// ReasonServiceHeadless: the backend Service is headless (clusterIP: None).
	ReasonServiceHeadless = "ServiceHeadless"
	// ReasonServiceNotCaptured: the backend Service's ClusterIP lies outside the Service ranges the
	// ingress-nginx controller's sidecar captures (spec.ingressNginx.serviceCIDRs, or the cluster's
	// ServiceCIDRs), so nginx would reach it past the sidecar, in plaintext.
	ReasonServiceNotCaptured = "ServiceNotCaptured"
	// ReasonServiceNotExported: Istio does not export the backend Service to the ingress-nginx
	// controller's namespace (its networking.istio.io/exportTo annotation, or the mesh's
	// meshConfig.defaultServiceExportTo without one), so the controller's sidecar knows no route to it
	// and would pass nginx's requests on in plaintext.
	ReasonServiceNotExported = "ServiceNotExported"
	// ReasonSharedUpstream: the Ingress sends to a Service port that another mesh Ingress of its
	// namespace, which meshkeeper cannot configure, sends to too (directly or through other Ingresses).
	// ingress-nginx builds one upstream for them, whose service-upstream the oldest of them decides, so
	// meshkeeper configures such Ingresses all or none.
	ReasonSharedUpstream = "SharedUpstream"
	// ReasonCanaryIngress: the Ingress is an ingress-nginx canary (nginx.ingress.kubernetes.io/canary:
	// "true"). nginx merges it into the main Ingress's location, whose upstream-vhost names the main
	// Service, so the controller's sidecar would route the canary's share to the main Service.
	ReasonCanaryIngress = "CanaryIngress"
	// ReasonServiceCIDRsUnknown: spec.ingressNginx.serviceCIDRs is unset and the cluster does not tell
	// its Service ranges (no networking.k8s.io/v1 ServiceCIDR API, which Kubernetes serves from 1.33 on,
	// or no Ready ServiceCIDR), so meshkeeper configures neither the controller nor any Ingress until
	// the ranges are known.
	ReasonServiceCIDRsUnknown = "ServiceCIDRsUnknown"
	// ReasonIngressWriteRefused: the API server refuses meshkeeper's write of the service-upstream and
	// upstream-vhost annotations of some Ingresses, putting them on or taking them back (an admission
	// webhook or policy of the cluster's, or ingress-nginx's own admission webhook while the controller
	// has no ready pod to answer it). meshkeeper retries with backoff; the change must be allowed, or
	// the webhook made to answer.
	ReasonIngressWriteRefused = "IngressWriteRefused"
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
	// ReasonPolicyConflict: a namespace has its own PeerAuthentication or Sidecar named "default" (or
	// one applying to the whole namespace), which meshkeeper leaves alone; or one of meshkeeper's holds
	// fields someone else added, which meshkeeper's server-side apply cannot remove.
	ReasonPolicyConflict = "PolicyConflict"
	// ReasonMalformedEgressHosts: a namespace's mesh.meshkeeper.io/egress-hosts annotation has entries
	// that are left out of its Sidecar (an Event on the Namespace).
	ReasonMalformedEgressHosts = "MalformedEgressHosts"
	// ReasonValuesOverrideSpec: keys of spec.values replace what fields of the spec render, so those
	// fields are not what istiod or the injector use (a Warning Event on the ServiceMesh, at each install
	// or upgrade of istiod).
	ReasonValuesOverrideSpec = "ValuesOverrideSpec"
	// ReasonIstioCRDsMissing: the Istio CRDs are not served yet, so no policy can be written.
	ReasonIstioCRDsMissing = "IstioCRDsMissing"
	// ReasonNoPlaintextClients: no enrolled namespace under STRICT mTLS has a pod without a sidecar,
	// and the ingress-nginx controller, if integrated, has its sidecar.
	ReasonNoPlaintextClients = "NoPlaintextClients"
	// ReasonPlaintextClients: under STRICT mTLS, pods without a sidecar (or the ingress-nginx
	// controller without one) send plaintext that their servers will reject.
	ReasonPlaintextClients = "PlaintextClients"
	// ReasonStrictNamespacesNotEnrolled: spec.mtls.namespaces sets STRICT in namespaces that are not
	// enrolled. A PeerAuthentication is enforced by the sidecars of the pods it applies to, and their
	// pods have none: they accept plaintext from any client, whatever their PeerAuthentication says.
	ReasonStrictNamespacesNotEnrolled = "StrictNamespacesNotEnrolled"
)

// Names meshkeeper uses on the objects it writes.
const (
	// FieldManager is the server-side apply field manager of every write meshkeeper makes.
	FieldManager = "meshkeeper"
	// Finalizer keeps the ServiceMesh until meshkeeper has removed what it installed.
	Finalizer = "mesh.meshkeeper.io/finalizer"
	// ServiceMeshName is the only allowed name of a ServiceMesh.
	ServiceMeshName = "default"
	// ManagedByLabel marks every object meshkeeper writes whole (what its charts render, the policies
	// it generates), so watches and caches can select them. It is not app.kubernetes.io/managed-by:
	// Helm sets that label to "Helm" on every release object and checks it to decide which release
	// owns an object.
	ManagedByLabel = "mesh.meshkeeper.io/managed-by"
	// ManagedByValue is meshkeeper's value of ManagedByLabel.
	ManagedByValue = "meshkeeper"
)
