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
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// IngressInput is what the decision about one Ingress looks at.
type IngressInput struct {
	Ingress *networkingv1.Ingress
	// IngressNginx is spec.ingressNginx: whether the integration is on and which classes it serves.
	IngressNginx meshv1alpha1.IngressNginxSpec
	// NamespaceEnrolled says whether the Ingress's namespace is in the mesh (Decision.Enroll).
	NamespaceEnrolled bool
	// NamespaceLabels are the labels of the Ingress's namespace, as the cache holds them: a controller
	// run with --watch-namespace-selector serves the Ingresses of the namespaces they match
	// (NamespaceScope.Watches).
	NamespaceLabels map[string]string
	// NamespaceTerminating says whether the Ingress's namespace is being deleted. Its pods still serve
	// while it is, so the Ingress is left as it is, like the namespace itself.
	NamespaceTerminating bool
	// NamespaceProxies counts the pods of the Ingress's namespace that still run an Istio proxy
	// (RunsProxy); it matters only for a namespace that is not enrolled. Such a namespace's pods keep
	// their sidecars until they are restarted, and under STRICT mTLS a sidecar refuses the plaintext
	// nginx sends to its pod's IP without service-upstream: an Ingress that carries meshkeeper's
	// annotations keeps them until no such pod is left.
	NamespaceProxies int
	// Controller is the decision about the ingress-nginx controller workload (IngressNginxPodTemplate).
	// Only a controller that gets its sidecar (Configured) can route a mesh Ingress through the mesh.
	Controller PodTemplateDecision
	// Service looks a Service up by name in the Ingress's namespace. Nil finds nothing. Of a Service
	// the decision reads its type, its ClusterIP and its AnnotationServiceExportTo.
	Service func(name string) (*corev1.Service, bool)
	// ServiceExportToDefault is the mesh's meshConfig.defaultServiceExportTo (ServiceExportToDefault):
	// where Istio exports a Service without its own AnnotationServiceExportTo. Empty: every namespace.
	ServiceExportToDefault []string
	// OwnedAnnotations are the annotation keys meshkeeper's field manager owns on the Ingress, read
	// from its managedFields.
	OwnedAnnotations sets.Set[string]
	// OthersAnnotations are the annotation keys some other field manager owns on the Ingress (its
	// manifest as Argo CD, Helm 4 or Flux applied it server-side, a kubectl edit), each with those
	// managers' names, read from its managedFields; only meshkeeper's own keys need be there. A key
	// meshkeeper owns with one of them holds their value too: meshkeeper cannot change it without
	// taking it from them.
	OthersAnnotations map[string][]string
	// IngressClassController looks an IngressClass up by name, and returns its spec.controller: with the
	// controller's flags (PodTemplateDecision.Classes) it tells whether the controller serves an Ingress
	// of a class spec.ingressNginx.ingressClassNames does not list (ClassNotListed). Nil finds none.
	IngressClassController func(name string) (controller string, found bool)
}

// IngressAnnotationsWritten are the annotation keys the Ingress decision can have meshkeeper own.
var IngressAnnotationsWritten = []string{AnnotationServiceUpstream, AnnotationUpstreamVhost}

// IngressDecision says what meshkeeper owns on one Ingress.
type IngressDecision struct {
	// Annotations are all the annotations meshkeeper should own on the Ingress. Applied with
	// server-side apply as meshkeeper's whole set, an empty map removes what meshkeeper set before.
	// Nil when the Ingress is left as it is: with reason Terminating (the Ingress or its namespace is
	// being deleted), and with KeptForSidecars unless its backend Service changed since meshkeeper set
	// upstream-vhost (then upstream-vhost follows it). Then there is nothing to write.
	Annotations map[string]string
	// Configured is true when the Ingress routes through the mesh: both annotations are in place,
	// meshkeeper's or identical ones set by the Ingress's owner.
	Configured bool
	// KeptForSidecars is true when the Ingress keeps the annotations meshkeeper set although its
	// namespace left the mesh (reason NamespaceNotEnrolled), because pods there still run a sidecar
	// (IngressInput.NamespaceProxies). It loses them once the last of those pods is gone.
	KeptForSidecars bool
	// Reason is one of the constants of this package; Message explains it to the Ingress's owner.
	Reason  string
	Message string
}

// Skipped reports a mesh Ingress (served class, enrolled namespace, integration on) that meshkeeper
// could not configure: the ones status.ingresses.skipped counts. An Ingress outside the mesh, or one
// being deleted or in a namespace being deleted, is not skipped; nor is one that keeps its annotations
// while the pods of a namespace that left the mesh still run a sidecar (KeptForSidecars), unless an
// upstream-vhost its owner applied too keeps it from following a new backend (AnnotationConflict).
func (d IngressDecision) Skipped() bool {
	return !d.Configured && !slices.Contains(
		[]string{Terminating, IngressNginxDisabled, ClassNotServed, NamespaceNotEnrolled}, d.Reason)
}

// ingressInput adds to IngressInput what the checks derive from it.
type ingressInput struct {
	IngressInput
	name      string // namespace/name, for messages
	class     string
	classFrom string
	backends  ingressBackends
	// want is the annotations meshkeeper wants on an Ingress with a single backend Service (nil
	// otherwise), made once per decision: the status pass decides about every Ingress.
	want map[string]string
}

// Ingress decides the annotations meshkeeper puts on an Ingress: service-upstream (nginx sends to the
// Service's ClusterIP, where the controller's sidecar picks the request up) and upstream-vhost (the
// Host the sidecar routes on). They go on together or not at all: upstream-vhost alone changes the
// Host the pods see while nginx still bypasses the sidecar, and service-upstream alone hands the
// sidecar a Host that names no mesh Service, so the request passes through unmeshed while nginx loses
// its per-endpoint balancing (sticky sessions, retries on another endpoint).
func Ingress(in IngressInput) IngressDecision {
	ing := in.Ingress
	class, from := in.Controller.Classes.ClassOf(ing)
	x := ingressInput{IngressInput: in, name: ing.Namespace + "/" + ing.Name, class: class, classFrom: from, backends: backendsOf(ing)}
	if len(x.backends.services) == 1 {
		x.want = x.wanted()
	}
	if reason, message, matched := firstMatch(x,
		ingressTerminating, ingressNamespaceTerminating, ingressNginxOff, namespaceNotWatched, classNotServed, namespaceNotEnrolled, controllerWithoutSidecar,
		canaryIngress, noBackend, resourceBackend, multipleBackendServices, unusableService, ingressAnnotationConflict,
	); matched {
		d := IngressDecision{Reason: reason, Message: message}
		switch {
		case reason == Terminating:
		case reason == NamespaceNotEnrolled && x.keptForSidecars():
			d.KeptForSidecars = true
			if x.want != nil && x.OwnedAnnotations.Has(AnnotationUpstreamVhost) && ing.Annotations[AnnotationUpstreamVhost] != x.want[AnnotationUpstreamVhost] {
				// The backend changed since meshkeeper set upstream-vhost: the sidecar routes on it, so
				// kept as it is it would send the Ingress's requests to the Service it named before. A
				// value another field manager applied too (ingressAnnotationConflict) stays theirs: the API
				// server would refuse meshkeeper's apply of the new one at every retry, so it is left: a
				// conflict, reported as in the mesh, until the owner changes it or the pods are gone.
				if keys := templateConflicts(ing.Annotations, x.want, x.OwnedAnnotations, x.OthersAnnotations); len(keys) > 0 {
					d.Reason, d.Message = AnnotationConflict, d.Message+x.keptConflictNote(keys)
				} else {
					// Only what meshkeeper still holds: outside the mesh it adds nothing, such as a
					// service-upstream its owner took off since.
					d.Annotations = toOwn(ing.Annotations, x.want, in.OwnedAnnotations)
					maps.DeleteFunc(d.Annotations, func(key, _ string) bool { return !in.OwnedAnnotations.Has(key) })
				}
			}
		default:
			d.Annotations = map[string]string{}
		}
		return d
	}
	service := x.backends.services[0]
	return IngressDecision{
		Annotations: toOwn(ing.Annotations, x.want, in.OwnedAnnotations),
		Configured:  true,
		Reason:      Configured,
		Message: fmt.Sprintf("Ingress %s routes to Service %s through the mesh: nginx sends to its ClusterIP with Host %s, and the controller's sidecar routes on it",
			x.name, service, x.want[AnnotationUpstreamVhost]),
	}
}

// vhost is the Host the sidecar knows the single backend Service by.
func (x ingressInput) vhost() string {
	return fmt.Sprintf("%s.%s.svc", x.backends.services[0], x.Ingress.Namespace)
}

// wanted is the two annotations with meshkeeper's values. A service-upstream someone else set to a value
// ingress-nginx reads as true (strconv.ParseBool: "True", "1", ...) turns it on as "true" does: it is
// wanted as it is, so it is neither a conflict nor taken over.
func (x ingressInput) wanted() map[string]string {
	upstream := "true"
	if have, ok := x.Ingress.Annotations[AnnotationServiceUpstream]; ok && !x.OwnedAnnotations.Has(AnnotationServiceUpstream) {
		if on, err := strconv.ParseBool(have); err == nil && on {
			upstream = have
		}
	}
	vhost := x.vhost()
	if have, ok := x.Ingress.Annotations[AnnotationUpstreamVhost]; ok && !x.OwnedAnnotations.Has(AnnotationUpstreamVhost) && sameVhost(have, vhost) {
		vhost = have
	}
	return map[string]string{AnnotationServiceUpstream: upstream, AnnotationUpstreamVhost: vhost}
}

// sameVhost tells whether host names to the controller's sidecar the Service that vhost
// (<service>.<namespace>.svc) names: Istio routes it also by its short name, <service>.<namespace>,
// and by its full name with the cluster domain (<service>.<namespace>.svc.cluster.local), the form
// many guides use. An upstream-vhost someone else set to one of them is wanted as it is, as an
// equivalent service-upstream is: neither a conflict nor taken over.
func sameVhost(host, vhost string) bool {
	host = strings.ToLower(host)
	switch {
	case host == vhost || host == strings.TrimSuffix(vhost, ".svc"):
		return true
	case strings.HasPrefix(host, vhost+"."):
		return len(validation.IsDNS1123Subdomain(strings.TrimPrefix(host, vhost+"."))) == 0
	}
	return false
}

func ingressTerminating(x ingressInput) (string, string, bool) {
	if x.Ingress.DeletionTimestamp == nil {
		return "", "", false
	}
	return Terminating, fmt.Sprintf("Ingress %s is being deleted", x.name), true
}

// ingressNamespaceTerminating leaves the Ingresses of a namespace being deleted as they are: the
// namespace's pods keep their sidecars and serve until they go, and an Ingress without its annotations
// would have nginx bypass those sidecars.
func ingressNamespaceTerminating(x ingressInput) (string, string, bool) {
	if !x.NamespaceTerminating {
		return "", "", false
	}
	return Terminating, fmt.Sprintf("Ingress %s is in namespace %s, which is being deleted; meshkeeper leaves the Ingress as it is", x.name, x.Ingress.Namespace), true
}

func ingressNginxOff(x ingressInput) (string, string, bool) {
	if enabled(x.IngressNginx) {
		return "", "", false
	}
	return IngressNginxDisabled, fmt.Sprintf("spec.ingressNginx.enabled is false: Ingress %s gets no mesh annotations", x.name), true
}

// namespaceNotWatched: the Ingress is in a namespace the controller does not watch
// (PodTemplateDecision.Namespaces: its --watch-namespace or --watch-namespace-selector, the
// ingress-nginx chart's controller.scope), so it never serves it, whatever its class: like one of a
// class it does not serve, it is not a mesh Ingress (ClassNotServed), and meshkeeper's annotations are
// taken back. Another controller of the same class may serve it, past the mesh's controller's sidecar.
func namespaceNotWatched(x ingressInput) (string, string, bool) {
	watched, why := x.Controller.Namespaces.Watches(x.Ingress.Namespace, x.NamespaceLabels)
	if watched {
		return "", "", false
	}
	return ClassNotServed, fmt.Sprintf("Ingress %s is in namespace %s, whose Ingresses %s does not serve: %s. So it is not a mesh Ingress, "+
		"whatever its class; to put it in the mesh, have the controller watch its namespace", x.name, x.Ingress.Namespace, workloadName(x.IngressNginx), why), true
}

// classNotServed: the Ingress is of no class the mesh's controller serves. One that names no class at
// all is served when the controller watches Ingresses without a class
// (PodTemplateDecision.ServesIngressesWithoutClass), whatever the cluster's default IngressClass; so is
// one whose spec.ingressClassName the controller ignores (ClassSelection.IgnoresClassName). One of
// a class spec.ingressNginx.ingressClassNames does not list that the controller serves all the same
// (ClassSelection.Serves) is, in an enrolled namespace, a mesh Ingress meshkeeper does not configure:
// ClassNotListed, a skip, since its requests bypass the sidecar; outside the mesh it is not one. By the
// legacy annotation, the controller serves one class only, its --ingress-class, whatever the classes
// listed (ClassSelection.ServesAnnotation): an Ingress annotated with another listed class is not one.
func classNotServed(x ingressInput) (string, string, bool) {
	served := x.IngressNginx.IngressClassNames
	listed := x.class != "" && slices.Contains(served, x.class)
	if listed && !x.Controller.Classes.ServesAnnotation(x.class, x.classFrom) {
		classes := x.Controller.Classes
		return ClassNotServed, fmt.Sprintf("Ingress %s is of class %q (from annotation %s), which spec.ingressNginx.ingressClassNames lists, but %s serves "+
			"by that annotation only the class of its %s, %q, so it is not a mesh Ingress; to put it in the mesh, set the annotation to %q, "+
			"or run the controller with %s=%s%s", x.name, x.class, AnnotationIngressClass, workloadName(x.IngressNginx), FlagIngressClass, classes.IngressClass,
			classes.IngressClass, FlagIngressClass, x.class, classes.ClassNameNote(x.IngressNginx)), true
	}
	if listed || x.classFrom == "" && x.Controller.ServesIngressesWithoutClass {
		return "", "", false
	}
	if served, why := x.classServed(); served {
		return ClassNotListed, fmt.Sprintf("Ingress %s is of class %q (from %s), which %s serves (%s), but spec.ingressNginx.ingressClassNames does not list it: "+
			"meshkeeper does not configure it, so nginx sends its requests to the pods' IPs in plaintext, past the controller's sidecar, "+
			"which the pods' sidecars refuse under STRICT mTLS. To route it through the mesh, add %q to spec.ingressNginx.ingressClassNames; "+
			"or serve it with a class of another controller", x.name, x.class, x.classFrom, workloadName(x.IngressNginx), why, x.class), true
	}
	use := "a class listed in spec.ingressNginx.ingressClassNames (it lists none)"
	if len(served) > 0 {
		quoted := make([]string, len(served))
		for i, c := range served {
			quoted[i] = fmt.Sprintf("%q", c)
		}
		use = joinOr(quoted)
	}
	if x.class == "" && x.classFrom != "" {
		return ClassNotServed, fmt.Sprintf("Ingress %s has an empty %s annotation, which names no class ingress-nginx serves and keeps the cluster's default IngressClass from applying, "+
			"so it is not a mesh Ingress; to put it in the mesh, remove the annotation and set spec.ingressClassName to %s", x.name, AnnotationIngressClass, use), true
	}
	if named := x.Ingress.Spec.IngressClassName; x.classFrom == "" && named != nil && *named != "" {
		// The controller ignores spec.ingressClassName (ClassSelection.IgnoresClassName).
		return ClassNotServed, fmt.Sprintf("Ingress %s names class %q in spec.ingressClassName, which %s ignores, and has no %s annotation, "+
			"so it is not a mesh Ingress%s", x.name, *named, workloadName(x.IngressNginx), AnnotationIngressClass,
			x.Controller.Classes.ClassNameNote(x.IngressNginx)), true
	}
	if x.class == "" {
		return ClassNotServed, fmt.Sprintf("Ingress %s has no class (no spec.ingressClassName, no %s annotation), and %s serves Ingresses without a class only when it runs with %s=true, "+
			"so it is not a mesh Ingress (the cluster's default IngressClass is given only to Ingresses created after it was marked); to put it in the mesh, set spec.ingressClassName to %s",
			x.name, AnnotationIngressClass, workloadName(x.IngressNginx), FlagWatchIngressWithoutClass, use), true
	}
	if classes := x.Controller.Classes; classes.Found && x.classFrom == "annotation "+AnnotationIngressClass {
		return ClassNotServed, fmt.Sprintf("Ingress %s is of class %q (from %s), which the mesh's ingress-nginx controller does not serve (spec.ingressNginx.ingressClassNames), "+
			"so it is not a mesh Ingress; to put it in the mesh, %s%s", x.name, x.class, x.classFrom, x.byAnnotation(use), classes.ClassNameNote(x.IngressNginx)), true
	}
	return ClassNotServed, fmt.Sprintf("Ingress %s is of class %q (from %s), which the mesh's ingress-nginx controller does not serve (spec.ingressNginx.ingressClassNames), "+
		"so it is not a mesh Ingress; to put it in the mesh, use class %s", x.name, x.class, x.classFrom, use), true
}

// byAnnotation says how to put in the mesh an Ingress whose legacy annotation names a class the
// controller does not serve: by the annotation it serves only its FlagIngressClass
// (ClassSelection.ServesAnnotation), so no other listed class will do there; any listed class will do
// in spec.ingressClassName (use), unless the controller ignores it.
func (x ingressInput) byAnnotation(use string) string {
	classes := x.Controller.Classes
	var ways []string
	if slices.Contains(x.IngressNginx.IngressClassNames, classes.IngressClass) {
		ways = append(ways, fmt.Sprintf("set the annotation to %q (by that annotation %s serves only the class of its %s)",
			classes.IngressClass, workloadName(x.IngressNginx), FlagIngressClass))
	}
	if !classes.IgnoresClassName {
		ways = append(ways, fmt.Sprintf("remove the annotation and set spec.ingressClassName to %s", use))
	}
	if len(ways) == 0 {
		return fmt.Sprintf("run the controller with %s set to %s and set the annotation to that class (by that annotation %s serves only the class of its %s, %q)",
			FlagIngressClass, use, workloadName(x.IngressNginx), FlagIngressClass, classes.IngressClass)
	}
	return strings.Join(ways, ", or ")
}

// classServed tells, of an Ingress of an enrolled namespace, whether the controller serves its class
// (ClassSelection.Serves), and why. The IngressClass is looked up only then.
func (x ingressInput) classServed() (bool, string) {
	if !x.NamespaceEnrolled {
		return false, ""
	}
	return x.Controller.Classes.Serves(x.class, x.classFrom, x.IngressClassController)
}

func namespaceNotEnrolled(x ingressInput) (string, string, bool) {
	if x.NamespaceEnrolled {
		return "", "", false
	}
	if x.keptForSidecars() {
		return NamespaceNotEnrolled, fmt.Sprintf("Ingress %s is in namespace %s, which is no longer in the mesh, but %d pod(s) there still run an Istio sidecar; "+
			"meshkeeper keeps %s and %s on the Ingress until none does (restart them to drop their sidecars), "+
			"since without them nginx would send plaintext to those pods' IPs, which their sidecars refuse under STRICT mTLS",
			x.name, x.Ingress.Namespace, x.NamespaceProxies, AnnotationServiceUpstream, AnnotationUpstreamVhost), true
	}
	return NamespaceNotEnrolled, fmt.Sprintf("Ingress %s is in namespace %s, which is not in the mesh, so it gets no mesh annotations; "+
		"to route it through the mesh, enroll the namespace in spec.injection", x.name, x.Ingress.Namespace), true
}

// conflictingKeys names keys of the Ingress's annotations that other field managers applied too, each
// with its value and who set it (describeKey), joined into one phrase.
func (x ingressInput) conflictingKeys(keys []string) string {
	found := make([]string, len(keys))
	for i, key := range keys {
		found[i] = describeKey(key, x.Ingress.Annotations[key], x.OthersAnnotations[key])
	}
	return joinAnd(found)
}

// keptConflictNote says, for an Ingress kept for its namespace's sidecars whose backend changed, that
// keys (upstream-vhost) stay as other field managers applied them too, naming the Service they still
// route to, and what to change.
func (x ingressInput) keptConflictNote(keys []string) string {
	return fmt.Sprintf(". Its backend is now Service %s/%s, but it has %s, set by someone other than meshkeeper as well, "+
		"so the controller's sidecar still routes its requests to the Service that names; meshkeeper leaves that value to them. "+
		"Set %s: %q in the manifest of the tool that applies it, or remove the annotation from it",
		x.Ingress.Namespace, x.backends.services[0], x.conflictingKeys(keys), AnnotationUpstreamVhost, x.want[AnnotationUpstreamVhost])
}

// keptForSidecars tells whether an Ingress of a namespace that is not enrolled keeps the annotations
// meshkeeper set: while pods of the namespace still run a sidecar, nginx must keep sending to the
// Service's ClusterIP, where its own sidecar picks the request up and speaks mTLS to theirs (and plain
// text to the pods restarted without one). Only while the controller gets its sidecar: without one,
// the annotations route nothing through the mesh and are taken back as for any Ingress.
func (x ingressInput) keptForSidecars() bool {
	return !x.NamespaceEnrolled && x.NamespaceProxies > 0 && x.Controller.Configured &&
		x.OwnedAnnotations.HasAny(AnnotationServiceUpstream, AnnotationUpstreamVhost)
}

// RunsProxy tells whether a pod still runs an Istio proxy that enforces the mesh's mTLS on it: it has
// one, and is neither finished, nor being deleted (its endpoints are no longer ready), nor on the
// node's network (where the sidecar captures nothing), as docs/proxies.md counts pods.
func RunsProxy(p *ProxyPod) bool {
	return p.HasProxy && p.capturable()
}

// controllerWithoutSidecar holds back the annotations while the ingress-nginx controller gets no
// sidecar: nginx would then send plaintext to the Service's ClusterIP with the Host rewritten, which
// STRICT mTLS rejects, instead of to the pods.
func controllerWithoutSidecar(x ingressInput) (string, string, bool) {
	if x.Controller.Configured {
		return "", "", false
	}
	return ControllerWithoutSidecar, fmt.Sprintf("Ingress %s gets no mesh annotations: the ingress-nginx controller %s gets no sidecar (%s), "+
		"and without one nginx would send plaintext to the Service's ClusterIP, which STRICT mTLS rejects; "+
		"the ServiceMesh's IngressesConfigured condition says what to change", x.name, workloadName(x.IngressNginx), x.Controller.Reason), true
}

// canaryIngress skips an ingress-nginx canary. nginx merges a canary into the location of the main
// Ingress of the same host and path: the canary's Service becomes an alternative upstream there, but
// every setting of the location, the Host upstream-vhost sets among them, is the main Ingress's. Through
// the mesh nginx would send the canary's share to the canary Service's ClusterIP with the main Service's
// Host, and its sidecar, which routes on the Host, to the main Service: the canary would get nothing.
// It comes before the checks of the backends, since no change of them makes a canary work in the mesh.
// The value is read as ingress-nginx reads it (strconv.ParseBool: "true", "True", "1", ...); any other
// value, or none, makes no canary, and nginx then serves the Ingress as a main one.
func canaryIngress(x ingressInput) (string, string, bool) {
	value, ok := x.Ingress.Annotations[AnnotationCanary]
	if canary, err := strconv.ParseBool(value); !ok || err != nil || !canary {
		return "", "", false
	}
	return CanaryIngress, fmt.Sprintf("Ingress %s is an ingress-nginx canary (%s: %q), which nginx merges into the main Ingress of the same host and path: "+
		"the canary's Service becomes an alternative upstream, but the Host nginx sends comes from the main Ingress's upstream-vhost, "+
		"and the controller's sidecar routes on that Host to the main Service, so through the mesh the canary would get no traffic. "+
		"meshkeeper leaves the canary Ingress unchanged, and configures the main Ingress as any other. "+
		"To split the traffic through the mesh, delete the canary Ingress and split with an Istio VirtualService between the Service's subsets "+
		"or between two Services, behind one Ingress; or, to keep nginx's canary, serve the canary and its main Ingress with a class that is not in spec.ingressNginx.ingressClassNames",
		x.name, AnnotationCanary, value), true
}

func noBackend(x ingressInput) (string, string, bool) {
	if len(x.backends.services)+len(x.backends.resources) > 0 {
		return "", "", false
	}
	return NoBackend, fmt.Sprintf("Ingress %s names no backend (no spec.defaultBackend and no rule with paths), so nginx answers it with its own default backend; "+
		"give it a backend Service to route it through the mesh", x.name), true
}

func resourceBackend(x ingressInput) (string, string, bool) {
	if len(x.backends.resources) == 0 {
		return "", "", false
	}
	return ResourceBackend, fmt.Sprintf("Ingress %s sends to %s instead of a Service; service-upstream and upstream-vhost work only with a Service, "+
		"so meshkeeper leaves the Ingress unchanged. Move the resource backend to its own Ingress to put the rest in the mesh",
		x.name, joinAnd(x.backends.resources)), true
}

func multipleBackendServices(x ingressInput) (string, string, bool) {
	if len(x.backends.services) < 2 {
		return "", "", false
	}
	return MultipleBackendServices, fmt.Sprintf("Ingress %s sends to %d Services (%s), and upstream-vhost can name only one, "+
		"so meshkeeper leaves the Ingress unchanged. Split it into one Ingress per Service to put it in the mesh",
		x.name, len(x.backends.services), joinAnd(x.backends.services)), true
}

// unusableService finds a backend Service without a ClusterIP, which service-upstream needs.
func unusableService(x ingressInput) (string, string, bool) {
	name := x.backends.services[0]
	var svc *corev1.Service
	found := false
	if x.Service != nil {
		svc, found = x.Service(name)
	}
	// The message's start, made only for a Service meshkeeper cannot use.
	prefix := func() string {
		return fmt.Sprintf("Ingress %s sends to Service %s/%s", x.name, x.Ingress.Namespace, name)
	}
	switch {
	case !found || svc == nil:
		return ServiceMissing, prefix() + ", which does not exist; meshkeeper configures the Ingress once it does. Create the Service or correct the backend's name", true
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return ServiceExternalName, prefix() + " of type ExternalName, which has no ClusterIP for service-upstream to send to, " +
			"so meshkeeper leaves the Ingress unchanged. Point the Ingress at a ClusterIP Service to put it in the mesh", true
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		return ServiceHeadless, prefix() + ", which is headless (clusterIP: None) and has no ClusterIP for service-upstream to send to, " +
			"so meshkeeper leaves the Ingress unchanged. Recreate the Service with a ClusterIP, or add a second one with a ClusterIP, to put it in the mesh", true
	case !captured(svc.Spec.ClusterIP, x.IngressNginx.ServiceCIDRs):
		return ServiceNotCaptured, fmt.Sprintf("%s, whose ClusterIP %s lies outside the Service ranges the controller's sidecar captures (%s): "+
			"nginx would reach it past the sidecar, in plaintext, so meshkeeper leaves the Ingress unchanged. "+
			"Set spec.ingressNginx.serviceCIDRs to the cluster's Service ranges, or leave it out to use the cluster's ServiceCIDRs",
			prefix(), svc.Spec.ClusterIP, strings.Join(x.IngressNginx.ServiceCIDRs, ", ")), true
	}
	controllerNS := x.IngressNginx.Controller.Namespace
	if exportTo, from := serviceExportTo(svc, x.ServiceExportToDefault); !exportedTo(exportTo, x.Ingress.Namespace, controllerNS) {
		return ServiceNotExported, fmt.Sprintf("%s, which Istio exports only to %q (%s), not to namespace %s of the ingress-nginx controller: "+
			"its sidecar knows no route to the Service, and would pass nginx's requests on in plaintext, which STRICT mTLS rejects, "+
			"so meshkeeper leaves the Ingress unchanged. Add %s (or \"*\") to the Service's %s annotation to put the Ingress in the mesh",
			prefix(), strings.Join(exportTo, ","), from, controllerNS, controllerNS, AnnotationServiceExportTo), true
	}
	return "", "", false
}

// serviceExportTo is where Istio exports svc, as istiod reads it: the entries of its exportTo
// annotation, or, without one (or with an empty one), the mesh's default (defaults; every namespace,
// "*", when that is empty too). from says which of the two it is, for messages.
func serviceExportTo(svc *corev1.Service, defaults []string) (exportTo []string, from string) {
	if value := svc.Annotations[AnnotationServiceExportTo]; value != "" {
		exportTo = strings.Split(value, ",")
		for i := range exportTo {
			exportTo[i] = strings.TrimSpace(exportTo[i])
		}
		return exportTo, "its " + AnnotationServiceExportTo + " annotation"
	}
	if len(defaults) == 0 {
		return []string{"*"}, "Istio's default"
	}
	return defaults, "meshConfig.defaultServiceExportTo of spec.values, for a Service without the " + AnnotationServiceExportTo + " annotation"
}

// exportedTo tells whether a Service of namespace serviceNS that Istio exports to exportTo is known to
// the sidecars of namespace, as istiod decides it (PushContext.IsServiceVisible): "*" exports it to
// every namespace, "." to its own, a name to that namespace; "~" alone, to none.
func exportedTo(exportTo []string, serviceNS, namespace string) bool {
	return slices.Contains(exportTo, "*") || slices.Contains(exportTo, namespace) ||
		slices.Contains(exportTo, ".") && serviceNS == namespace
}

// ServiceExportToDefault is meshConfig.defaultServiceExportTo of spec.values: the namespaces Istio
// exports a Service without its own exportTo annotation to. Nil when spec.values sets none (or does not
// decode as such), which leaves Istio's default: every namespace.
func ServiceExportToDefault(spec *meshv1alpha1.ServiceMeshSpec) []string {
	if spec.Values == nil || !bytes.Contains(spec.Values.Raw, []byte("defaultServiceExportTo")) {
		return nil
	}
	var values struct {
		MeshConfig struct {
			DefaultServiceExportTo []string `json:"defaultServiceExportTo"`
		} `json:"meshConfig"`
	}
	if err := json.Unmarshal(spec.Values.Raw, &values); err != nil {
		return nil
	}
	return values.MeshConfig.DefaultServiceExportTo
}

// captured tells whether the sidecar that captures ranges (CIDRs) captures a connection to ip. An
// address or a range that does not parse (a Service without its ClusterIP yet) is not judged: true.
func captured(ip string, ranges []string) bool {
	addr, err := netip.ParseAddr(ip)
	if err != nil || len(ranges) == 0 {
		return true
	}
	for _, r := range ranges {
		prefix, err := netip.ParsePrefix(r)
		if err != nil || prefix.Contains(addr) {
			return true
		}
	}
	return false
}

// ingressAnnotationConflict finds annotations someone else set to values other than meshkeeper's. A
// key meshkeeper owns together with another field manager (the Ingress's owner applied meshkeeper's
// value server-side) is the owner's as much as meshkeeper's: when meshkeeper's value changes (the
// backend Service, and upstream-vhost with it), the owner's stays, and the API server refuses
// meshkeeper's apply of the new one. It is a conflict like a key only the owner set, named with the
// field managers that set it, so the message says whose manifest to change.
func ingressAnnotationConflict(x ingressInput) (string, string, bool) {
	keys := templateConflicts(x.Ingress.Annotations, x.want, x.OwnedAnnotations, x.OthersAnnotations)
	if len(keys) == 0 {
		return "", "", false
	}
	return AnnotationConflict, fmt.Sprintf("Ingress %s has %s, set by someone other than meshkeeper, where meshkeeper would set %s: %q and %s: %q. "+
		"meshkeeper keeps that value and adds neither annotation, since one without the other does not route through the mesh. "+
		"Remove the conflicting annotation (from the manifest of the tool that applies it) to let meshkeeper configure the Ingress",
		x.name, x.conflictingKeys(keys), AnnotationServiceUpstream, "true", AnnotationUpstreamVhost, x.want[AnnotationUpstreamVhost]), true
}
