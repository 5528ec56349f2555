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

package servicemesh

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// setRevisions sets status.activeRevision and status.revisions from what the revision phase decided;
// with the InPlace strategy (ri nil) there are none.
func setRevisions(status *meshv1alpha1.ServiceMeshStatus, ri *revisionInstallation) {
	if ri == nil {
		status.ActiveRevision, status.Revisions = "", nil
		return
	}
	status.ActiveRevision = ri.active
	status.Revisions = ri.revisions
}

// setRevisionMetrics exports status.revisions.
func setRevisionMetrics(status *meshv1alpha1.ServiceMeshStatus) {
	revisions := make([]metrics.Revision, 0, len(status.Revisions))
	for _, r := range status.Revisions {
		revisions = append(revisions, metrics.Revision{Name: r.Name, Version: r.Version, State: string(r.State), Ready: r.Ready, Proxies: r.Proxies})
	}
	metrics.SetRevisions(revisions)
}

// canaryNotEnrolled names the canary namespaces (updateStrategy.canary.namespaces of a RevisionBased
// mesh) that are not enrolled, each with why: it does not exist, or the reason of the enrollment's
// decision. Only an enrolled namespace is moved to the canary revision, so a misspelt canary namespace,
// or one spec.injection does not select, would leave the canary serving nothing there without a word.
// judged are the namespaces as observeNamespaces judged them: the enrolled, those being enrolled and
// those whose enrollment the API server refuses (which NamespacesEnrolled names) are not named.
func canaryNotEnrolled(mesh *meshv1alpha1.ServiceMesh, namespaces []corev1.Namespace, enrollment *policy.Enrollment,
	judged *namespacesObservation) []string {
	if !revisionBased(mesh) || mesh.Spec.UpdateStrategy.Canary == nil {
		return nil
	}
	left := sets.New(mesh.Spec.UpdateStrategy.Canary.Namespaces...).Difference(judged.enrolled).Delete(judged.pending...)
	for name, refusal := range judged.refused {
		if !refusal.Releasing {
			left.Delete(name)
		}
	}
	if left.Len() == 0 {
		return nil
	}
	why := make(map[string]string, left.Len())
	for i := range namespaces {
		ns := &namespaces[i]
		if !left.Has(ns.Name) {
			continue
		}
		reason := enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Reason
		if reason == policy.NotSelected {
			reason = "not selected by spec.injection"
		}
		why[ns.Name] = reason
	}
	out := make([]string, 0, left.Len())
	for _, name := range sets.List(left) {
		out = append(out, fmt.Sprintf("%s (%s)", name, cmp.Or(why[name], "does not exist")))
	}
	return out
}

// canaryNotEnrolledNote is what ControlPlaneReady's message adds about the canary namespaces that are
// not enrolled, "" when there are none.
func canaryNotEnrolledNote(n *namespacesObservation) string {
	if n == nil || len(n.canaryNotEnrolled) == 0 {
		return ""
	}
	return "; " + canaryNotEnrolledMessage(n.canaryNotEnrolled)
}

func canaryNotEnrolledMessage(namespaces []string) string {
	return fmt.Sprintf("updateStrategy.canary.namespaces names %d namespace(s) that are not enrolled, which the canary revision "+
		"never serves: %s; correct the list, or enroll them through spec.injection", len(namespaces), names(slices.Clone(namespaces)))
}

// reportCanaryNotEnrolled records a Warning Event naming the canary namespaces that are not enrolled,
// once for each change of them (revisionState.reported: and again after a restart of the manager, or on
// a ServiceMesh created again); an observation without namespaces knows nothing new.
func (r *Reconciler) reportCanaryNotEnrolled(mesh *meshv1alpha1.ServiceMesh, obs *observation) {
	if obs.namespaces == nil {
		return
	}
	notEnrolled := obs.namespaces.canaryNotEnrolled
	if r.revisionState.reported.Changed(reportKey(mesh, meshv1alpha1.ReasonCanaryNamespacesNotEnrolled), strings.Join(notEnrolled, ", ")) && len(notEnrolled) > 0 {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonCanaryNamespacesNotEnrolled, "Canary",
			"%s", canaryNotEnrolledMessage(notEnrolled))
	}
}

// sharedRevisions are the revisions of found, but those being removed (pruned), that another
// installation's istiod of the same revision name serves pods of (revision.Installed.Elsewhere), sorted
// by name.
func sharedRevisions(found []revision.Installed, pruned []string) []revision.Installed {
	var shared []revision.Installed
	for _, f := range found {
		if len(f.Elsewhere) > 0 && !slices.Contains(pruned, f.Name) {
			shared = append(shared, f)
		}
	}
	slices.SortFunc(shared, func(a, b revision.Installed) int { return strings.Compare(a.Name, b.Name) })
	return shared
}

// revisionSharedMessage says which revisions the mesh runs share their name with another Istio
// installation's istiod, which serves pods whose proxy names the revision (their discovery address names
// that istiod): both installations' injectors select the same istio.io/rev label, and which one injects
// a pod depends on the order of their webhooks. It names no pod count, so the pods' coming and going
// changes neither ControlPlaneReady nor the Event; "" when none.
func revisionSharedMessage(shared []revision.Installed) string {
	if len(shared) == 0 {
		return ""
	}
	parts := make([]string, 0, len(shared))
	for _, f := range shared {
		var istiods []string
		for _, istiod := range sortedKeys(f.Elsewhere) {
			service, namespace, _ := strings.Cut(istiod, ".")
			istiods = append(istiods, fmt.Sprintf("istiod %s of namespace %s serves pods of %s", service, namespace, names(slices.Clone(f.Elsewhere[istiod]))))
		}
		label := policy.LabelIstioRevision + "=" + f.Name
		if f.Name == revision.Legacy {
			label = policy.LabelIstioInjection + "=enabled"
		}
		parts = append(parts, fmt.Sprintf("revision %s (%s: %s)", f.Name, label, strings.Join(istiods, "; ")))
	}
	return fmt.Sprintf("another Istio installation runs an istiod of the same revision name as %s: its injector selects the same "+
		"namespaces and pods, and which installation injects a pod depends on the order of their webhooks; install one of them "+
		"under another revision name (spec.version, or that installation's --revision)", strings.Join(parts, ", and "))
}

// revisionSharedNote is what ControlPlaneReady's message adds about the revisions another installation
// shares the name of, "" when there are none.
func revisionSharedNote(ri *revisionInstallation) string {
	if ri == nil || len(ri.shared) == 0 {
		return ""
	}
	return "; " + revisionSharedMessage(ri.shared)
}

// reportRevisionShared records a Warning Event naming the revisions another installation shares the
// name of, once for each change of them (revisionState.reported: and again after a restart of the
// manager, or on a ServiceMesh created again); a pass whose revision phase did not finish knows nothing
// new.
func (r *Reconciler) reportRevisionShared(mesh *meshv1alpha1.ServiceMesh, obs *observation) {
	if obs.installed == nil || obs.installed.revisions == nil {
		return
	}
	current := revisionSharedMessage(obs.installed.revisions.shared)
	if r.revisionState.reported.Changed(reportKey(mesh, meshv1alpha1.ReasonRevisionNameShared), current) && current != "" {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonRevisionNameShared, "Revision",
			"%s", strings.ToUpper(current[:1])+current[1:])
	}
}

// reportKey keys what revisionState.reported remembers of a Warning: by the ServiceMesh's UID and the
// Warning's reason, so that a ServiceMesh deleted and created again under the same name, which starts
// with no Events, is told again even when no reconcile saw the old one gone (forgetMesh).
func reportKey(mesh *meshv1alpha1.ServiceMesh, reason string) string {
	return string(mesh.UID) + "/" + reason
}
