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
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// The CNI chart renders a DaemonSet, and meshkeeper reads the agent's pods to name the nodes where it
// is not ready.
// +kubebuilder:rbac:groups=apps,resources=daemonsets,verbs=get;list;watch;create;patch;delete

const (
	// cniRelease is the release name of the CNI chart.
	cniRelease = "istio-cni"
	// cniDaemonSet is the DaemonSet the CNI chart renders, and cniPodLabel the label of its pods.
	cniDaemonSet = render.CNIDaemonSet
	cniPodLabel  = "k8s-app"
)

// cniObservation is what the CNI phase did and saw: the decision whether the mesh runs the agent,
// the phase's failure, and the agent's DaemonSet.
type cniObservation struct {
	enabled bool
	by      meshv1alpha1.CNIDecision
	// ran tells whether the phase ran; it does not while the control plane phase fails.
	ran bool
	// namespace is where the istio-cni release is installed; "" when it is not.
	namespace string
	// err is the phase's failure, a meshctx error that carries CNIReady's reason.
	err error
	// daemonSet is the agent's DaemonSet, nil when it does not exist; notReady names the nodes whose
	// agent pod is not ready, and currentNodes counts those running an available agent pod of its
	// current template, both read from its pods only when the DaemonSet is not ready (podsRead).
	daemonSet    *appsv1.DaemonSet
	notReady     []string
	currentNodes int32
	podsRead     bool
	// unread tells that the read of the agent's DaemonSet failed: nothing is known of its nodes, and
	// CNIReady and status.cni's node counts keep what they said rather than call it missing.
	unread bool
	// heldFor is how long the last failure to install, upgrade or remove the agent is still waited out
	// (err is that failure); zero when the phase made its attempt.
	heldFor time.Duration
	// injectorPending is status.cni.injectorPending (see injectorPending).
	injectorPending bool
	// excluded is spec.cni.excludeNamespaces, which the agent's release is rendered with.
	excluded []string
}

// injectorsInstalled tells whether a control-plane phase that succeeded (installed) installed every
// istiod that injects with the values it rendered: not while the istiod without a revision still
// injects for a RevisionBased mesh whose first revision is not available yet (a switch from InPlace),
// which is left as it is until the tag takes over from it.
func injectorsInstalled(installed *installation) bool {
	if installed == nil {
		return false
	}
	ri := installed.revisions
	return ri == nil || ri.active != revision.Legacy || ri.target == revision.Legacy
}

// injectorPending tells whether the agent runs (obs.namespace) while istiod still injects istio-init:
// istiod is installed for the agent by a control-plane phase that succeeds with values rendered for it
// (forAgent, meshctx.CNIInjects at the start of the pass), and the agent's install is recorded only
// after the phase of its pass, so a running mesh that turns CNI on has it pending until the first pass
// after its agent is ready on every node (CNIReady Available, meshctx.AgentReady) whose phase succeeds. While the phase fails, what was pending stays so. The enrollment waits for it
// (meshctx.InjectsForAgentNow): pods created meanwhile in a namespace that enforces restricted would
// get istio-init, and be rejected.
func injectorPending(mesh *meshv1alpha1.ServiceMesh, obs *cniObservation, forAgent, controlPlaneRan bool) bool {
	if !obs.enabled || obs.namespace == "" || !forAgent {
		return obs.enabled && obs.namespace != ""
	}
	return !controlPlaneRan && mesh.Status.CNI != nil && mesh.Status.CNI.InjectorPending
}

// restorePendingInjector puts status.cni.injectorPending back, in memory for this pass, into a status
// lost whole (restored from a backup without it, or replaced) while a running mesh turns CNI on:
// meshctx.CNIInjects takes a mesh whose status names no version for a new one, whose first istiod
// injects for the agent from the start, and would have istiod injecting at once for an agent not ready
// on every node, whose pods fail in istio-validation there. The cluster tells such a mesh from a new
// one: an istiod of the mesh's in spec.namespace injects istio-init (its injector ConfigMap's
// pilot.cni.enabled is false), which the istiod of a new mesh that runs the agent never does, however
// many of its passes run before its first status write lands, while an agent of the mesh's (agentsOf;
// the one status.cni.namespace names, if any) is not ready on every node. The pass then writes the
// restored status back. Read from the cache, and only in a namespace the installer allows.
func (r *Reconciler) restorePendingInjector(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, enabled bool, by meshv1alpha1.CNIDecision) error {
	if !enabled || mesh.Status.Version != "" || (mesh.Status.CNI != nil && mesh.Status.CNI.InjectorPending) ||
		r.Policy.CheckNamespace(mesh.Spec.Namespace, "spec.namespace") != nil {
		return nil
	}
	forInit, err := r.injectsIstioInit(ctx, mesh)
	if err != nil || !forInit {
		return err
	}
	agent, err := r.agentNamespace(ctx, mesh)
	if err != nil || agent == "" {
		return err
	}
	ds := &appsv1.DaemonSet{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: agent, Name: cniDaemonSet}, ds); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("reading the %s DaemonSet: %w", cniDaemonSet, err)
	}
	if ready, _, _ := cniReadiness(&cniObservation{enabled: true, namespace: agent, daemonSet: ds}); ready == metav1.ConditionTrue {
		return nil
	}
	cni := &meshv1alpha1.CNIStatus{}
	if mesh.Status.CNI != nil {
		cni = mesh.Status.CNI.DeepCopy()
	}
	cni.Enabled, cni.EnabledBy, cni.Namespace, cni.InjectorPending = true, by, agent, true
	mesh.Status.CNI = cni
	ctrl.LoggerFrom(ctx).Info("The status names no version while istiod injects istio-init and the CNI agent is not ready on every node: "+
		"istiod keeps injecting istio-init until it is", "agentNamespace", agent)
	return nil
}

// injectsIstioInit tells whether an istiod of the mesh's (owned by it, or by no ServiceMesh) in
// spec.namespace injects istio-init: the values its injector ConfigMap holds turn pilot.cni off.
// Values that cannot be read, or that do not say, tell nothing.
func (r *Reconciler) injectsIstioInit(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (bool, error) {
	injectors := &corev1.ConfigMapList{}
	if err := r.List(ctx, injectors, client.InNamespace(mesh.Spec.Namespace),
		client.MatchingLabels{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}); err != nil {
		return false, fmt.Errorf("listing istiod's injector ConfigMaps: %w", err)
	}
	for i := range injectors.Items {
		cm := &injectors.Items[i]
		if !strings.HasPrefix(cm.Name, helm.InjectorConfigMapPrefix) || !cm.DeletionTimestamp.IsZero() || !ofMesh(cm, mesh) {
			continue
		}
		var values struct {
			Pilot struct {
				CNI struct {
					Enabled any `json:"enabled"`
				} `json:"cni"`
			} `json:"pilot"`
		}
		if json.Unmarshal([]byte(cm.Data["values"]), &values) == nil && values.Pilot.CNI.Enabled != nil &&
			!render.CNIEnabled(values.Pilot.CNI.Enabled) {
			return true, nil
		}
	}
	return false, nil
}

// settleCNI decides whether the mesh runs the CNI agent (ServiceMesh.CNIEnabled) and writes the
// decision into the in-memory spec, so that everything rendered from it in this reconcile agrees. The
// decision reaches the cluster only through status.cni, where it is kept.
func settleCNI(mesh *meshv1alpha1.ServiceMesh) (bool, meshv1alpha1.CNIDecision) {
	enabled, by := mesh.CNIEnabled()
	mesh.Spec.CNI.Enabled = ptr.To(enabled)
	return enabled, by
}

// ofMesh tells whether obj, one of meshkeeper's, is the mesh's: the mesh owns it, or no ServiceMesh does
// (one deleted leaving it running), so that the mesh takes it over.
func ofMesh(obj metav1.Object, mesh *meshv1alpha1.ServiceMesh) bool {
	owned := false
	for _, ref := range obj.GetOwnerReferences() {
		if ref.UID == mesh.UID {
			return true
		}
		owned = owned || ref.Kind == "ServiceMesh"
	}
	return !owned
}

// reconcileCNI installs or upgrades the istio-cni release after the control plane, so the agent never
// runs ahead of the istiod that injects for it (a running agent moves up to a new version only once
// istiod has rolled it out, and down at once), and removes it when the mesh no longer runs it or, once
// installed in the new one and ready there on every node, when it moved to another namespace (a move that fails, or to a namespace
// whose Pod Security level rejects it, keeps the agent where it runs). A first install with no istiod running went alongside the control plane
// (freshAgent); this reports it.
// Nothing changes while the control plane phase fails. It then reads the agent's DaemonSet for CNIReady.
func (r *Reconciler) reconcileCNI(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, enabled bool,
	by meshv1alpha1.CNIDecision, installed *installation, controlPlaneErr error) (*cniObservation, error) {
	obs := &cniObservation{enabled: enabled, by: by, excluded: mesh.Spec.CNI.ExcludeNamespaces}
	if mesh.Status.CNI != nil {
		obs.namespace = mesh.Status.CNI.Namespace
	}
	if installed == nil {
		if fresh := (*agentInstalled)(nil); errors.As(controlPlaneErr, &fresh) {
			obs.namespace = fresh.namespace
		}
		return obs, nil
	}
	obs.ran = true
	// A failed install, upgrade or removal of the agent, or a failed read the phase makes before it, is
	// tried again with backoff, not on every wake-up of the ServiceMesh (pods churning in an enrolled
	// namespace wake it every few seconds). Counted in cniBackoff, a failure only of the API server's
	// making changes no condition on its first attempt nor while its backoff is waited out (meshctx.Quiet).
	key := backoffKey(mesh)
	// pending returns the failure still being waited out, nil when an attempt may be made.
	pending := func() error {
		left, last := r.cniBackoff.pending(key)
		if last != nil {
			ctrl.LoggerFrom(ctx).V(1).Info("The CNI agent failed recently, not retrying yet", "retryIn", left, "error", last.Error())
			obs.heldFor = left
		}
		return last
	}
	failed := func(err error) (*cniObservation, error) {
		err = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
		r.cniBackoff.record(key, err)
		return r.failCNI(ctx, obs, err)
	}
	want := ""
	if enabled {
		want = mesh.Spec.CNINamespace()
	}
	if obs.namespace == "" {
		// status.cni.namespace names no agent, which a status lost whole (restored from a backup without
		// it, or replaced) says too while one runs: the agents of this mesh's the cluster holds tell where.
		running, err := r.agentsOf(ctx, mesh)
		if err != nil {
			if last := pending(); last != nil {
				return r.failCNI(ctx, obs, last)
			}
			return failed(err)
		}
		obs.namespace = unrecordedAgent(running, want)
	}
	if enabled {
		// Before anything changes: an agent moved to a namespace that rejects it stays where it runs.
		if rejected, err := r.agentRejected(ctx, mesh, want); err != nil {
			if last := pending(); last != nil {
				return r.failCNI(ctx, obs, last) // a failure is waited out: this read failing is no new attempt
			}
			return failed(err)
		} else if rejected != "" {
			return r.failCNI(ctx, obs, meshctx.Terminal(meshv1alpha1.ReasonPodSecurityRejectsAgent, errors.New(rejected)))
		}
	}
	if last := pending(); last != nil {
		return r.failCNI(ctx, obs, last)
	}
	recorded := obs.namespace
	if obs.namespace != "" && !enabled {
		if waiting := agentStillInjectedFor(installed, obs.namespace); waiting != "" {
			// A known wait, not a failure, as for an upgrade held for istiod's rollout.
			err := meshctx.Wait(meshv1alpha1.ReasonWaitingForControlPlane, agentRemovalRetry, errors.New(waiting))
			r.cniBackoff.record(key, err)
			return r.failCNI(ctx, obs, err)
		}
		if err := r.uninstallCNI(ctx, mesh, obs.namespace); err != nil {
			return failed(err)
		}
		r.cniBackoff.record(key, nil)
		obs.namespace = ""
	}
	// status.cni.namespace is written by the status write that follows an install, which a conflict or
	// a restart of the manager can lose: an agent of this mesh elsewhere than where it is wanted, and
	// not the one just removed, is such an agent, and would otherwise run on every node for good.
	stray, err := r.strayAgents(ctx, mesh, want, recorded)
	if err != nil {
		return failed(err)
	}
	for _, namespace := range stray {
		if err := r.uninstallCNI(ctx, mesh, namespace); err != nil {
			return failed(err)
		}
	}
	if !enabled {
		return obs, nil
	}
	if installed.charts.CNI == nil {
		return r.failCNI(ctx, obs, meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("the %s chart was not resolved", cniRelease)))
	}
	if obs.namespace == want {
		// The release runs there already: this may move the running agent to another version.
		waiting, err := r.agentUpgradeHeld(ctx, mesh, want, installed.version, installed.activeDeployment)
		if err != nil {
			return failed(err)
		}
		if waiting != "" {
			// A known wait, not a failure: the attempt is not counted as one that failed.
			err := meshctx.Wait(meshv1alpha1.ReasonWaitingForControlPlane, agentUpgradeRetry, errors.New(waiting))
			r.cniBackoff.record(key, err)
			return r.failCNI(ctx, obs, err)
		}
	}
	release := cniReleaseOf(mesh, want, installed.version, installed.charts)
	var result helm.Result
	if agent := installed.agent; agent != nil && agent.release.Namespace == want {
		result, err = agent.result, agent.err // installed alongside the control plane
	} else {
		result, err = r.Charts.Ensure(ctx, release)
	}
	r.recordHelmResult(mesh, release, installed.chartVersion, result, err)
	if err != nil {
		if obs.namespace != want && (result.State == helm.StateAbsent || result.State == helm.StateFailedInstall) {
			// A first install there (a new agent, or one moved): status.cni.namespace is the only record of
			// where the agent is, and it names no release the install did not finish. What the failed
			// install applied (the DaemonSet perhaps, running on every node) is removed, or turning CNI
			// off or moving the agent again would leave it running; the retry installs it whole. A
			// release that was deployed before is never removed here: pods may depend on its agent.
			if uninstallErr := r.uninstallRelease(ctx, mesh, want, cniRelease); uninstallErr != nil {
				err = errors.Join(err, fmt.Errorf("removing what the failed install left in %s: %w", want, uninstallErr))
			}
		}
		err = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
		r.cniBackoff.record(key, err)
		return r.failCNI(ctx, obs, err)
	}
	if moved := obs.namespace; moved != "" && moved != want {
		// The agent moved, and its release is installed where it is wanted now: the one it replaces goes
		// only once the new one runs ready on every node that should run it, so that a failed install
		// leaves the running agent, and istiod injecting for it, as they were, and a pod injected for the
		// agent that starts on a node meanwhile finds one there. Should this removal fail, the agent
		// there is a stray one, removed by the next attempt.
		next := &cniObservation{enabled: true, namespace: want}
		if err := r.observeCNI(ctx, next, r.readerAfter(result.Action != helm.ActionNone)); err != nil {
			return failed(err)
		}
		if ready, _, message := cniReadiness(next); ready != metav1.ConditionTrue {
			// A known wait, not a failure. status.cni.namespace keeps naming the running agent, and
			// status.cni counts the nodes of the new one, whose rollout is what is waited for.
			// The agent in moved still runs on those nodes: the pods injected there do not wait.
			waiting := fmt.Sprintf("The CNI agent moves from %s to %s: the one in %s keeps running until the one in %s is ready "+
				"on every node that should run it. %s", moved, want, moved, want, strings.TrimSuffix(message, podsWaitForAgent))
			err := meshctx.Wait(meshv1alpha1.ReasonNodesNotReady, agentMoveRetry, errors.New(waiting))
			r.cniBackoff.record(key, err)
			obs.daemonSet, obs.notReady, obs.currentNodes, obs.podsRead = next.daemonSet, next.notReady, next.currentNodes, next.podsRead
			obs.err = err
			return obs, err
		}
		obs.namespace = want
		if err := r.uninstallCNI(ctx, mesh, moved); err != nil {
			return failed(err)
		}
	}
	r.cniBackoff.record(key, nil)
	obs.namespace = want
	return obs, r.observeCNI(ctx, obs, r.readerAfter(result.Action != helm.ActionNone))
}

// agentMoveRetry is how often an agent that moves looks again at the new one's DaemonSet, before the
// one it replaces is removed; changes of that DaemonSet's status wake the reconciler sooner.
const agentMoveRetry = 30 * time.Second

// agentRemovalRetry is how often an agent whose removal waits for the istiod without a revision looks
// at it again; the reconcile that moves the default tag off that istiod, woken by the revision's
// Deployment, removes the agent without waiting for it.
const agentRemovalRetry = time.Minute

// agentStillInjectedFor tells why the agent in namespace, which the mesh no longer runs, may not be
// removed yet, or returns "". Every istiod the control-plane phase installed (installed) injects with
// the values it rendered, without the agent, but for the istiod without a revision that a switch from
// InPlace to RevisionBased leaves as it is until the default tag moves off it (its first revision not
// available yet, or canary namespaces holding the tag back): it injects with the values it was installed
// with, for the agent when it ran with one, and the pods it injects, restarted ones among them, would fail
// in istio-validation without the agent.
func agentStillInjectedFor(installed *installation, namespace string) string {
	if injectorsInstalled(installed) {
		return ""
	}
	return fmt.Sprintf("CNI is off, and the CNI agent in %s is removed once no istiod injects pods for it: the istiod without a revision, "+
		"left as it is while the mesh switches to RevisionBased, still injects with the values it was installed with until the default tag "+
		"moves to revision %s, once it is available and no updateStrategy.canary holds the tag back", namespace, installed.revisions.target)
}

// failCNI ends the CNI phase with its failure, err. The agent of status.cni.namespace, if any, still runs
// (a failed upgrade or removal leaves its DaemonSet in place, and a failed first install elsewhere left
// nothing), so its DaemonSet is read as on success: status.cni and meshkeeper_cni_nodes count the nodes it
// runs on, whether the failure is fresh or being waited out, rather than none.
func (r *Reconciler) failCNI(ctx context.Context, obs *cniObservation, err error) (*cniObservation, error) {
	obs.err = err
	if obs.namespace != "" {
		if err := r.observeCNI(ctx, obs, r.Client); err != nil {
			return obs, err
		}
	}
	return obs, obs.err
}

// agentRejected says why, when the namespace the agent runs in
// enforces a Pod Security level that rejects its pods, which are privileged and use the host's network
// and paths: installed or changed there, the agent would run on no node, while istiod injects pods that
// wait for it. "" when the namespace admits them (label privileged, or none: the API server's default
// level is not visible here) or does not exist yet. A Warning Event PodSecurityRejectsAgent says so
// once per change.
func (r *Reconciler) agentRejected(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace string) (string, error) {
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		return "", fmt.Errorf("reading namespace %s: %w", namespace, err)
	}
	level, rejects := policy.EnforcedLevelRejectsPrivilege(ns.Labels)
	if !rejects {
		r.reportedAgent.Forget(namespace)
		return "", nil
	}
	message := fmt.Sprintf("namespace %s enforces the Pod Security level %q (label %s), which rejects the istio-cni agent's privileged pods: "+
		"installed or changed there, the agent would run on no node. meshkeeper installs and changes no agent there. "+
		"Label the namespace %s=privileged, or put the agent in a namespace that admits privileged pods (spec.cni.namespace)",
		namespace, level, policy.LabelPodSecurityEnforce, policy.LabelPodSecurityEnforce)
	if r.reportedAgent.Changed(namespace, level) {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonPodSecurityRejectsAgent, "InstallCNI", "%s", message)
	}
	return message, nil
}

// cniReleaseOf is the istio-cni release of the mesh in namespace, of the charts of version.
func cniReleaseOf(mesh *meshv1alpha1.ServiceMesh, namespace, version string, set charts.Set) helm.Release {
	return helm.Release{Name: cniRelease, Namespace: namespace, Chart: set.CNI, ChartDigest: set.CNIDigest,
		Values: render.CNIValues(&mesh.Spec, version), Owner: ownerOf(mesh),
		PodPriority: &helm.PodPriority{DaemonSet: cniDaemonSet, ClassName: render.CNIPriorityClassName(&mesh.Spec)}}
}

// agentUpgradeRetry is how often a held agent upgrade looks at istiod again; changes of the istiod
// Deployment wake the reconciler sooner.
const agentUpgradeRetry = 10 * time.Second

// agentUpgradeHeld tells why the running agent may not move to version yet, or returns "". Istio's CNI
// agent may lag the control plane by a minor version but never lead it, and an upgrade in place keeps
// the old istiod pods running while the new ones roll out: the agent moves up only once istiod's current
// template, which the control-plane phase has just upgraded, is available on every replica. istiod is
// read from the API server, since the cache may not have seen that upgrade yet. An agent newer than
// version (spec.version went back) moves down at once: it would lead the older istiod for as long as
// that rolls out, while moved down it runs no newer version than the old istiod pods or the new ones.
func (r *Reconciler) agentUpgradeHeld(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, cniNamespace, version, deployment string) (string, error) {
	running, err := r.agentVersionIn(ctx, cniNamespace)
	if err != nil {
		return "", err
	}
	if running == "" || running == version {
		return "", nil // no agent runs, or of no known version: starting one at the control plane's version is safe
	}
	if from, ok := revision.Parse(running); ok {
		if to, ok := revision.Parse(version); ok && revision.Compare(from, to) > 0 {
			return "", nil
		}
	}
	istiod := &appsv1.Deployment{}
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: mesh.Spec.Namespace, Name: deployment}, istiod)
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Sprintf("The CNI agent runs %s and moves to %s once istiod runs it: the Deployment %s does not exist", running, version, deployment), nil
	case err != nil:
		return "", fmt.Errorf("reading the istiod Deployment: %w", err)
	}
	if ready, _, message := controlPlaneReadiness(istiod); ready != metav1.ConditionTrue {
		return fmt.Sprintf("The CNI agent runs %s and moves to %s once istiod has rolled it out (%s)", running, version, message), nil
	}
	return "", nil
}

// agentVersionIn is the Istio version the CNI agent's DaemonSet in namespace runs, read from the cache;
// "" when there is none, or its image has no tag.
func (r *Reconciler) agentVersionIn(ctx context.Context, namespace string) (string, error) {
	ds := &appsv1.DaemonSet{}
	err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cniDaemonSet}, ds)
	switch {
	case apierrors.IsNotFound(err):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("reading the %s DaemonSet: %w", cniDaemonSet, err)
	}
	return agentVersion(ds), nil
}

// agentContainer is the CNI agent's container in its DaemonSet.
const agentContainer = "install-cni"

// agentVersion is the Istio version the agent's DaemonSet runs, the tag of its image; "" when it has
// none.
func agentVersion(ds *appsv1.DaemonSet) string {
	for _, c := range ds.Spec.Template.Spec.Containers {
		if c.Name != agentContainer {
			continue
		}
		image, _, _ := strings.Cut(c.Image, "@")
		if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
			return image[i+1:]
		}
	}
	return ""
}

// observeCNI reads the agent's DaemonSet with reader (the cache, unless this reconcile changed the
// agent's release), and its pods when it is not ready.
func (r *Reconciler) observeCNI(ctx context.Context, obs *cniObservation, reader client.Reader) error {
	ds := &appsv1.DaemonSet{}
	err := reader.Get(ctx, client.ObjectKey{Namespace: obs.namespace, Name: cniDaemonSet}, ds)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		obs.unread = true
		return fmt.Errorf("reading the %s DaemonSet: %w", cniDaemonSet, err)
	}
	obs.daemonSet = ds
	if ready, _, _ := cniReadiness(obs); ready == metav1.ConditionTrue {
		return nil
	}
	// Only while the agent is not ready: its pods are not cached, and a steady state reads none.
	pods := &corev1.PodList{}
	if err := r.APIReader.List(ctx, pods, client.InNamespace(obs.namespace), client.MatchingLabels{cniPodLabel: cniDaemonSet}); err != nil {
		return fmt.Errorf("listing the %s pods: %w", cniDaemonSet, err)
	}
	obs.notReady = nodesNotReady(pods.Items)
	obs.currentNodes, obs.podsRead = nodesRunningCurrentAgent(ds, pods.Items, time.Now()), true
	return nil
}

// readyNodes is status.cni.readyNodes: the number of nodes that run an available agent pod of the
// DaemonSet's current template; ok is false when that is not known (its pods were not read). The
// DaemonSet controller counts each node's oldest pod as ready and available whatever its template, so
// its counts tell only once it has observed the template and every node's oldest pod is of it (a
// rollout replaces the old pods node by node, and an old pod ready on a node runs the old settings).
// Before that the pods, read then, are counted.
func (c *cniObservation) readyNodes() (int32, bool) {
	ds := c.daemonSet
	if ds == nil {
		return 0, true
	}
	st := ds.Status
	if st.ObservedGeneration >= ds.Generation && st.UpdatedNumberScheduled >= st.DesiredNumberScheduled {
		return min(st.NumberReady, st.NumberAvailable, st.DesiredNumberScheduled), true
	}
	return min(c.currentNodes, st.DesiredNumberScheduled), c.podsRead
}

// daemonSetTemplateGenerationKey is the label the DaemonSet controller puts on each pod with the
// template generation it was made from (k8s.io/api/extensions/v1beta1's DaemonSetTemplateGenerationKey,
// named here so that the manager does not link that API group for one constant).
const daemonSetTemplateGenerationKey = "pod-template-generation"

// nodesRunningCurrentAgent counts the nodes on which an agent pod of the DaemonSet's current template is
// available at now. A pod is of it as the DaemonSet controller judges: its pod-template-generation
// label is the template generation the API server records on the DaemonSet (which it raises with every
// change of the template, before the controller has seen it), or its controller-revision-hash is that
// of such a pod (a template set back to an earlier one while old pods of it still run).
func nodesRunningCurrentAgent(ds *appsv1.DaemonSet, pods []corev1.Pod, now time.Time) int32 {
	generation := ds.Annotations[appsv1.DeprecatedTemplateGeneration]
	if generation == "" {
		return 0
	}
	hashes := map[string]bool{}
	for i := range pods {
		if labels := pods[i].Labels; labels[daemonSetTemplateGenerationKey] == generation &&
			labels[appsv1.DefaultDaemonSetUniqueLabelKey] != "" {
			hashes[labels[appsv1.DefaultDaemonSetUniqueLabelKey]] = true
		}
	}
	nodes := podNodes(pods, func(pod *corev1.Pod) bool {
		current := pod.Labels[daemonSetTemplateGenerationKey] == generation ||
			hashes[pod.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]]
		// Bound to its node: a pod the scheduler has not placed yet runs nothing there.
		return current && pod.Spec.NodeName != "" && podAvailable(pod, ds.Spec.MinReadySeconds, now)
	})
	return int32(len(nodes))
}

// podAvailable tells whether pod has been ready for minReadySeconds at now, as the DaemonSet controller
// counts a pod available.
func podAvailable(pod *corev1.Pod, minReadySeconds int32, now time.Time) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue &&
				(minReadySeconds == 0 || !c.LastTransitionTime.Add(time.Duration(minReadySeconds)*time.Second).After(now))
		}
	}
	return false
}

// nodesNotReady names the nodes whose pod is not Ready, sorted.
func nodesNotReady(pods []corev1.Pod) []string {
	nodes := podNodes(pods, func(pod *corev1.Pod) bool {
		return !podAvailable(pod, 0, time.Time{}) // with no minReadySeconds, available is Ready whatever the time
	})
	slices.Sort(nodes)
	return nodes
}

// podNodes names the distinct nodes (podNode) of the pods that counts passes, in the order first met,
// leaving out the pods being deleted and those whose node is not known.
func podNodes(pods []corev1.Pod, counts func(*corev1.Pod) bool) []string {
	var nodes []string
	for i := range pods {
		pod := &pods[i]
		node := podNode(pod)
		if node == "" || !pod.DeletionTimestamp.IsZero() || !counts(pod) {
			continue
		}
		if !slices.Contains(nodes, node) {
			nodes = append(nodes, node)
		}
	}
	return nodes
}

// podNode is the node of an agent pod: spec.nodeName once the scheduler bound it, and before that the
// one node its required node affinity names by metadata.name, which is how the DaemonSet controller
// creates its pods for a node (an agent pod pending on a node that just joined, or on a full one, has
// no spec.nodeName). "" when neither says.
func podNode(pod *corev1.Pod) string {
	if pod.Spec.NodeName != "" {
		return pod.Spec.NodeName
	}
	if pod.Spec.Affinity == nil || pod.Spec.Affinity.NodeAffinity == nil {
		return ""
	}
	required := pod.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution
	if required == nil || len(required.NodeSelectorTerms) != 1 {
		return ""
	}
	for _, field := range required.NodeSelectorTerms[0].MatchFields {
		if field.Key == metav1.ObjectNameField && field.Operator == corev1.NodeSelectorOpIn && len(field.Values) == 1 {
			return field.Values[0]
		}
	}
	return ""
}

// uninstallCNI removes the istio-cni release from namespace. The agent's pods remove Istio's plugin
// from each node's CNI configuration as they stop.
func (r *Reconciler) uninstallCNI(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespace string) error {
	removed, err := r.removeRelease(ctx, mesh, namespace, cniRelease)
	if err != nil {
		return fmt.Errorf("uninstalling release %s/%s: %w", namespace, cniRelease, err)
	}
	if removed {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, "Uninstalled", "Uninstall/"+cniRelease,
			"Release %s/%s removed", namespace, cniRelease)
	}
	return nil
}

// strayAgents names the namespaces, other than want and recorded, that hold a CNI agent DaemonSet of
// this mesh's (agentsOf), sorted.
func (r *Reconciler) strayAgents(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, want, recorded string) ([]string, error) {
	running, err := r.agentsOf(ctx, mesh)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(running, func(namespace string) bool { return namespace == want || namespace == recorded }), nil
}

// agentsOf names the namespaces that hold a CNI agent DaemonSet of this mesh's (its managed-by label and
// the mesh's owner reference) not being deleted, sorted; read from the cache, which holds meshkeeper's
// labelled objects. Whoever may create a DaemonSet in a namespace can write that label and that owner
// reference (the ServiceMesh's UID is anyone's to read), so a DaemonSet counts only where meshkeeper may
// have installed the agent on the spec's word (agentNamespaceTrusted): the CNI phase and the uninstall
// act on the istio-cni release, and its records, wherever an agent is found.
func (r *Reconciler) agentsOf(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) ([]string, error) {
	return r.agentsWhere(ctx, func(ds *appsv1.DaemonSet) bool {
		return slices.ContainsFunc(ds.OwnerReferences, func(ref metav1.OwnerReference) bool { return ref.UID == mesh.UID }) &&
			r.agentNamespaceTrusted(mesh, ds.Namespace)
	})
}

// agentsWhere names the namespaces that hold a CNI agent DaemonSet of meshkeeper's (its managed-by label)
// not being deleted that of passes, sorted; read from the cache.
func (r *Reconciler) agentsWhere(ctx context.Context, of func(*appsv1.DaemonSet) bool) ([]string, error) {
	list := &appsv1.DaemonSetList{}
	if err := r.List(ctx, list, client.MatchingLabels{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue}); err != nil {
		return nil, fmt.Errorf("listing the CNI agent's DaemonSets: %w", err)
	}
	var running []string
	for i := range list.Items {
		ds := &list.Items[i]
		if ds.Name != cniDaemonSet || !ds.DeletionTimestamp.IsZero() || !of(ds) {
			continue
		}
		running = append(running, ds.Namespace)
	}
	slices.Sort(running)
	return slices.Compact(running), nil
}

// agentNamespaceTrusted tells whether a CNI agent DaemonSet of the mesh's found in namespace may be
// taken for one meshkeeper installed: namespace is the control-plane namespace (the agent's default,
// whose writers may read istiod's CA key anyway), kube-system (where the agent is commonly put, and
// whose writers may run pods as any of the cluster's controllers: cluster admins in all but name), the
// one spec.cni.namespace or status.cni.namespace names, or one of the namespaces the operator's installer listed in --control-plane-namespaces, which
// only those the installer trusts with the control plane write. With every namespace allowed ("*") any
// namespace owner could plant such a DaemonSet, and have meshkeeper uninstall a release of records they
// forged in their namespace on every reconcile (failing the CNI phase before the agent's install or
// upgrade) and, with the status lost, take their DaemonSet for the agent that runs.
func (r *Reconciler) agentNamespaceTrusted(mesh *meshv1alpha1.ServiceMesh, namespace string) bool {
	if namespace == mesh.Spec.Namespace || namespace == metav1.NamespaceSystem || namespace == mesh.Spec.CNINamespace() ||
		(mesh.Status.CNI != nil && namespace == mesh.Status.CNI.Namespace) {
		return true
	}
	return r.Policy.Namespaces != nil && slices.Contains(r.Policy.Namespaces, namespace)
}

// agentNamespace is the namespace the mesh's CNI agent runs in: the one status.cni.namespace names, or,
// when it names none (a status lost whole), the one the cluster's agents of the mesh's tell
// (unrecordedAgent, spec.cni.namespace preferred); "" when no agent of the mesh's runs.
func (r *Reconciler) agentNamespace(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (string, error) {
	if mesh.Status.CNI != nil && mesh.Status.CNI.Namespace != "" {
		return mesh.Status.CNI.Namespace, nil
	}
	running, err := r.agentsOf(ctx, mesh)
	if err != nil {
		return "", err
	}
	return unrecordedAgent(running, mesh.Spec.CNINamespace()), nil
}

// unrecordedAgent is the agent the CNI phase takes for the one the mesh runs when status.cni.namespace
// names none, of those running (agentsOf): one elsewhere than want, the namespace the spec wants it in
// ("" when the mesh no longer runs it), comes first, since the pods injected for the agent may rely on
// it (a move whose status was lost, or a status lost before spec.cni.namespace changed): as for a move,
// it is removed only once the agent in want runs ready on every node, and any other is a stray one.
// Else the one in want, whose upgrade then waits for istiod as any upgrade does; "" when none runs.
func unrecordedAgent(running []string, want string) string {
	for _, namespace := range running {
		if namespace != want {
			return namespace
		}
	}
	if slices.Contains(running, want) {
		return want
	}
	return ""
}

// uninstallAllCNI removes the istio-cni release wherever meshkeeper may have installed it, when the
// ServiceMesh is deleted: where the spec and the status say, and wherever an agent DaemonSet of the
// mesh's runs (agentsOf), which a status lost whole or a lost status write leaves unnamed. A release
// that does not exist is not an error. Every namespace is tried, whatever the one before answered (a
// release left whole because its objects were orphaned, a failure): the errors come back joined.
func (r *Reconciler) uninstallAllCNI(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) error {
	namespaces, err := r.agentsOf(ctx, mesh)
	if err != nil {
		return err
	}
	namespaces = append(namespaces, mesh.Spec.CNINamespace())
	if mesh.Status.CNI != nil && mesh.Status.CNI.Namespace != "" {
		namespaces = append(namespaces, mesh.Status.CNI.Namespace)
	}
	slices.Sort(namespaces)
	namespaces = slices.Compact(namespaces)
	var errs []error
	for _, ns := range namespaces {
		if err := r.uninstallRelease(ctx, mesh, ns, cniRelease); err != nil {
			errs = append(errs, fmt.Errorf("uninstalling release %s/%s: %w", ns, cniRelease, err))
		}
	}
	return errors.Join(errs...)
}

// ownerOf is the owner every object of meshkeeper's releases gets.
func ownerOf(mesh *meshv1alpha1.ServiceMesh) helm.Owner {
	return helm.Owner{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: string(mesh.UID)}
}

// setCNIReady sets CNIReady and status.cni from the CNI phase. The decision whether the mesh runs the
// agent is recorded from the first reconcile on, so it never changes behind the user's back; the rest
// keeps its last value while the phase does not run (the control plane phase failed before it).
func setCNIReady(status *meshv1alpha1.ServiceMeshStatus, obs *observation) {
	c := obs.cni
	if c == nil {
		return
	}
	cni := &meshv1alpha1.CNIStatus{Enabled: c.enabled, EnabledBy: c.by, InjectorPending: c.injectorPending}
	var excludedBefore []string
	if status.CNI != nil {
		cni.DesiredNodes, cni.ReadyNodes = status.CNI.DesiredNodes, status.CNI.ReadyNodes
		excludedBefore = status.CNI.ExcludeNamespaces
	}
	cni.ExcludeNamespaces = exclusionsToReport(c.enabled, c.namespace != "", c.excluded, excludedBefore, false)
	cni.Namespace = c.namespace // status.cni.namespace, unless an agent was installed with a failing control plane
	if !c.ran || (c.unread && c.err == nil) {
		// The phase did not run, or its read of the agent's DaemonSet failed: the agent is not known
		// to be missing, and the next pass reads it again.
		status.CNI = cni
		return
	}
	if !c.unread {
		cni.DesiredNodes, cni.ReadyNodes = 0, 0
		if ds := c.daemonSet; ds != nil {
			cni.DesiredNodes = ds.Status.DesiredNumberScheduled
		}
		if ready, ok := c.readyNodes(); ok {
			cni.ReadyNodes = ready
		} else if status.CNI != nil {
			cni.ReadyNodes = status.CNI.ReadyNodes // the agent's pods could not be read: what was counted stands
		}
	}
	value, reason, message := cniReadiness(c)
	cni.ExcludeNamespaces = exclusionsToReport(c.enabled, c.namespace != "", c.excluded, excludedBefore, c.enabled && value == metav1.ConditionTrue)
	status.CNI = cni
	if c.injectorPending && value != metav1.ConditionTrue {
		message += ". istiod keeps injecting istio-init (status.cni.injectorPending) until the agent is ready on every node that should run it"
	}
	setCondition(status, obs, meshv1alpha1.ConditionCNIReady, value, reason, message)
}

// exclusionsToReport decides status.cni.excludeNamespaces: the namespaces the agent may still leave
// alone on some node. Once the agent, installed with excluded, is ready on every node (rolledOut,
// CNIReady True), these are excluded; until then also those recorded before, which the agent's older
// pods read as they started. A mesh without the agent has none. An agent that still runs (installed)
// while the mesh no longer runs it (its removal waits, or failed) is changed no more, and keeps
// skipping what it read: turned on again, the mesh upgrades it, and its older pods skip those until the
// change has rolled out.
func exclusionsToReport(enabled, installed bool, excluded, before []string, rolledOut bool) []string {
	if !enabled && !installed {
		return nil
	}
	all := slices.Clone(excluded)
	if !rolledOut {
		all = append(all, before...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// cniReadiness judges the CNI phase: ready when the agent is off, or when its DaemonSet runs the
// current template ready and available on every node that should run it, of which there is at least one.
func cniReadiness(c *cniObservation) (metav1.ConditionStatus, string, string) {
	if e := meshctx.Classify(c.err); e != nil {
		return metav1.ConditionFalse, e.Reason, e.Error()
	}
	if !c.enabled {
		return metav1.ConditionTrue, meshv1alpha1.ReasonCNIDisabled, fmt.Sprintf(
			"The mesh runs without the CNI agent (status.cni.enabledBy %s): injected pods get istio-init, which needs NET_ADMIN and NET_RAW", c.by)
	}
	ds := c.daemonSet
	if ds == nil {
		return metav1.ConditionFalse, meshv1alpha1.ReasonDaemonSetMissing, fmt.Sprintf("The %s DaemonSet does not exist yet", cniDaemonSet)
	}
	st := ds.Status
	desired := st.DesiredNumberScheduled
	switch {
	case st.ObservedGeneration < ds.Generation:
		return metav1.ConditionFalse, meshv1alpha1.ReasonNodesNotReady, fmt.Sprintf("The %s DaemonSet's latest change is not yet observed by its controller", cniDaemonSet) +
			currentTemplateOn(c, desired)
	case desired == 0:
		// The DaemonSet controller has seen the template and finds no node for it. meshkeeper itself runs
		// on a Linux node, so that is a cluster whose every Linux node has a taint the agent does not
		// tolerate: no pod injected for the agent starts, wherever it runs.
		return metav1.ConditionFalse, meshv1alpha1.ReasonNodesNotReady, fmt.Sprintf("The %s DaemonSet runs the CNI agent on no node: "+
			"it runs on nodes labelled kubernetes.io/os=linux whose taints spec.cni.tolerations tolerate, and no node is one. "+
			"Pods injected for the agent fail in istio-validation wherever they run; tolerate the nodes' taints "+
			"(unset, spec.cni.tolerations tolerate every taint)", cniDaemonSet)
	case st.UpdatedNumberScheduled < desired || st.NumberReady < desired || st.NumberAvailable < desired || st.NumberUnavailable > 0:
		message := fmt.Sprintf("CNI agent: %d of %d node(s) updated", st.UpdatedNumberScheduled, desired) + currentTemplateOn(c, desired)
		if len(c.notReady) > 0 {
			message += "; not ready on " + names(c.notReady)
		}
		if missing := desired - st.CurrentNumberScheduled; missing > 0 {
			// No pod names these nodes: the DaemonSet controller could not create theirs, and says why in
			// the DaemonSet's Events only.
			message += fmt.Sprintf("; %d node(s) have no agent pod: the DaemonSet controller could not create it (a PriorityClass "+
				"that does not exist, a ResourceQuota, an admission policy), and kubectl describe daemonset -n %s %s says why",
				missing, ds.Namespace, cniDaemonSet)
		}
		return metav1.ConditionFalse, meshv1alpha1.ReasonNodesNotReady, message + podsWaitForAgent
	default:
		return metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, fmt.Sprintf("CNI agent: ready and available on all %d node(s)", desired)
	}
}

// podsWaitForAgent ends CNIReady's message while the agent is not ready on some nodes.
const podsWaitForAgent = ". Pods injected on those nodes wait in istio-validation until the agent runs there"

// currentTemplateOn says on how many of desired nodes the agent's current template is ready and
// available (status.cni.readyNodes), when that is known: ready pods of the old template run the old
// settings, and are not counted.
func currentTemplateOn(c *cniObservation, desired int32) string {
	ready, ok := c.readyNodes()
	if !ok {
		return ""
	}
	return fmt.Sprintf("; its current template is ready and available on %d of %d node(s)", ready, desired)
}
