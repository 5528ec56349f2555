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
	"math"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// neverInjected are the namespaces whose pods Istio's injector never injects, whatever their labels
// and the pods' own: Istio's list of them (inject.IgnoredNamespaces), which the istiod chart's webhooks
// also leave out. Their pods run the cluster itself (local-path-storage, kind's volume provisioner, is
// on the list too), and a sidecar that cannot start there, or an injector that is down, would take the
// cluster with it. meshkeeper never enrolls them: enrolled, their pods would count as still without a
// sidecar for ever.
var neverInjected = sets.New("kube-system", "kube-public", "kube-node-lease", "local-path-storage")

// neverInjectedList names the neverInjected namespaces in messages.
var neverInjectedList = joinAnd(sets.List(neverInjected))

// Decision says what meshkeeper does with one namespace.
type Decision struct {
	// Enroll is true when new pods of the namespace get the sidecar of meshkeeper's revision, through
	// Labels or through an identical label the namespace's owner set.
	Enroll bool
	// Labels are all the labels meshkeeper should own on the namespace. Applied with server-side apply
	// as meshkeeper's whole set, an empty map removes a label meshkeeper set before. Nil only with
	// reason Terminating: then there is nothing to write.
	Labels map[string]string
	// Reason is one of the constants of this package; Message explains it to the namespace's owner.
	Reason  string
	Message string
}

// Enrollment decides which namespaces are in the mesh. It is built once from the ServiceMesh spec,
// then asked about each namespace.
type Enrollment struct {
	listed       sets.Set[string]
	selector     labels.Selector
	controlPlane string
	label, value string
	// privilege is why injected pods need what the Pod Security levels baseline and restricted reject.
	privilege Privilege
	// cniExcluded are the namespaces the CNI plugin skips while it redirects the injected pods.
	cniExcluded sets.Set[string]
	// canary are the namespaces a canary revision serves, with canaryRevision's label instead.
	canary         sets.Set[string]
	canaryRevision string
	// promoted is the revision of a canary the spec ended while the default tag does not point at it yet.
	promoted string
}

// NewEnrollment reads spec.injection and spec.namespace. revision is the Istio revision meshkeeper
// installs; it chooses the injection label (see InjectionLabel). The only error is a namespaceSelector
// that is not a valid label selector, which is a problem of the spec, not of any namespace.
func NewEnrollment(spec *meshv1alpha1.ServiceMeshSpec, revision string) (*Enrollment, error) {
	selector, err := metav1.LabelSelectorAsSelector(spec.Injection.NamespaceSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.injection.namespaceSelector is not a valid label selector: %w", err)
	}
	label, value := InjectionLabel(revision)
	return &Enrollment{
		listed:       sets.New(spec.Injection.Namespaces...),
		selector:     selector,
		controlPlane: spec.Namespace,
		label:        label,
		value:        value,
		// spec.cni.enabled is settled by the caller (ServiceMesh.CNIEnabled).
		privilege:   PrivilegeOf(spec),
		cniExcluded: cniExcluded(spec),
	}, nil
}

// cniExcluded are the namespaces of spec.cni.excludeNamespaces when the CNI agent redirects the
// injected pods' traffic (spec.cni.enabled settled by the caller as for PrivilegeOf), else none. There
// the plugin leaves the pods alone, and the istio-validation init container injection adds instead of
// istio-init finds no redirection and fails: the pods never start.
func cniExcluded(spec *meshv1alpha1.ServiceMeshSpec) sets.Set[string] {
	if render.Mode(spec).PrivilegedInit() {
		return nil
	}
	return sets.New(spec.CNI.ExcludeNamespaces...)
}

// CNIExcludes tells whether the CNI plugin skips namespace while it redirects the injected pods'
// traffic, so that pods injected there never start.
func (e *Enrollment) CNIExcludes(namespace string) bool { return e.cniExcluded.Has(namespace) }

// CNIExcludes is Enrollment.CNIExcludes for a spec whose spec.cni.enabled the caller settled.
func CNIExcludes(spec *meshv1alpha1.ServiceMeshSpec, namespace string) bool {
	return cniExcluded(spec).Has(namespace)
}

// WithCanary has the namespaces given be enrolled with revision's label (istio.io/rev=<revision>) instead
// of the mesh's, so that revision injects their pods first. An empty revision changes nothing.
func (e *Enrollment) WithCanary(namespaces []string, revision string) *Enrollment {
	if revision == "" || len(namespaces) == 0 {
		return e
	}
	out := *e
	out.canary, out.canaryRevision = sets.New(namespaces...), revision
	return &out
}

// WithPromotedCanary has a namespace that carries meshkeeper's istio.io/rev=<revision> keep that label
// while the default tag moves to revision, the canary the spec ended: istio-injection=enabled would have
// its new pods get the sidecar of the revision the tag still points at until then. An empty revision
// changes nothing.
func (e *Enrollment) WithPromotedCanary(revision string) *Enrollment {
	if revision == "" {
		return e
	}
	out := *e
	out.promoted = revision
	return &out
}

// LabelFor is the injection label an enrolled namespace of that name carries. A namespace that keeps
// the label of a promoted canary (WithPromotedCanary) is not known by its name: until the tag moves,
// callers that judge by the name count it as not carrying its label yet.
func (e *Enrollment) LabelFor(namespace string) (key, value string) {
	if e.canary.Has(namespace) {
		return InjectionLabel(e.canaryRevision)
	}
	return e.label, e.value
}

// canaryOf is the canary revision whose label the namespace is enrolled with: the canary's for a canary
// namespace, the promoted canary's for one that carries meshkeeper's label of it; "" for any other.
func (e *Enrollment) canaryOf(ns *corev1.Namespace, ownedLabels sets.Set[string]) string {
	switch {
	case e.canary.Has(ns.Name):
		return e.canaryRevision
	case e.promoted != "" && ownedLabels.Has(LabelIstioRevision) && ns.Labels[LabelIstioRevision] == e.promoted:
		return e.promoted
	}
	return ""
}

// namespaceInput is what the namespace checks look at.
type namespaceInput struct {
	*Enrollment
	ns    *corev1.Namespace
	owned sets.Set[string]
}

// Namespace decides about one namespace. ownedLabels are the label keys meshkeeper's field manager
// owns on it, read from its managedFields: only those are meshkeeper's to change.
func (e *Enrollment) Namespace(ns *corev1.Namespace, ownedLabels sets.Set[string]) Decision {
	if rev := e.canaryOf(ns, ownedLabels); rev != "" {
		canary := *e
		canary.label, canary.value = InjectionLabel(rev)
		canary.canary, canary.promoted = nil, ""
		return canary.Namespace(ns, ownedLabels)
	}
	in := namespaceInput{Enrollment: e, ns: ns, owned: ownedLabels}
	if reason, message, matched := firstMatch(in,
		namespaceTerminating, systemNamespace, controlPlaneNamespace, notSelected, injectionLabelConflict,
		podSecurityRejectsSidecar, cniExcludesNamespace,
	); matched {
		d := Decision{Reason: reason, Message: message}
		if reason != Terminating {
			d.Labels = map[string]string{}
		}
		return d
	}

	reason, how := in.selectedBy()
	own := toOwn(ns.Labels, map[string]string{e.label: e.value}, ownedLabels)
	message := fmt.Sprintf("namespace %s is %s: pods created from now on get the sidecar, running pods get it when restarted", ns.Name, how)
	if len(own) == 0 {
		message += fmt.Sprintf("; the namespace's own label %s=%s already asks for it, and meshkeeper leaves that label to its owner", e.label, e.value)
	}
	return Decision{Enroll: true, Labels: own, Reason: reason, Message: message}
}

// selectedBy says how the spec selects the namespace, or returns "" when it does not. The selector
// sees only the labels meshkeeper does not own, so meshkeeper's own injection label can never keep a
// namespace selected after its owner removed the label that made it match.
func (in namespaceInput) selectedBy() (reason, how string) {
	if in.listed.Has(in.ns.Name) {
		return Listed, "listed in spec.injection.namespaces"
	}
	theirs := maps.Clone(in.ns.Labels)
	maps.DeleteFunc(theirs, func(key, _ string) bool { return in.owned.Has(key) })
	if in.selector.Matches(labels.Set(theirs)) {
		return SelectorMatched, "matched by spec.injection.namespaceSelector"
	}
	return "", ""
}

func namespaceTerminating(in namespaceInput) (string, string, bool) {
	if in.ns.DeletionTimestamp == nil {
		return "", "", false
	}
	return Terminating, fmt.Sprintf("namespace %s is being deleted", in.ns.Name), true
}

func systemNamespace(in namespaceInput) (string, string, bool) {
	if !neverInjected.Has(in.ns.Name) {
		return "", "", false
	}
	return SystemNamespace, fmt.Sprintf("namespace %s is one whose pods Istio's injector never injects (%s); meshkeeper never enrolls it",
		in.ns.Name, neverInjectedList), true
}

func controlPlaneNamespace(in namespaceInput) (string, string, bool) {
	if in.ns.Name != in.controlPlane {
		return "", "", false
	}
	return ControlPlaneNamespace, fmt.Sprintf("namespace %s runs the Istio control plane (spec.namespace); istiod's own pods are never injected", in.ns.Name), true
}

func notSelected(in namespaceInput) (string, string, bool) {
	if reason, _ := in.selectedBy(); reason != "" {
		return "", "", false
	}
	return NotSelected, fmt.Sprintf("namespace %s is neither listed in spec.injection.namespaces nor matched by spec.injection.namespaceSelector", in.ns.Name), true
}

// injectionLabelConflict finds an injection label someone else set that meshkeeper would have to
// change. istio.io/rev counts whatever its value: with it, the namespace's owner chose a revision.
func injectionLabelConflict(in namespaceInput) (string, string, bool) {
	for _, key := range []string{LabelIstioInjection, LabelIstioRevision} {
		have, ok := in.ns.Labels[key]
		if !ok || in.owned.Has(key) || (key == in.label && have == in.value) {
			continue
		}
		why := "which meshkeeper did not set"
		if key == LabelIstioRevision {
			why = "which meshkeeper did not set: the namespace's owner chose an Istio revision"
		}
		return InjectionLabelConflict, fmt.Sprintf(
			"namespace %s has label %s=%s, %s; meshkeeper keeps it and does not enroll the namespace with %s=%s. "+
				"To enroll it, remove the label (kubectl label namespace %s %s-); to keep it as it is, stop selecting it in spec.injection",
			in.ns.Name, key, have, why, in.label, in.value, in.ns.Name, key), true
	}
	return "", "", false
}

// cniExcludesNamespace finds a selected namespace the CNI plugin skips (spec.cni.excludeNamespaces):
// the pods injected there would never start.
func cniExcludesNamespace(in namespaceInput) (string, string, bool) {
	if !in.CNIExcludes(in.ns.Name) {
		return "", "", false
	}
	return CNIExcludesNamespace, fmt.Sprintf("namespace %s is in spec.cni.excludeNamespaces (or was, until the CNI agent has rolled that change out "+
		"to every node, status.cni.excludeNamespaces): the CNI plugin leaves its pods alone, "+
		"so the istio-validation init container of an injected pod finds no traffic redirection and fails, and the pod never starts; "+
		"meshkeeper does not enroll it. Take it out of spec.cni.excludeNamespaces, or stop selecting it in spec.injection", in.ns.Name), true
}

// EnforcedLevelRejectsPrivilege reads a namespace's labels as the Pod Security admission does: it
// returns the level they enforce, and whether that level rejects privileged containers and added
// capabilities. Every level but privileged does, whatever its enforce-version (both checks exist since
// v1.0), and a level the API server does not know counts as restricted. Without the label nothing is
// rejected here: a cluster-wide default level set in the API server's admission configuration is not
// visible to meshkeeper.
func EnforcedLevelRejectsPrivilege(labels map[string]string) (string, bool) {
	level, ok := labels[LabelPodSecurityEnforce]
	return level, ok && level != "privileged"
}

// LabelPodSecurityEnforceVersion is the namespace label that pins the version of the Pod Security
// levels the API server enforces there. Without it the admission configuration's default version
// applies, latest unless the cluster sets another, which meshkeeper cannot see: it judges latest.
const LabelPodSecurityEnforceVersion = "pod-security.kubernetes.io/enforce-version"

// latestMinor stands for the version latest (and a version the API server does not know, which it
// enforces as latest): newer than every check.
const latestMinor = math.MaxInt

// enforcedMinor is the minor version of the levels the namespace's labels pin (v1.<minor>), or
// latestMinor.
func enforcedMinor(labels map[string]string) int {
	digits, ok := strings.CutPrefix(labels[LabelPodSecurityEnforceVersion], "v1.")
	minor, err := strconv.Atoi(digits)
	// The API server's form is v1.<minor> with no sign and no leading zero.
	if !ok || err != nil || strconv.Itoa(minor) != digits || minor < 0 {
		return latestMinor
	}
	return minor
}

// Privilege is why the pods injection produces need what the Pod Security level restricted rejects,
// and what lifts it; the zero value when they need none of it. Part of it may be admitted by the level
// baseline, which allows more (NET_BIND_SERVICE, running as root), or by a level pinned to an older
// version (enforce-version), which checks less: RejectedBy judges each level and version.
type Privilege struct {
	// What names all of it, for messages that say what a level rejects.
	What string
	// Fix says what lets the injected pods in, in the imperative.
	Fix string
	// Parts are its parts, in the order messages name them. Exported, as all of a Privilege is, so that
	// equality.Semantic.DeepEqual can compare the inputs that carry one (the ingress-nginx controller's
	// decision is reused while they are equal): it panics on a field it cannot read.
	Parts []PrivilegePart
}

// RejectedBy reads a namespace's labels as the Pod Security admission does and tells whether the level
// they enforce rejects the injected pods: it returns that level, and what of the Privilege it rejects
// and how to lift it. A level pinned to a version (enforce-version) rejects only what that version
// checks: every check that rejects them exists since v1.0 of the levels, but for the seccomp profile,
// whose field the levels check since v1.19. A level the API server does not know is enforced as
// restricted, and a version it does not know as latest; without the label nothing is rejected here,
// since a cluster-wide default level or an exemption set in the API server's admission configuration is
// not visible to meshkeeper.
func (p Privilege) RejectedBy(labels map[string]string) (string, Privilege, bool) {
	level, rejects := EnforcedLevelRejectsPrivilege(labels)
	if !rejects {
		return level, Privilege{}, false
	}
	rejected := p.rejectedAt(level == "baseline", enforcedMinor(labels))
	return level, rejected, rejected.What != ""
}

// rejectedAt is what of the Privilege the level restricted (or baseline) rejects at version v1.<minor>.
func (p Privilege) rejectedAt(baseline bool, minor int) Privilege {
	var rejected []PrivilegePart
	for _, part := range p.Parts {
		if (baseline && part.RestrictedOnly) || minor < part.SinceMinor || (part.UnlessOther && len(rejected) > 0) {
			continue
		}
		rejected = append(rejected, part)
	}
	var whats, fixes []string
	for _, part := range rejected {
		whats, fixes = append(whats, part.What), append(fixes, part.Fix)
	}
	return Privilege{What: strings.Join(whats, ", and "), Fix: strings.Join(fixes, "; and ")}
}

// PrivilegePart is one thing of the injected pods that a Pod Security level rejects.
type PrivilegePart struct {
	// What names it, Fix says what lifts it.
	What, Fix string
	// RestrictedOnly is true when the level baseline admits it.
	RestrictedOnly bool
	// SinceMinor is the first version of the levels (v1.<SinceMinor>) that rejects it.
	SinceMinor int
	// UnlessOther is true when it is named only if no part before it is rejected: istio-init, whose fix
	// (the CNI agent) does not lift a privileged sidecar of spec.values.
	UnlessOther bool
}

// privilegeOf is the Privilege of the parts: What and Fix name what restricted rejects at its latest
// version.
func privilegeOf(parts []PrivilegePart) Privilege {
	p := Privilege{Parts: parts}
	all := p.rejectedAt(false, latestMinor)
	p.What, p.Fix = all.What, all.Fix
	return p
}

// unconfinedSidecar is what render.PrivilegedSidecar returns for a seccomp profile of type Unconfined,
// which the levels check since v1.19 (before, only the annotations of the profile were checked).
const unconfinedSidecar = "global.proxy.seccompProfile.type: Unconfined"

// seccompFieldMinor is the version of the levels (v1.19) from which they check the seccomp profile's field.
const seccompFieldMinor = 19

// PrivilegeOf is the Privilege of the pods injection produces under spec, whose spec.cni.enabled says
// whether istiod injects for the CNI agent. A privileged sidecar of spec.values comes first: the CNI
// agent does not lift it, so istio-init is named only where the sidecar is admitted (an Unconfined one
// by a level pinned before v1.19). A sidecar that spec.values has run as root is rejected by restricted
// only, and so is one whose containers spec.values leaves without a seccomp profile (from v1.19).
// istio-init is what injection adds unless it injects for a CNI agent (InjectsForCNI): meshkeeper's, or
// a CNI installation of the user's own that spec.values turns on (cni.enabled) while meshkeeper runs
// none, whose pods get istio-validation instead. For the latter meshkeeper gives the sidecar's
// containers no seccomp profile, which restricted asks for, unless spec.values gives them one.
func PrivilegeOf(spec *meshv1alpha1.ServiceMeshSpec) Privilege {
	var parts []PrivilegePart
	if value := render.PrivilegedSidecar(spec); value != "" {
		part := PrivilegePart{What: fmt.Sprintf("the sidecar that spec.values asks for (%s)", value),
			Fix: fmt.Sprintf("remove %s from spec.values", value)}
		if value == unconfinedSidecar {
			part.SinceMinor = seccompFieldMinor
		}
		parts = append(parts, part)
	}
	if !InjectsForCNI(spec) {
		parts = append(parts, PrivilegePart{What: "the istio-init container that injection adds without the CNI agent (it needs NET_ADMIN and NET_RAW)",
			Fix:         "turn on CNI (spec.cni.enabled: true): once the agent is installed, injected pods carry no privileged init container",
			UnlessOther: true})
	} else if render.Mode(spec).PrivilegedInit() && render.SidecarSeccompType(spec) == "" {
		parts = append(parts, PrivilegePart{What: "the sidecar injected for the CNI installation that spec.values turns on (cni.enabled), whose containers have no seccomp profile",
			Fix: "set global.proxy.seccompProfile.type: RuntimeDefault in spec.values, or let meshkeeper run the CNI agent (spec.cni.enabled: true), " +
				"which gives the sidecar that profile",
			RestrictedOnly: true, SinceMinor: seccompFieldMinor})
	}
	if value := render.RootSidecar(spec); value != "" {
		parts = append(parts, PrivilegePart{What: fmt.Sprintf("the sidecar that spec.values asks for (%s), which runs as root", value),
			Fix: fmt.Sprintf("remove %s from spec.values", value), RestrictedOnly: true})
	}
	if value := render.SeccompLessSidecar(spec); value != "" {
		parts = append(parts, PrivilegePart{What: fmt.Sprintf("the sidecar that spec.values asks for (%s), whose containers have no seccomp profile", value),
			Fix:            fmt.Sprintf("remove %s from spec.values, so that they run with the seccomp profile RuntimeDefault", value),
			RestrictedOnly: true, SinceMinor: seccompFieldMinor})
	}
	return privilegeOf(parts)
}

// Privilege is why the pods the enrollment injects need what the Pod Security levels baseline and
// restricted reject.
func (e *Enrollment) Privilege() Privilege { return e.privilege }

// LabelPodSecurityEnforce is the namespace label whose Pod Security level the API server enforces on
// every pod created there.
const LabelPodSecurityEnforce = "pod-security.kubernetes.io/enforce"

// podSecurityRejectsSidecar finds a namespace whose enforced Pod Security level rejects the pods the
// injection would produce: without the CNI agent they carry istio-init, which adds NET_ADMIN and
// NET_RAW, and baseline and restricted allow neither; some values of spec.values make the sidecar itself
// privileged, or have it run as root or without a seccomp profile, which restricted rejects. Enrolling
// it would break its next rollout. The API server reads a level it does not know as restricted, and so does this check; only
// privileged (or no label) admits them all.
func podSecurityRejectsSidecar(in namespaceInput) (string, string, bool) {
	level, rejected, ok := in.privilege.RejectedBy(in.ns.Labels)
	if !ok {
		return "", "", false
	}
	if !in.owned.Has(in.label) && in.ns.Labels[in.label] == in.value {
		// The owner's own label has Istio inject the pods whatever meshkeeper decides, and meshkeeper
		// leaves it: the new pods are rejected, not started without a sidecar.
		return PodSecurityRejectsSidecar, fmt.Sprintf(
			"namespace %s enforces the Pod Security level %q (label %s), which rejects %s; meshkeeper does not enroll it, "+
				"but the namespace's own label %s=%s, which meshkeeper leaves to its owner, still has Istio inject its pods, so its new pods are rejected. "+
				"To let them start, %s; or remove the label (kubectl label namespace %s %s-)",
			in.ns.Name, level, LabelPodSecurityEnforce, rejected.What, in.label, in.value, rejected.Fix, in.ns.Name, in.label), true
	}
	return PodSecurityRejectsSidecar, fmt.Sprintf(
		"namespace %s enforces the Pod Security level %q (label %s), which rejects %s; meshkeeper does not enroll it, so its pods keep starting. "+
			"To enroll it, %s",
		in.ns.Name, level, LabelPodSecurityEnforce, rejected.What, rejected.Fix), true
}
