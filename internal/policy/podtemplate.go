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

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// holdUntilProxyStarts keeps nginx from starting before its sidecar can route: until then, requests
// to ClusterIPs would fail.
const holdUntilProxyStarts = `{"holdApplicationUntilProxyStarts": true}`

// PodTemplateInput is what the decision about the ingress-nginx controller workload looks at.
type PodTemplateInput struct {
	// IngressNginx is spec.ingressNginx.
	IngressNginx meshv1alpha1.IngressNginxSpec
	// Template is the workload's pod template, nil when the workload does not exist. Its
	// spec.hostNetwork is read from here.
	Template *corev1.PodTemplateSpec
	// OtherKind is, when the workload named does not exist (Template nil), the kind of the workload of
	// the other kind (Deployment or DaemonSet) with its namespace and name, "" when there is none. The
	// ingress-nginx chart runs its controller as either (controller.kind), under the same name, and a
	// helm upgrade that changes the kind replaces the one with the other.
	OtherKind string
	// OwnedLabels and OwnedAnnotations are the pod-template keys meshkeeper's field manager owns,
	// read from the workload's managedFields.
	OwnedLabels, OwnedAnnotations sets.Set[string]
	// OthersLabels and OthersAnnotations are the pod-template keys some other field manager owns (the
	// chart's podLabels and podAnnotations as Helm or Argo CD applied them, a kubectl edit), each with
	// those managers' names, read from the workload's managedFields. A key meshkeeper owns with one of
	// them holds their value too: meshkeeper cannot change it without taking it from them.
	OthersLabels, OthersAnnotations map[string][]string
	// NamespaceLabels are the labels of the workload's namespace: Istio's injector and the Pod Security
	// admission read them before the pod's own.
	NamespaceLabels map[string]string
	// NamespaceTerminating: the workload's namespace is being deleted, and nothing can be created in it
	// until it is gone (a finalizer may hold it for long).
	NamespaceTerminating bool
	// Privilege is why injected pods need what the Pod Security levels baseline and restricted reject
	// (PrivilegeOf).
	Privilege Privilege
	// CNIExcluded: the CNI plugin skips the workload's namespace while it redirects the injected pods
	// (Enrollment.CNIExcludes), so its injected pods would never start.
	CNIExcluded bool
	// IngressClassesForbidden: the API server answers that the service account the controller's pods
	// run as may not list IngressClasses (a controller installed with namespace-scoped RBAC only, or an
	// old ClusterRole). ingress-nginx lists them as it starts, and on that answer ignores
	// spec.ingressClassName (ClassSelection.IgnoresClassName).
	IngressClassesForbidden bool
}

// PodTemplateDecision says what meshkeeper owns on the controller's pod template. Applied with
// server-side apply as meshkeeper's whole set, empty maps remove what meshkeeper set before.
type PodTemplateDecision struct {
	Labels      map[string]string
	Annotations map[string]string
	// Configured is true when the pods get a sidecar that captures only traffic to Services.
	Configured bool
	// Reason is one of the constants of this package; Message explains it.
	Reason  string
	Message string
	// ServesIngressesWithoutClass: the controller serves the Ingresses that name no class (no
	// spec.ingressClassName, no legacy annotation), which it does only when its pod template runs it
	// with --watch-ingress-without-class set true (WatchesIngressesWithoutClass). It is read whatever
	// else is decided about the controller.
	ServesIngressesWithoutClass bool
	// Classes is how the controller picks the Ingresses it serves by class (ClassSelectionOf), read
	// whatever else is decided about it: an Ingress of a class it serves that
	// spec.ingressNginx.ingressClassNames does not list bypasses its sidecar (ClassNotListed).
	Classes ClassSelection
	// Namespaces is which namespaces' Ingresses the controller serves (NamespaceScopeOf), read whatever
	// else is decided about it: an Ingress of a namespace it does not watch is none of the mesh's, as
	// one of a class it does not serve (ClassNotServed).
	Namespaces NamespaceScope
}

// IngressNginxPodTemplate decides what meshkeeper adds to the ingress-nginx controller's pod template:
// a sidecar that leaves inbound traffic to nginx, captures only outbound traffic to the Service CIDRs,
// and starts before nginx. Its keys are all or nothing: any one of them kept at a user's value would
// leave a sidecar meshkeeper cannot vouch for, so on a conflict meshkeeper sets none.
func IngressNginxPodTemplate(in PodTemplateInput) PodTemplateDecision {
	if reason, message, matched := firstMatch(in,
		ingressNginxDisabled, controllerNotFound, customAnnotationsPrefix, hostNetwork, namespaceNeverInjected, namespaceInjectionDisabled, controllerPodSecurity,
		controllerCNIExcluded,
		podTemplateConflict,
	); matched {
		return PodTemplateDecision{Labels: map[string]string{}, Annotations: map[string]string{}, Reason: reason, Message: message,
			ServesIngressesWithoutClass: WatchesIngressesWithoutClass(in.Template), Classes: classSelection(in), Namespaces: NamespaceScopeOf(in.Template)}
	}
	labels, annotations := wantedPodTemplate(in.IngressNginx)
	classes, namespaces := classSelection(in), NamespaceScopeOf(in.Template)
	return PodTemplateDecision{
		Labels:      toOwn(in.Template.Labels, labels, in.OwnedLabels),
		Annotations: toOwn(in.Template.Annotations, annotations, in.OwnedAnnotations),
		Configured:  true,
		Reason:      Configured,
		Message: fmt.Sprintf("%s gets a sidecar that captures only outbound traffic to %s; inbound traffic stays with nginx",
			workloadName(in.IngressNginx), annotations[AnnotationIncludeOutboundIPRanges]) + classes.ClassNameNote(in.IngressNginx) + namespaces.Note(),
		ServesIngressesWithoutClass: WatchesIngressesWithoutClass(in.Template),
		Classes:                     classes,
		Namespaces:                  namespaces,
	}
}

// classSelection is how the controller picks its Ingresses by class: by its flags (ClassSelectionOf),
// ignoring spec.ingressClassName when its service account may not list IngressClasses.
func classSelection(in PodTemplateInput) ClassSelection {
	classes := ClassSelectionOf(in.Template)
	classes.IgnoresClassName = classes.Found && in.IngressClassesForbidden
	return classes
}

// PodTemplateKeys are every pod-template label and annotation key IngressNginxPodTemplate can own.
func PodTemplateKeys() sets.Set[string] {
	labels, annotations := wantedPodTemplate(meshv1alpha1.IngressNginxSpec{})
	return sets.KeySet(labels).Union(sets.KeySet(annotations))
}

// wantedPodTemplate is everything the controller's pod template needs for the mesh.
func wantedPodTemplate(spec meshv1alpha1.IngressNginxSpec) (labels, annotations map[string]string) {
	return map[string]string{SidecarInject: "true"}, map[string]string{
		AnnotationIncludeInboundPorts:     "",
		AnnotationIncludeOutboundIPRanges: strings.Join(spec.ServiceCIDRs, ","),
		AnnotationProxyConfig:             holdUntilProxyStarts,
	}
}

// workloadName names the controller workload in messages, as "Deployment ingress-nginx/controller".
func workloadName(spec meshv1alpha1.IngressNginxSpec) string {
	c := spec.Controller
	return fmt.Sprintf("%s %s/%s", c.Kind, c.Namespace, c.Name)
}

// IngressNginxEnabled tells whether spec.ingressNginx.enabled is true.
func IngressNginxEnabled(spec meshv1alpha1.IngressNginxSpec) bool {
	return enabled(spec)
}

func enabled(spec meshv1alpha1.IngressNginxSpec) bool {
	return spec.Enabled != nil && *spec.Enabled
}

func ingressNginxDisabled(in PodTemplateInput) (string, string, bool) {
	if enabled(in.IngressNginx) {
		return "", "", false
	}
	return IngressNginxDisabled, "spec.ingressNginx.enabled is false: the ingress-nginx controller gets no sidecar", true
}

func controllerNotFound(in PodTemplateInput) (string, string, bool) {
	if in.Template != nil {
		return "", "", false
	}
	c := in.IngressNginx.Controller
	if in.NamespaceTerminating {
		return ControllerNotFound, fmt.Sprintf("%s, named by spec.ingressNginx.controller, does not exist, and namespace %s is being deleted: "+
			"nothing can be created there until it is gone (kubectl get namespace %s -o yaml says what its deletion waits for). "+
			"Install ingress-nginx again once it is, and meshkeeper configures it",
			workloadName(in.IngressNginx), c.Namespace, c.Namespace), true
	}
	if in.OtherKind != "" {
		return ControllerNotFound, fmt.Sprintf("%s, named by spec.ingressNginx.controller, does not exist, but %s %s/%s does: "+
			"ingress-nginx runs there as a %s (the chart's controller.kind); set spec.ingressNginx.controller.kind to %s to put it in the mesh",
			workloadName(in.IngressNginx), in.OtherKind, c.Namespace, c.Name, in.OtherKind, in.OtherKind), true
	}
	return ControllerNotFound, fmt.Sprintf("%s, named by spec.ingressNginx.controller, does not exist; "+
		"install ingress-nginx there or point spec.ingressNginx.controller at its controller", workloadName(in.IngressNginx)), true
}

// customAnnotationsPrefix finds a controller that reads its Ingress annotations under another prefix
// than DefaultAnnotationsPrefix (AnnotationsPrefix). It would ignore meshkeeper's service-upstream and
// upstream-vhost and send to the pods' IPs, past its sidecar, in plaintext, while the Ingresses counted
// as routed through the mesh; so it gets no sidecar settings, and the Ingresses no annotations
// (ControllerWithoutSidecar).
func customAnnotationsPrefix(in PodTemplateInput) (string, string, bool) {
	prefix := AnnotationsPrefix(in.Template)
	if prefix == DefaultAnnotationsPrefix {
		return "", "", false
	}
	return CustomAnnotationsPrefix, fmt.Sprintf("%s runs with %s=%q, so it reads the annotations of Ingresses under that prefix only: "+
		"it would ignore meshkeeper's %s and %s and send to the pods' IPs, past its sidecar, in plaintext. "+
		"meshkeeper sets none of its sidecar settings on it and puts its annotations on no Ingress. "+
		"Run the controller without %s (or with %s=%s) to put it in the mesh",
		workloadName(in.IngressNginx), FlagAnnotationsPrefix, prefix, AnnotationServiceUpstream, AnnotationUpstreamVhost,
		FlagAnnotationsPrefix, FlagAnnotationsPrefix, DefaultAnnotationsPrefix), true
}

func hostNetwork(in PodTemplateInput) (string, string, bool) {
	if !in.Template.Spec.HostNetwork {
		return "", "", false
	}
	return HostNetwork, fmt.Sprintf("%s runs with hostNetwork: true, and a hostNetwork pod cannot take a sidecar: "+
		"its iptables redirection would capture the traffic of the whole node. Run the controller without hostNetwork "+
		"(behind a LoadBalancer or NodePort Service) or set spec.ingressNginx.enabled to false", workloadName(in.IngressNginx)), true
}

// namespaceNeverInjected finds a controller in a namespace whose pods Istio's injector never injects
// (neverInjected; RKE2 runs its ingress-nginx in kube-system). The pod's own sidecar.istio.io/inject
// label does not count there, so meshkeeper's settings would promise a sidecar the pods never get, and
// the mesh Ingresses would have nginx send plaintext to the ClusterIPs, which STRICT mTLS rejects.
func namespaceNeverInjected(in PodTemplateInput) (string, string, bool) {
	ns := in.IngressNginx.Controller.Namespace
	if !neverInjected.Has(ns) {
		return "", "", false
	}
	return NamespaceNeverInjected, fmt.Sprintf("%s runs in namespace %s, whose pods Istio's injector never injects, whatever their own labels "+
		"(it skips %s), so it would get no sidecar; meshkeeper sets none of its sidecar settings on it. "+
		"To put it in the mesh, run ingress-nginx in a namespace of its own and point spec.ingressNginx.controller at it",
		workloadName(in.IngressNginx), ns, neverInjectedList), true
}

// namespaceInjectionDisabled finds a controller namespace that keeps Istio's injector out: with an
// istio-injection label other than "enabled", none of the injector's webhooks matches a pod there,
// whatever the pod's own sidecar.istio.io/inject label says. meshkeeper's settings would then promise a
// sidecar the pods never get.
func namespaceInjectionDisabled(in PodTemplateInput) (string, string, bool) {
	value, ok := in.NamespaceLabels[LabelIstioInjection]
	if !ok || value == "enabled" {
		return "", "", false
	}
	ns := in.IngressNginx.Controller.Namespace
	return NamespaceInjectionDisabled, fmt.Sprintf("namespace %s has label %s=%s: Istio's injector adds no sidecar to any pod there, "+
		"whatever the pod's own label, so %s would get none; meshkeeper sets none of its sidecar settings on it. "+
		"Remove the label (kubectl label namespace %s %s-) to let meshkeeper put the controller in the mesh",
		ns, LabelIstioInjection, value, workloadName(in.IngressNginx), ns, LabelIstioInjection), true
}

// controllerPodSecurity finds a controller namespace whose enforced Pod Security level would reject
// the controller's injected pods (istio-init without the CNI agent, a sidecar spec.values makes
// privileged, or, under restricted, one it has run as root): its next rollout, or a scale-up, would
// create no pod. The API server reads a level it does not know as restricted, and so does this.
func controllerPodSecurity(in PodTemplateInput) (string, string, bool) {
	level, rejected, ok := in.Privilege.RejectedBy(in.NamespaceLabels)
	if !ok {
		return "", "", false
	}
	return PodSecurityRejectsSidecar, fmt.Sprintf("namespace %s enforces the Pod Security level %q (label %s), which rejects %s: "+
		"%s would get no new pod, so meshkeeper sets none of its sidecar settings on it. To put it in the mesh, %s, "+
		"or have the namespace enforce the level privileged",
		in.IngressNginx.Controller.Namespace, level, LabelPodSecurityEnforce, rejected.What, workloadName(in.IngressNginx), rejected.Fix), true
}

// controllerCNIExcluded finds a controller namespace the CNI plugin skips: the controller's injected
// pods would never start there.
func controllerCNIExcluded(in PodTemplateInput) (string, string, bool) {
	if !in.CNIExcluded {
		return "", "", false
	}
	return CNIExcludesNamespace, fmt.Sprintf("namespace %s is in spec.cni.excludeNamespaces: the CNI plugin leaves its pods alone, "+
		"so the istio-validation init container of an injected pod fails and %s would get no pod that starts; meshkeeper sets none "+
		"of its sidecar settings on it. Take the namespace out of spec.cni.excludeNamespaces to put the controller in the mesh",
		in.IngressNginx.Controller.Namespace, workloadName(in.IngressNginx)), true
}

// podTemplateConflict finds keys someone else set to other values. A sidecar.istio.io/inject
// annotation that refuses the sidecar counts too: meshkeeper never sets it, but it says the owner wants
// no sidecar, and meshkeeper's label would override it. It is read as Istio's injector reads it: a value
// that AsksForSidecar ("yes", "True", ...), or an empty one (the namespace's default), refuses nothing.
//
// A key meshkeeper owns together with another field manager (the owner applied meshkeeper's value
// server-side) is the owner's as much as meshkeeper's: when meshkeeper's value changes (new Service
// ranges), the owner's stays, and it is a conflict like a key only the owner set. Each key is named with
// the field managers that set it, so the message says whose tool to change.
func podTemplateConflict(in PodTemplateInput) (string, string, bool) {
	labels, annotations := wantedPodTemplate(in.IngressNginx)
	var found []string
	for _, key := range templateConflicts(in.Template.Labels, labels, in.OwnedLabels, in.OthersLabels) {
		found = append(found, "label "+describeKey(key, in.Template.Labels[key], in.OthersLabels[key]))
	}
	if have, ok := in.Template.Annotations[SidecarInject]; ok && have != "" && !AsksForSidecar(have) {
		found = append(found, "annotation "+describeKey(SidecarInject, have, in.OthersAnnotations[SidecarInject]))
	}
	for _, key := range templateConflicts(in.Template.Annotations, annotations, in.OwnedAnnotations, in.OthersAnnotations) {
		found = append(found, "annotation "+describeKey(key, in.Template.Annotations[key], in.OthersAnnotations[key]))
	}
	if len(found) == 0 {
		return "", "", false
	}
	return AnnotationConflict, fmt.Sprintf("the pod template of %s has %s, set by someone other than meshkeeper; "+
		"meshkeeper keeps those values and adds none of its sidecar settings. Remove the conflicting keys to let meshkeeper put the controller in the mesh",
		workloadName(in.IngressNginx), joinAnd(found)), true
}

// templateConflicts returns, sorted, the keys of want that current (a pod template's labels or
// annotations) holds with another value that is not meshkeeper's alone: set by someone else, or owned by
// meshkeeper together with other field managers.
func templateConflicts(current, want map[string]string, owned sets.Set[string], others map[string][]string) []string {
	var found []string
	for _, key := range slices.Sorted(maps.Keys(want)) {
		have, ok := current[key]
		if ok && have != want[key] && (!owned.Has(key) || len(others[key]) > 0) {
			found = append(found, key)
		}
	}
	return found
}

// describeKey renders a pod-template key for messages, as `key: "value"`, with the field managers that
// set it when they are known.
func describeKey(key, value string, managers []string) string {
	s := fmt.Sprintf("%s: %q", key, value)
	if len(managers) == 0 {
		return s
	}
	quoted := make([]string, len(managers))
	for i, m := range managers {
		quoted[i] = fmt.Sprintf("%q", m)
	}
	plural := ""
	if len(managers) > 1 {
		plural = "s"
	}
	return fmt.Sprintf("%s (field manager%s %s)", s, plural, joinAnd(quoted))
}
