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
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/namespace"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

// computeStatus returns the status an observation shows, starting from the current one: each setter
// sets its condition (and the counts that go with it), and Ready summarises them. It reads nothing.
func computeStatus(current *meshv1alpha1.ServiceMeshStatus, obs *observation) *meshv1alpha1.ServiceMeshStatus {
	status := current.DeepCopy()
	if obs.installed != nil {
		status.Version = obs.installed.version
		status.ChartVersion = obs.installed.chartVersion
		status.Revision = obs.installed.revision
		setRevisions(status, obs.installed.revisions)
	} else if moved := obs.tagMoved; moved != nil {
		// The phase failed after the default tag moved: injection follows the revision it moved to.
		status.Version, status.Revision = moved.version, moved.revision
		status.ActiveRevision, status.Revisions = moved.revision, moved.revisions
	}
	setControlPlaneReady(status, obs)
	setCNIReady(status, obs)
	setNamespacesEnrolled(status, obs)
	setIngressesConfigured(status, obs)
	// A rollback ends in the write that reports the revisions of the spec it no longer holds for
	// (meshctx.RecordedRollback): while the control-plane phase of a new spec fails, the status still
	// reports the rolled-back canary as ready, and dropping the rollback would move the canary
	// namespaces back to it.
	if obs.installed != nil || obs.canaryRollback != nil {
		status.CanaryRollback = obs.canaryRollback
	}
	setDataPlaneUpToDate(status, obs)
	setPoliciesApplied(status, obs)
	setMTLSReady(status, obs)
	summarizeReady(status, obs)
	setReconcilingOrStalled(status, obs)
	return status
}

// setControlPlaneReady: the control-plane phase's failure when it failed, followed by what the istiod
// that serves the mesh is doing; else the istiod Deployment's readiness, and the canary namespaces that
// are not enrolled, which the canary revision never serves.
func setControlPlaneReady(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	if e := meshctx.Classify(obs.controlPlaneErr); e != nil {
		message := e.Error()
		if obs.istiodRead {
			message += servingIstiodNote(obs.spec.Namespace, obs.istiodName, obs.istiod)
		}
		setCondition(status, obs, meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionFalse, e.Reason, message)
		return
	}
	if obs.controlPlaneErr != nil || !obs.istiodRead || (obs.activeIstiodName != "" && !obs.activeIstiodRead) {
		return // an API error: the next reconcile tells
	}
	value, reason, message := controlPlaneReadiness(obs.istiod)
	if value == metav1.ConditionTrue && obs.activeIstiodName != "" {
		// spec.version's istiod is available, but the default tag stays on an older revision (a
		// canary): that revision's istiod injects and validates for every enrolled namespace outside the
		// canary, and its webhooks fail closed. Down, pods there cannot be created.
		if active, activeReason, activeMessage := controlPlaneReadiness(obs.activeIstiod); active != metav1.ConditionTrue {
			value, reason = active, activeReason
			message = fmt.Sprintf("The istiod the default revision tag points at, Deployment %s/%s, which injects and validates for "+
				"the enrolled namespaces outside the canary, is not available (%s); spec.version's, Deployment %s/%s, is",
				obs.spec.Namespace, obs.activeIstiodName, strings.TrimPrefix(activeMessage, "istiod: "), obs.spec.Namespace, obs.istiodName)
		}
	}
	message += canaryNotEnrolledNote(obs.namespaces)
	if obs.installed != nil {
		message += revisionSharedNote(obs.installed.revisions)
	}
	setCondition(status, obs, meshv1alpha1.ConditionControlPlaneReady, value, reason, message)
}

// servingIstiodNote says, after the control-plane phase's failure, what the istiod that serves the mesh
// is doing: the failure leaves it as it is, but it can be down for reasons of its own. It names only
// counts that change with istiod's availability, so an unchanged istiod writes nothing.
func servingIstiodNote(namespace, name string, d *appsv1.Deployment) string {
	if d == nil {
		return fmt.Sprintf("; no istiod serves the mesh: its Deployment %s/%s does not exist", namespace, name)
	}
	desired := meshctx.DesiredReplicas(d.Spec.Replicas)
	note := fmt.Sprintf("; the running istiod (Deployment %s/%s): %d of %d replicas available",
		namespace, name, d.Status.AvailableReplicas, desired)
	if ready, _, _ := controlPlaneReadiness(d); ready != metav1.ConditionTrue && d.Status.AvailableReplicas >= desired {
		note += ", its rollout not complete"
	}
	return note
}

// controlPlaneReadiness judges the istiod Deployment: ready when the current template is rolled out
// and every desired replica is available.
func controlPlaneReadiness(d *appsv1.Deployment) (metav1.ConditionStatus, string, string) {
	if d == nil {
		return metav1.ConditionFalse, meshv1alpha1.ReasonDeploymentMissing, "The istiod Deployment does not exist yet"
	}
	desired := meshctx.DesiredReplicas(d.Spec.Replicas)
	st := d.Status
	switch {
	case st.ObservedGeneration < d.Generation:
		return metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, "The istiod Deployment's latest change is not yet observed by its controller"
	case st.UpdatedReplicas < desired || st.AvailableReplicas < desired || st.Replicas > desired:
		counts := fmt.Sprintf("istiod: %d of %d replicas updated, %d available", st.UpdatedReplicas, desired, st.AvailableReplicas)
		if failure := replicaFailure(d); failure != nil {
			// The Deployment controller cannot create istiod's pods (a quota, a PriorityClass that does
			// not exist, an admission rule): there are no pods to look at, and its words are the cause.
			counts += fmt.Sprintf("; the Deployment controller cannot create its pods: %s: %s", failure.Reason, failure.Message)
			if meshctx.ProgressDeadlinePassed(d) {
				return metav1.ConditionFalse, meshv1alpha1.ReasonProgressDeadlineExceeded, fmt.Sprintf(
					"%s; the rollout of Deployment %s/%s made no progress for its progressDeadlineSeconds",
					counts, d.Namespace, d.Name)
			}
			return metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, counts
		}
		if meshctx.ProgressDeadlinePassed(d) {
			// The Deployment controller gave up waiting: the new pods cannot be pulled, scheduled or
			// started. Not progress any more, so kstatus reads Stalled and Argo CD Degraded rather
			// than waiting for ever.
			return metav1.ConditionFalse, meshv1alpha1.ReasonProgressDeadlineExceeded, fmt.Sprintf(
				"%s; the rollout of Deployment %s/%s made no progress for its progressDeadlineSeconds: "+
					"look at its pods (kubectl -n %s describe pods -l app=istiod): an image that cannot be pulled, "+
					"pods that cannot be scheduled or that crash", counts, d.Namespace, d.Name, d.Namespace)
		}
		return metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, counts
	default:
		return metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, fmt.Sprintf("istiod: %d of %d replicas available", st.AvailableReplicas, desired)
	}
}

// replicaFailure is the Deployment controller's ReplicaFailure condition when it is True: the
// controller could not create or delete the Deployment's pods, and says why. Nil otherwise.
func replicaFailure(d *appsv1.Deployment) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if c := &d.Status.Conditions[i]; c.Type == appsv1.DeploymentReplicaFailure && c.Status == corev1.ConditionTrue {
			return c
		}
	}
	return nil
}

// setNamespacesEnrolled sets NamespacesEnrolled and status.namespaces.
func setNamespacesEnrolled(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	if obs.enrollmentErr != nil {
		setCondition(status, obs, meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse,
			meshv1alpha1.ReasonInvalidSpec, obs.enrollmentErr.Error())
		return
	}
	n := obs.namespaces
	if n == nil {
		return
	}
	status.Namespaces = meshv1alpha1.NamespacesStatus{Enrolled: int32(n.enrolled.Len()), Conflicts: int32(len(n.conflicts))}
	// The reason is the first kind of namespace left out, in this order; the message names every kind,
	// so that a conflict does not hide the namespaces whose pods the API server rejects.
	var reason string
	var messages []string
	leftOut := func(r string, count int, message func() string) {
		if count == 0 {
			return
		}
		if reason == "" {
			reason = r
		}
		messages = append(messages, message())
	}
	leftOut(meshv1alpha1.ReasonInjectionLabelConflict, len(n.conflicts), func() string {
		return fmt.Sprintf("%d namespace(s) the spec selects keep their own injection label and are not enrolled: %s; "+
			"remove their label to enroll them, or take them out of spec.injection (their Events say which label)",
			len(n.conflicts), names(n.conflicts))
	})
	leftOut(meshv1alpha1.ReasonPodSecurityRejectsSidecar, len(n.podSecurity), func() string { return podSecurityMessage(n) })
	leftOut(meshv1alpha1.ReasonCNIExcludesNamespace, len(n.cniExcluded), func() string {
		return fmt.Sprintf("%d namespace(s) the spec selects are in spec.cni.excludeNamespaces, where the CNI plugin leaves pods alone "+
			"and injected pods would never start (their istio-validation init container fails), and are not enrolled: %s; "+
			"take them out of spec.cni.excludeNamespaces, or stop selecting them in spec.injection",
			len(n.cniExcluded), names(n.cniExcluded))
	})
	leftOut(meshv1alpha1.ReasonNamespaceWriteRefused, len(n.refused), func() string { return refusedNamespacesMessage(n.refused) })
	switch {
	case reason != "":
		setCondition(status, obs, meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, reason, strings.Join(messages, ". Also, "))
	case len(n.pending) > 0 || len(n.leaving) > 0:
		var messages []string
		if len(n.pending) > 0 {
			messages = append(messages, fmt.Sprintf("%d namespace(s) being enrolled: %s", len(n.pending), names(n.pending)))
		}
		if len(n.leaving) > 0 {
			messages = append(messages, fmt.Sprintf("%d namespace(s) no longer selected still carry meshkeeper's injection label, being taken back: %s "+
				"(their new pods get a sidecar until then)", len(n.leaving), names(n.leaving)))
		}
		setCondition(status, obs, meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			strings.Join(messages, "; "))
	default:
		setCondition(status, obs, meshv1alpha1.ConditionNamespacesEnrolled, metav1.ConditionTrue, meshv1alpha1.ReasonEnrolled,
			fmt.Sprintf("%d namespace(s) enrolled", n.enrolled.Len())+selectedNowhere(obs.spec, n))
	}
}

// selectedNowhere says, to follow NamespacesEnrolled's count, which namespaces listed in
// spec.injection.namespaces do not exist (or are being deleted), and that spec.injection.namespaceSelector
// selects nothing when no namespace beyond the listed ones is judged at all. Neither holds the mesh back:
// a listed namespace is enrolled once it is created, and a selector matches namespaces labelled later.
// But a misspelt name or label would otherwise keep the namespace meant out of the mesh without a word.
// Empty when there is nothing to say. It allocates only for the listed namespaces, not for every
// namespace judged.
func selectedNowhere(spec *meshv1alpha1.ServiceMeshSpec, n *namespacesObservation) string {
	if spec == nil || (len(spec.Injection.Namespaces) == 0 && spec.Injection.NamespaceSelector == nil) {
		return ""
	}
	listed := sets.New(spec.Injection.Namespaces...)
	judgedListed := sets.New[string]()
	for name := range listed {
		if n.enrolled.Has(name) {
			judgedListed.Insert(name)
		}
	}
	judged := n.enrolled.Len()
	for _, each := range [][]string{n.pending, n.conflicts, n.podSecurity, n.cniExcluded} {
		judged += len(each)
		for _, name := range each {
			if listed.Has(name) {
				judgedListed.Insert(name)
			}
		}
	}
	var missing []string
	for _, name := range spec.Injection.Namespaces {
		if !judgedListed.Has(name) && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	var note string
	if len(missing) > 0 {
		note += fmt.Sprintf("; %d namespace(s) listed in spec.injection.namespaces do not exist (or are being deleted): %s; "+
			"each is enrolled once created: check the names if they should exist already", len(missing), names(missing))
	}
	if spec.Injection.NamespaceSelector != nil && judged == judgedListed.Len() {
		beyond := ""
		if listed.Len() > 0 {
			beyond = " beyond those listed in spec.injection.namespaces"
		}
		note += "; spec.injection.namespaceSelector matches no namespace meshkeeper may enroll" + beyond + " (kube-system, kube-public, " +
			"kube-node-lease, local-path-storage and spec.namespace never are): compare it with kubectl get namespaces --show-labels"
	}
	return note
}

// refusalDirections tells whether any of the refused writes put meshkeeper's labels or annotations on,
// and whether any took them back.
func refusalDirections(refused map[string]meshctx.Refusal) (putting, releasing bool) {
	for _, refusal := range refused {
		releasing = releasing || refusal.Releasing
		putting = putting || !refusal.Releasing
	}
	return putting, releasing
}

// refusedNamespacesMessage says that the API server refuses meshkeeper's write of the injection label
// of the namespaces refused names, which it names (the first five, sorted, and a count of the others),
// with the API server's answer for the first, and what to do.
func refusedNamespacesMessage(refused map[string]meshctx.Refusal) string {
	listed := slices.Sorted(maps.Keys(refused))
	putting, releasing := refusalDirections(refused)
	what := "putting it on"
	switch {
	case putting && releasing:
		what = "putting it on or taking it back"
	case releasing:
		what = "taking it back, so their new pods keep getting a sidecar"
	}
	return fmt.Sprintf("meshkeeper cannot write the injection label (%s) of %d namespace(s): %s; the API server refuses it, "+
		"and for %s answers: %s. An admission webhook or policy of the cluster's refuses the change: allow meshkeeper's "+
		"change (field manager %s) to those namespaces' labels in that webhook or policy, or stop selecting them in "+
		"spec.injection. meshkeeper retries with backoff; each namespace's Warning Event %s gives the API server's answer",
		what, len(listed), meshctx.Names(listed, 5), listed[0], meshctx.Bound(refused[listed[0]].Answer, refusedAnswerLimit),
		meshv1alpha1.FieldManager, namespace.ReasonApplyFailed)
}

// podSecurityMessage says which namespaces are not enrolled for their Pod Security level, naming the
// levels that reject what injection adds: baseline allows some of what restricted rejects (a sidecar
// that runs as root), so it may reject all of it, part of it or none of it. The namespaces' own Events
// name the level each enforces.
func podSecurityMessage(n *namespacesObservation) string {
	_, baseline, baselineRejects := n.privilege.RejectedBy(map[string]string{policy.LabelPodSecurityEnforce: "baseline"})
	count, listed := len(n.podSecurity), names(n.podSecurity)
	switch {
	case !baselineRejects:
		return fmt.Sprintf("%d namespace(s) the spec selects enforce the Pod Security level restricted (or a level the API server "+
			"does not know, which it enforces as restricted), which rejects %s, and are not enrolled: %s; to enroll them, %s",
			count, n.privilege.What, listed, n.privilege.Fix)
	case baseline.What != n.privilege.What:
		return fmt.Sprintf("%d namespace(s) the spec selects enforce a Pod Security level that rejects what injection adds, "+
			"and are not enrolled: %s; restricted rejects %s, and baseline only %s; to enroll them, %s "+
			"(where baseline is enforced, it is enough to %s)",
			count, listed, n.privilege.What, baseline.What, n.privilege.Fix, baseline.Fix)
	default:
		return fmt.Sprintf("%d namespace(s) the spec selects enforce a Pod Security level (baseline or restricted) that rejects %s, "+
			"and are not enrolled: %s; to enroll them, %s", count, n.privilege.What, listed, n.privilege.Fix)
	}
}

// setIngressesConfigured sets IngressesConfigured and status.ingresses.
func setIngressesConfigured(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	in := obs.ingresses
	if in == nil {
		return
	}
	status.Ingresses = in.status
	if !in.enabled {
		if len(in.refused) > 0 {
			message := "The ingress-nginx integration is off (spec.ingressNginx.enabled is false), but " + refusedMessage(in.refused)
			if len(in.held) > 0 {
				message += ". meshkeeper is also taking back its sidecar settings from the pod template of " + names(in.held)
			}
			if len(in.pending) > 0 {
				message += fmt.Sprintf(". meshkeeper is also taking back its annotations from %d more Ingress(es): %s",
					len(in.pending), names(in.pending))
			}
			setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused, message)
			return
		}
		if len(in.held) == 0 && len(in.pending) == 0 {
			setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionTrue, meshv1alpha1.ReasonIngressNginxDisabled,
				"The ingress-nginx integration is off (spec.ingressNginx.enabled is false)")
			return
		}
		var giving []string
		if len(in.held) > 0 {
			giving = append(giving, "its sidecar settings from the pod template of "+names(in.held))
		}
		if len(in.pending) > 0 {
			giving = append(giving, fmt.Sprintf("its annotations from %d Ingress(es): %s", len(in.pending), names(in.pending)))
		}
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			"The ingress-nginx integration is off (spec.ingressNginx.enabled is false); meshkeeper is taking back "+
				strings.Join(giving, ", and ")+". If this persists, the workload's and the Ingresses' Events, or an admission "+
				"rule of the cluster's, say why")
		return
	}
	controller := obs.spec.IngressNginx.Controller
	// A controller that ignores spec.ingressClassName serves other Ingresses than their classes say; one
	// that refuses its namespace flags serves none.
	classNameNote := in.controller.Classes.ClassNameNote(obs.spec.IngressNginx) + in.controller.Namespaces.Note()
	switch {
	case !in.controller.Configured:
		message := in.controller.Message
		if in.controller.Reason != meshv1alpha1.ReasonServiceCIDRsUnknown {
			// Its message already says that no Ingress is configured.
			message += fmt.Sprintf(". Until the controller gets its sidecar, meshkeeper puts service-upstream and upstream-vhost on no "+
				"mesh Ingress and takes back those it set (%d Ingress(es), status.ingresses.skippedByReason.%s): without the sidecar, "+
				"nginx would send plaintext to their Services' ClusterIPs, which STRICT mTLS rejects",
				len(in.skipped[meshv1alpha1.ReasonControllerWithoutSidecar]), meshv1alpha1.ReasonControllerWithoutSidecar)
		}
		if len(in.refused) > 0 {
			// The controller comes first, but Ingresses that keep annotations meshkeeper cannot take back
			// send plaintext to their Services' ClusterIPs meanwhile: not to be hidden behind it.
			message += ". Meanwhile " + refusedMessage(in.refused)
		}
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, in.controller.Reason, message)
	case len(in.refused) > 0:
		message := refusedMessage(in.refused)
		if !in.controllerApplied {
			message += fmt.Sprintf(". Meanwhile the pod template of %s %s/%s is being configured", controller.Kind, controller.Namespace, controller.Name)
		}
		if len(in.pending) > 0 {
			message += fmt.Sprintf(". %d more Ingress(es) being configured: %s", len(in.pending), names(in.pending))
		}
		if len(in.skipped) > 0 {
			message += fmt.Sprintf(". %d more cannot be configured and are left unchanged (status.ingresses.skippedByReason; "+
				"each has a Warning Event that says what to change)", in.status.Skipped)
		}
		if in.controllerApplied {
			message += rolloutNote(in.controllerRollout)
		}
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused, message)
	case !in.controllerApplied || len(in.pending) > 0:
		message := fmt.Sprintf("%d Ingress(es) being configured: %s", len(in.pending), names(in.pending))
		if !in.controllerApplied {
			message = fmt.Sprintf("the pod template of %s %s/%s is being configured", controller.Kind, controller.Namespace, controller.Name)
		} else {
			message += rolloutNote(in.controllerRollout)
		}
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, message)
	case len(in.skipped) > 0:
		reason := meshv1alpha1.ReasonIngressesSkipped
		if len(in.skipped) == 1 {
			reason = slices.Collect(maps.Keys(in.skipped))[0]
		}
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, reason,
			skippedMessage(in.status, in.skipped)+rolloutNote(in.controllerRollout)+classNameNote)
	case !in.controllerRollout.Done:
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut,
			fmt.Sprintf("%s. %d Ingress(es) are configured to route through the mesh", in.controllerRollout.Message, in.status.Configured)+classNameNote)
	default:
		setCondition(status, obs, meshv1alpha1.ConditionIngressesConfigured, metav1.ConditionTrue, meshv1alpha1.ReasonConfigured,
			fmt.Sprintf("the ingress-nginx controller has its sidecar; %d Ingress(es) route through the mesh", in.status.Configured)+classNameNote)
	}
}

// refusedAnswerLimit is the most bytes of the API server's answer a refused Ingress write puts into
// IngressesConfigured's message, as much as an Event's note holds: enough for an admission webhook's
// or policy's message, and a long one does not crowd out the rest of the condition.
const refusedAnswerLimit = meshctx.NoteLimit

// refusedMessage says that the API server refuses meshkeeper's write of the annotations of the
// Ingresses refused names, which it names (the first five, sorted, and a count of the others), with the
// API server's answer for the first, and what to do. It starts in lower case, to follow what comes
// before it.
func refusedMessage(refused map[string]meshctx.Refusal) string {
	listed := slices.Sorted(maps.Keys(refused))
	putting, releasing := refusalDirections(refused)
	what := "putting them on"
	switch {
	case putting && releasing:
		what = "putting them on or taking them back"
	case releasing:
		what = "taking them back"
	}
	return fmt.Sprintf("the API server refuses meshkeeper's write of the annotations nginx.ingress.kubernetes.io/service-upstream "+
		"and upstream-vhost (%s) for %d Ingress(es): %s; for %s it answers: %s. An admission webhook or policy of the "+
		"cluster's refuses the change, or ingress-nginx's own admission webhook cannot answer (it refuses every Ingress "+
		"write while the controller has no ready pod): allow meshkeeper's change (field manager %s) in that webhook or "+
		"policy, or make the webhook answer. meshkeeper retries with backoff; each Ingress's Warning Event %s gives "+
		"the API server's answer",
		what, len(listed), meshctx.Names(listed, 5), listed[0], meshctx.Bound(refused[listed[0]].Answer, refusedAnswerLimit),
		meshv1alpha1.FieldManager, ingress.ReasonApplyFailed)
}

// rolloutNote says, after what the Ingresses wait for or lack, what the controller's rollout of its
// sidecar settings waits for while it is not done: every mesh Ingress depends on it, a rollout stuck on
// a quota is not to be hidden behind one Ingress, and MTLSReady points here for the controller. ""
// once it is done.
func rolloutNote(rollout ingress.Rollout) string {
	if rollout.Done || rollout.Message == "" {
		return ""
	}
	return ". Meanwhile " + rollout.Message
}

// skippedMessage says which Ingresses meshkeeper leaves unchanged, by reason.
func skippedMessage(status meshv1alpha1.IngressesStatus, skipped map[string][]string) string {
	parts := make([]string, 0, len(skipped))
	for _, reason := range slices.Sorted(maps.Keys(skipped)) {
		part := fmt.Sprintf("%s: %s", reason, names(skipped[reason]))
		if reason == meshv1alpha1.ReasonClassNotListed {
			// Not the Ingresses' owners' to fix, but the mesh's: their requests bypass the sidecar.
			part += " (classes the ingress-nginx controller serves that spec.ingressNginx.ingressClassNames does not list: " +
				"nginx sends their requests to the pods' IPs in plaintext; add their classes to spec.ingressNginx.ingressClassNames)"
		}
		parts = append(parts, part)
	}
	return fmt.Sprintf("%d Ingress(es) route through the mesh; %d cannot and are left unchanged (%s). "+
		"Each has a Warning Event that says what to change", status.Configured, status.Skipped, strings.Join(parts, "; "))
}

// setDataPlaneUpToDate sets DataPlaneUpToDate and status.proxies.
func setDataPlaneUpToDate(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	p := obs.proxies
	if p == nil {
		return
	}
	status.Proxies = p.status
	status.MeshConfigs = p.meshConfigs
	status.Proxies.Restarting, status.Proxies.NotRestartable = p.restarts.Restarting, p.restarts.NotRestartable
	status.Proxies.StalledRestarts = p.restarts.StalledRestarts
	if rb := status.CanaryRollback; rb != nil {
		setCondition(status, obs, meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonCanaryRolledBack,
			canaryRolledBackMessage(status, obs.spec, rb, p))
		return
	}
	if p.restarts.Stalled != "" {
		setCondition(status, obs, meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartStalled, p.restarts.Stalled)
		return
	}
	if len(p.needRestart) == 0 {
		setCondition(status, obs, meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionTrue, meshv1alpha1.ReasonProxiesUpToDate,
			fmt.Sprintf("all %d pod(s) of the enrolled namespaces run the current sidecar", p.status.Total))
		return
	}
	if p.restarts.Restarting > 0 || p.restarts.Waiting != "" {
		// Waiting: meshkeeper restarts them, but nothing can start now; saying to restart them by hand
		// would send someone to restart workloads outside the window they chose, or onto an istiod that
		// is not ready.
		waiting := ""
		if p.restarts.Waiting != "" {
			waiting = " (" + p.restarts.Waiting + ")"
		}
		// The pods of no workload meshkeeper restarts (a Job's, a held workload's) are their owners' to
		// restart: counted apart, not among those meshkeeper restarts.
		need, notRestartable := p.status.WithoutSidecar+p.status.Outdated, p.restarts.NotRestartable
		notRestartable = min(notRestartable, need)
		others := ""
		if notRestartable > 0 {
			others = fmt.Sprintf("; %d more pod(s) need a restart that meshkeeper does not make (status.proxies.notRestartable): "+
				"their owners restart them", notRestartable)
		}
		setCondition(status, obs, meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestarting,
			fmt.Sprintf("meshkeeper restarts the workloads of %d pod(s) that need the current sidecar: %d workload(s) rolling out, %d waiting%s%s",
				need-notRestartable, p.restarts.Restarting, p.restarts.Pending, waiting, others)+cniOffNote(p))
		return
	}
	setCondition(status, obs, meshv1alpha1.ConditionDataPlaneUpToDate, metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded,
		fmt.Sprintf("%d pod(s) need a restart to get the current sidecar: %d without a sidecar, %d with an outdated proxy; most in %s. "+
			"Restart their workloads, for example kubectl rollout restart deployment -n <namespace>",
			p.status.WithoutSidecar+p.status.Outdated, p.status.WithoutSidecar, p.status.Outdated, worst(p.needRestart))+cniOffNote(p))
}

// cniOffNote says how many of the outdated pods were injected for the CNI agent, which is off, and why
// they need a restart although they run; "" when none.
func cniOffNote(p *proxiesObservation) string {
	if p.cniOff == 0 {
		return ""
	}
	return fmt.Sprintf(". %d of the outdated pod(s) were injected for the CNI agent, which is off: their istio-validation init "+
		"container fails without the agent once their sandbox is created again (a node reboot), so they do not start", p.cniOff)
}

// canaryRolledBackMessage says which workload made meshkeeper roll the canary back, where the canary
// namespaces are now, how the restarts back onto the active revision progress, and what to do next.
func canaryRolledBackMessage(status *meshv1alpha1.ServiceMeshStatus, spec *meshv1alpha1.ServiceMeshSpec,
	rb *meshv1alpha1.CanaryRollbackStatus, p *proxiesObservation) string {
	var namespaces []string
	if spec.UpdateStrategy.Canary != nil {
		namespaces = slices.Clone(spec.UpdateStrategy.Canary.Namespaces)
	}
	active := status.ActiveRevision
	message := fmt.Sprintf("%s, restarted onto the canary revision %s, made no progress for its deadline, so meshkeeper rolled "+
		"the canary back at %s: the canary namespaces (%s) are served by the active revision %s (Istio %s) again and their "+
		"workloads are restarted onto it; revision %s stays installed for inspection. Fix the workload, then change the spec "+
		"(any field: a new generation ends the rollback) to try %s again, or set spec.version to %s to end the canary",
		rb.Workload, rb.Revision, rb.Time.UTC().Format(time.RFC3339), names(namespaces), active, status.Version,
		rb.Revision, rb.Revision, status.Version)
	if pending := p.status.WithoutSidecar + p.status.Outdated; pending > 0 {
		message += fmt.Sprintf(". %d pod(s) still need a restart: %d workload(s) rolling out, %d waiting",
			pending, p.restarts.Restarting, p.restarts.Pending)
	}
	if p.restarts.Stalled != "" {
		message += ". " + p.restarts.Stalled
	}
	return message
}

// worst names up to five namespaces with the most pods needing a restart, with their counts.
func worst(perNamespace map[string]int) string {
	list := slices.SortedFunc(maps.Keys(perNamespace), func(a, b string) int {
		return cmp.Or(cmp.Compare(perNamespace[b], perNamespace[a]), cmp.Compare(a, b))
	})
	parts := make([]string, 0, 5)
	for _, ns := range list[:min(5, len(list))] {
		parts = append(parts, fmt.Sprintf("%s (%d)", ns, perNamespace[ns]))
	}
	if len(list) > 5 {
		return strings.Join(parts, ", ") + fmt.Sprintf(" and %d more namespace(s)", len(list)-5)
	}
	return strings.Join(parts, ", ")
}

// setPoliciesApplied sets PoliciesApplied.
func setPoliciesApplied(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	p := obs.policies
	switch {
	case p == nil:
	case !p.served && p.discovery != nil:
		setCondition(status, obs, meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionUnknown, meshv1alpha1.ReasonReconciling,
			fmt.Sprintf("whether the API server serves PeerAuthentication and Sidecar is not known: discovery failed (%v); "+
				"meshkeeper asks discovery again and applies the policies once it answers", p.discovery))
	case !p.served:
		setCondition(status, obs, meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonIstioCRDsMissing,
			"the API server does not serve PeerAuthentication and Sidecar: not yet, or no longer (their CRDs were deleted); "+
				"their CRDs come with the istio-base chart, and meshkeeper applies the policies once they are served")
	case len(p.conflicts) > 0 || len(p.altered) > 0:
		var problems []string
		if len(p.conflicts) > 0 {
			problems = append(problems, fmt.Sprintf("%d policy object(s) not written by meshkeeper stand where meshkeeper would write its own (named default, or "+
				"applying to the whole namespace, where Istio uses only the oldest) and are left as they are: %s; "+
				"give them a selector, rename or delete them to let meshkeeper manage those namespaces", len(p.conflicts), names(p.conflicts)))
		}
		if len(p.altered) > 0 {
			problems = append(problems, fmt.Sprintf("%d of meshkeeper's policy object(s) hold fields someone else added, which change what "+
				"they do and which meshkeeper's server-side apply cannot remove: %s; remove those fields, or delete the objects "+
				"to have meshkeeper write them anew", len(p.altered), names(p.altered)))
		}
		setCondition(status, obs, meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonPolicyConflict,
			strings.Join(problems, "; "))
	case len(p.pending) > 0:
		setCondition(status, obs, meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			fmt.Sprintf("%d policy object(s) being written: %s", len(p.pending), names(p.pending)))
	default:
		setCondition(status, obs, meshv1alpha1.ConditionPoliciesApplied, metav1.ConditionTrue, meshv1alpha1.ReasonPoliciesApplied,
			fmt.Sprintf("%d PeerAuthentication(s) and Sidecar(s) in place", p.applied))
	}
}

// mtlsReadyMessage is MTLSReady's message when it is True. It says what is judged: pods that should
// have a sidecar, in the enrolled namespaces; not pods opted out of injection or on the host network,
// nor clients in namespaces outside the mesh, which send plaintext too.
const mtlsReadyMessage = "every pod of an enrolled namespace under STRICT mTLS that should have a sidecar has one; " +
	"pods opted out of injection or on the host network, and clients in namespaces outside the mesh, are not judged " +
	"and send plaintext that STRICT rejects"

// setMTLSReady sets MTLSReady: under STRICT mTLS, a pod without a sidecar (or the ingress-nginx
// controller without one) sends plaintext that its servers reject; and a namespace spec.mtls.namespaces
// sets STRICT but that is not enrolled has no sidecar to enforce it, so it accepts plaintext from anyone.
// The policy stays as asked. The latter needs a change of the spec or of the namespace, which no restart
// brings about, so its reason (StrictNamespacesNotEnrolled) comes first.
func setMTLSReady(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	withoutSidecar, controller, ok := plaintextClients(obs)
	if !ok {
		return
	}
	var problems []string
	reason := meshv1alpha1.ReasonPlaintextClients
	if unenforced := strictNotEnrolled(obs); len(unenforced) > 0 {
		reason = meshv1alpha1.ReasonStrictNamespacesNotEnrolled
		var list []string
		for ns, why := range unenforced {
			list = append(list, fmt.Sprintf("%s (%s)", ns, why))
		}
		problems = append(problems, fmt.Sprintf("spec.mtls.namespaces sets STRICT in %d namespace(s) that are not enrolled, whose pods "+
			"have no sidecar to enforce it and accept plaintext from any client: %s; add them to spec.injection (NamespacesEnrolled "+
			"says why one it selects is not enrolled), or remove their override", len(list), names(list)))
	}
	var risky []string
	for ns, n := range withoutSidecar {
		risky = append(risky, fmt.Sprintf("%s (%d pod(s))", ns, n))
	}
	if len(risky) > 0 {
		problems = append(problems, fmt.Sprintf("namespaces under STRICT mTLS have pods without a sidecar, whose plaintext requests "+
			"to mesh services are rejected: %s; restart them to inject the sidecar (kubectl rollout restart deployment -n <namespace>)", names(risky)))
	}
	if controller {
		c := obs.spec.IngressNginx.Controller
		problems = append(problems, fmt.Sprintf("the ingress-nginx controller %s %s/%s runs without its sidecar (or some of its pods still do), "+
			"so its requests to services under STRICT mTLS are rejected (see IngressesConfigured)", c.Kind, c.Namespace, c.Name))
	}
	if len(problems) == 0 {
		setCondition(status, obs, meshv1alpha1.ConditionMTLSReady, metav1.ConditionTrue, meshv1alpha1.ReasonNoPlaintextClients,
			mtlsReadyMessage)
		return
	}
	slices.Sort(problems)
	setCondition(status, obs, meshv1alpha1.ConditionMTLSReady, metav1.ConditionFalse, reason,
		"STRICT mTLS is applied as asked, but "+strings.Join(problems, "; and "))
}

// strictNotEnrolled is, with why each, the namespaces spec.mtls.namespaces sets STRICT that are not
// enrolled (overriddenNotEnrolled): their PeerAuthentication says STRICT, but no sidecar enforces it.
// Under a STRICT mesh-wide mode, a namespace outside the mesh is no more protected, but it is outside
// the mesh by spec.injection's choice, which MTLSReady's message says it does not judge; an override
// names the namespace, so STRICT is asked of it.
func strictNotEnrolled(obs *observation) map[string]string {
	unenforced := map[string]string{}
	for ns, why := range obs.namespaces.overriddenNotEnrolled {
		if render.MTLSMode(obs.spec, ns) == meshv1alpha1.MTLSStrict {
			unenforced[ns] = why
		}
	}
	return unenforced
}

// plaintextClients is the mTLS risk an observation shows: the enrolled namespaces under STRICT mTLS
// with pods without a sidecar, with how many, and whether the ingress-nginx controller runs without
// its sidecar while STRICT applies somewhere. ok is false when the observation does not show it.
func plaintextClients(obs *observation) (withoutSidecar map[string]int, controller, ok bool) {
	if obs.namespaces == nil || obs.proxies == nil || obs.ingresses == nil {
		return nil, false, false
	}
	spec := obs.spec
	withoutSidecar = map[string]int{}
	strictSomewhere := render.MTLSMode(spec, "") == meshv1alpha1.MTLSStrict
	for ns := range obs.namespaces.enrolled {
		if render.MTLSMode(spec, ns) != meshv1alpha1.MTLSStrict {
			continue
		}
		strictSomewhere = true
		if n := obs.proxies.withoutSidecar[ns]; n > 0 {
			withoutSidecar[ns] = n
		}
	}
	for _, mode := range spec.MTLS.Namespaces {
		strictSomewhere = strictSomewhere || mode == meshv1alpha1.MTLSStrict
	}
	return withoutSidecar, obs.ingresses.controllerWithoutSidecar() && strictSomewhere, true
}

// summarizeReady sets Ready to True only when every other condition is True and was judged for this
// generation; otherwise Ready carries the reason and message of the first condition that is not True,
// or says which condition this generation has not judged yet. DataPlaneUpToDate does not count (pods
// that need a restart are their owners' to restart, and the mesh meshkeeper manages is in place without
// them), except while a canary is rolled back (countsForReady).
func summarizeReady(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	if meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady) == nil {
		// A reconcile that failed before it could look at istiod has not shown the mesh to be anything.
		setCondition(status, obs, meshv1alpha1.ConditionReady, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
			meshv1alpha1.ConditionControlPlaneReady+": the control plane has not been observed yet")
		return
	}
	for _, c := range status.Conditions {
		if !countsForReady(&c, obs) || c.Status == metav1.ConditionTrue || notJudged(&c, obs) {
			continue
		}
		setCondition(status, obs, meshv1alpha1.ConditionReady, metav1.ConditionFalse, c.Reason, c.Type+": "+c.Message)
		return
	}
	if message := notJudgedYet(status, obs); message != "" {
		setCondition(status, obs, meshv1alpha1.ConditionReady, metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, message)
		return
	}
	setCondition(status, obs, meshv1alpha1.ConditionReady, metav1.ConditionTrue,
		meshv1alpha1.ReasonSucceeded, "The mesh matches the spec")
}

// judgedEveryPass are the conditions Ready summarises that a reconcile which gets through its phases and
// its read of the cluster sets, each for the generation it read, in the order notJudgedYet names them.
// Another type found in the status (one no longer set) does not hold Ready back for being old.
var judgedEveryPass = []string{
	meshv1alpha1.ConditionControlPlaneReady, meshv1alpha1.ConditionCNIReady, meshv1alpha1.ConditionNamespacesEnrolled,
	meshv1alpha1.ConditionIngressesConfigured, meshv1alpha1.ConditionPoliciesApplied, meshv1alpha1.ConditionMTLSReady,
}

// notJudged tells whether c is one of the conditions judged on every pass but is still an older
// generation's verdict. A phase that failed with an error that carries no condition of its own (an API
// error), or a read that failed, leaves its condition as it was: True for a spec the mesh may not match
// yet, or a failure of a spec the new one may fix. Ready, Reconciling and Stalled are written for this
// generation (kubectl wait, kstatus and the Argo CD check take them as this spec's verdict), so neither
// counts as this generation's.
func notJudged(c *metav1.Condition, obs *observation) bool {
	return slices.Contains(judgedEveryPass, c.Type) && c.ObservedGeneration < obs.generation
}

// notJudgedYet says which condition judged on every pass this generation has not judged: one still
// of an older generation, or one no pass has set yet (the first reconcile of a mesh stopped at an error
// after the control plane); "" when every one is this generation's. It names no count that changes, so
// a reconcile that keeps failing the same way writes nothing.
func notJudgedYet(status *meshv1alpha1.ServiceMeshStatus, obs *observation) string {
	const persists = "; if this persists, the operator log says which error stops the reconcile"
	for _, conditionType := range judgedEveryPass {
		switch c := meta.FindStatusCondition(status.Conditions, conditionType); {
		case c == nil:
			return fmt.Sprintf("%s: not judged yet%s", conditionType, persists)
		case notJudged(c, obs):
			return fmt.Sprintf("%s: not judged yet for generation %d (it is still generation %d's verdict)%s",
				c.Type, obs.generation, c.ObservedGeneration, persists)
		}
	}
	return ""
}

// stalledReasons are the reasons of a condition that only a person can turn True: a conflict with
// what someone else wrote, a workload or Ingress meshkeeper cannot configure as it is, pods only their
// owners can restart under STRICT mTLS. Any other False condition is work in progress.
var stalledReasons = sets.New(
	meshv1alpha1.ReasonInvalidSpec, meshv1alpha1.ReasonChartNotFound,
	meshv1alpha1.ReasonInjectionLabelConflict, meshv1alpha1.ReasonPolicyConflict,
	meshv1alpha1.ReasonAnnotationConflict, meshv1alpha1.ReasonHostNetwork, meshv1alpha1.ReasonNamespaceInjectionDisabled,
	meshv1alpha1.ReasonNamespaceNeverInjected, meshv1alpha1.ReasonCustomAnnotationsPrefix,
	meshv1alpha1.ReasonIngressesSkipped, meshv1alpha1.ReasonNoBackend, meshv1alpha1.ReasonResourceBackend,
	meshv1alpha1.ReasonMultipleBackendServices, meshv1alpha1.ReasonServiceMissing,
	meshv1alpha1.ReasonServiceExternalName, meshv1alpha1.ReasonServiceHeadless, meshv1alpha1.ReasonServiceNotCaptured,
	meshv1alpha1.ReasonServiceNotExported, meshv1alpha1.ReasonSharedUpstream, meshv1alpha1.ReasonClassNotListed,
	meshv1alpha1.ReasonPlaintextClients, meshv1alpha1.ReasonStrictNamespacesNotEnrolled, meshv1alpha1.ReasonServiceCIDRsUnknown,
	meshv1alpha1.ReasonPodSecurityRejectsSidecar, meshv1alpha1.ReasonPodSecurityRejectsAgent,
	meshv1alpha1.ReasonCNIExcludesNamespace, meshv1alpha1.ReasonProgressDeadlineExceeded, meshv1alpha1.ReasonCanaryIngress,
	meshv1alpha1.ReasonCanaryRolledBack,
)

// setReconcilingOrStalled sets kstatus' abnormal-true conditions from Ready and the observation: Stalled
// for a terminal failure of this generation, whatever else is still in progress; otherwise Reconciling
// while any condition that counts for Ready is not judged for this generation yet, or False for a reason
// that can still pass; otherwise Stalled while Ready is False; and neither when the mesh is Ready.
func setReconcilingOrStalled(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	stalled := func(reason, message string) {
		meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionReconciling)
		setCondition(status, obs, meshv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	}
	for _, err := range []error{obs.controlPlaneErr, obs.enrollmentErr} {
		if e := meshctx.Classify(err); e != nil && e.Terminal {
			stalled(e.Reason, e.Error())
			return
		}
	}
	ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Status == metav1.ConditionTrue {
		meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionReconciling)
		meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionStalled)
		return
	}
	// A condition that waits for the control plane (the CNI agent's upgrade, which follows istiod's
	// rollout) waits for ever once the control plane is stuck: no progress either.
	controlPlane := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
	controlPlaneStuck := controlPlane != nil && controlPlane.Status == metav1.ConditionFalse &&
		stalledReasons.Has(controlPlane.Reason) && !notJudged(controlPlane, obs)
	// Pods without a sidecar under STRICT mTLS are their owners' to restart, unless meshkeeper's automatic
	// restarts are restarting workloads (DataPlaneUpToDate reason Restarting): then they may well be
	// among them, and nobody need act yet.
	dataPlane := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionDataPlaneUpToDate)
	restarting := dataPlane != nil && dataPlane.Reason == meshv1alpha1.ReasonRestarting && dataPlane.ObservedGeneration == obs.generation
	var stuck *metav1.Condition
	for i := range status.Conditions {
		c := &status.Conditions[i]
		if c.Status == metav1.ConditionTrue || !countsForReady(c, obs) || notJudged(c, obs) ||
			(controlPlaneStuck && c.Reason == meshv1alpha1.ReasonWaitingForControlPlane) {
			continue
		}
		if !stalledReasons.Has(c.Reason) || (restarting && c.Reason == meshv1alpha1.ReasonPlaintextClients) {
			meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionStalled)
			setCondition(status, obs, meshv1alpha1.ConditionReconciling, metav1.ConditionTrue, c.Reason, c.Type+": "+c.Message)
			return
		}
		if stuck == nil {
			stuck = c
		}
	}
	if message := notJudgedYet(status, obs); message != "" {
		// This generation has not got as far as judging them all: work in progress, whatever a condition
		// of an older generation said (a condition of this one in progress says more, above).
		meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionStalled)
		setCondition(status, obs, meshv1alpha1.ConditionReconciling, metav1.ConditionTrue, meshv1alpha1.ReasonReconciling, message)
		return
	}
	if stuck == nil { // Ready is False only because the control plane was never observed
		meta.RemoveStatusCondition(&status.Conditions, meshv1alpha1.ConditionStalled)
		setCondition(status, obs, meshv1alpha1.ConditionReconciling, metav1.ConditionTrue, ready.Reason, ready.Message)
		return
	}
	stalled(stuck.Reason, stuck.Type+": "+stuck.Message)
}

// countsForReady tells whether a condition is one Ready summarises. DataPlaneUpToDate counts only
// while this generation's canary is rolled back (CanaryRolledBack): the canary namespaces are then
// served by the active revision, not the version the spec asks for, and stay so until a person changes
// the spec. Ready True would tell `kubectl wait`, Argo CD and a pipeline that the upgrade went through.
// Any other reason of it is about pods their owners can restart, in a mesh that matches the spec.
func countsForReady(c *metav1.Condition, obs *observation) bool {
	switch c.Type {
	case meshv1alpha1.ConditionReady, meshv1alpha1.ConditionReconciling, meshv1alpha1.ConditionStalled:
		return false
	case meshv1alpha1.ConditionDataPlaneUpToDate:
		return c.Reason == meshv1alpha1.ReasonCanaryRolledBack && c.ObservedGeneration == obs.generation
	}
	return true
}

// setCondition sets a condition for the observed generation, keeping its last transition time when its
// status did not change.
func setCondition(status *meshv1alpha1.ServiceMeshStatus, obs *observation, conditionType string,
	value metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&status.Conditions, metav1.Condition{
		Type:               conditionType,
		Status:             value,
		ObservedGeneration: obs.generation,
		Reason:             reason,
		Message:            message,
	})
}

// setMetrics sets the gauges from an observation, once its status is written. The control plane's gauge
// follows the istiod that was read: while the control-plane phase fails, the one that serves the mesh.
func setMetrics(obs *observation) {
	if c := obs.istiod; obs.istiodRead {
		ready, _, _ := controlPlaneReadiness(c)
		metrics.ControlPlaneReady.Set(boolGauge(ready == metav1.ConditionTrue))
	}
	if n := obs.namespaces; n != nil {
		metrics.EnrolledNamespaces.Set(float64(n.enrolled.Len()))
		metrics.NamespaceConflicts.Set(float64(len(n.conflicts)))
	}
	if in := obs.ingresses; in != nil {
		metrics.SetIngresses(in.status.Configured, in.status.SkippedByReason)
	}
	if p := obs.proxies; p != nil {
		metrics.SetProxies(p.status.Total, p.status.WithoutSidecar, p.status.Outdated, p.needRestart)
	}
}

// setCNIMetrics sets meshkeeper_cni_nodes from status.cni, as written: the counts a pass whose CNI phase
// did not run (the control plane's failed) kept, and no series while the mesh runs without the agent.
func setCNIMetrics(cni *meshv1alpha1.CNIStatus) {
	if cni == nil || !cni.Enabled {
		metrics.SetCNINodes(false, 0, 0)
		return
	}
	metrics.SetCNINodes(true, cni.DesiredNodes, cni.ReadyNodes)
}

// mtlsReport is the mTLS risk last reported: the namespaces under STRICT mTLS with pods without a
// sidecar or, set STRICT by spec.mtls.namespaces, not enrolled, and whether the ingress-nginx controller ran without its sidecar. Safe for concurrent
// reconciles.
type mtlsReport struct {
	mu         sync.Mutex
	namespaces sets.Set[string]
	controller bool
}

// grew records the risk and tells whether it has a member the one recorded before did not: a
// namespace, or the controller.
func (m *mtlsReport) grew(namespaces sets.Set[string], controller bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	grew := controller && !m.controller || !m.namespaces.IsSuperset(namespaces)
	m.namespaces, m.controller = namespaces, controller
	return grew
}

// forget drops the risk recorded: the next one is reported whole.
func (m *mtlsReport) forget() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.namespaces, m.controller = nil, false
}

// reportMTLS emits a Warning on the ServiceMesh, with MTLSReady's reason and message, when the mTLS
// risk MTLSReady reports appears or gains a member: a namespace with pods without a sidecar, a namespace
// STRICT by override that is not enrolled (each namespace once for each), or the ingress-nginx controller. The message carries pod counts, which change
// with every pod restarted; a Warning for each would report progress, not a new problem.
func (r *Reconciler) reportMTLS(mesh *meshv1alpha1.ServiceMesh, status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionMTLSReady)
	if c == nil || c.Status == metav1.ConditionTrue {
		r.reportedMTLS.forget()
		return
	}
	withoutSidecar, controller, ok := plaintextClients(obs)
	if !ok {
		return
	}
	// A namespace counts once for each risk: one that goes from not enrolled to enrolled with pods
	// without a sidecar is a new problem, with another reason and another remedy.
	risks := sets.New[string]()
	for ns := range withoutSidecar {
		risks.Insert("plaintext/" + ns)
	}
	for ns := range strictNotEnrolled(obs) {
		risks.Insert("not-enrolled/" + ns)
	}
	if !r.reportedMTLS.grew(risks, controller) {
		return
	}
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, c.Reason, "CheckMTLS", "%s", c.Message)
}

// names lists up to five names, sorted, for a message.
func names(list []string) string {
	sort.Strings(list)
	return meshctx.Names(list, 5)
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
