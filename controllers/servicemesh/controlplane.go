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
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/render"
)

const (
	// Release names of the two charts, as `helm list -n <namespace>` shows them.
	baseRelease   = "istio-base"
	istiodRelease = "istiod"
	// istiodDeployment is the Deployment the istiod chart renders for the default revision.
	istiodDeployment = "istiod"
	// defaultRevision is the Istio revision meshkeeper installs.
	defaultRevision = "default"
	// createdNamespaceLabel marks a control-plane namespace meshkeeper created, and so may delete.
	createdNamespaceLabel = "mesh.meshkeeper.io/created-by"
)

// namespaceRetry is how often a ServiceMesh waits for its terminating namespace to be gone.
const namespaceRetry = 5 * time.Second

// installation is what the control-plane phase brought in sync.
type installation struct {
	// version is the Istio version of the charts; chartVersion the charts' own version.
	version, chartVersion string
	// revision is the Istio revision installed (the active one, with revisions).
	revision string
	// charts are the charts resolved for the version; the CNI phase installs the CNI chart of the set.
	charts charts.Set
	// deployment and meshConfig name the istiod Deployment and mesh config ConfigMap of spec.version;
	// activeDeployment the istiod Deployment of the active revision (with InPlace, the same).
	deployment, meshConfig, activeDeployment string
	// revisions is what the revision phase found and decided; nil with the InPlace strategy.
	revisions *revisionInstallation
	// agent is the istio-cni release when it was installed alongside the control plane (freshAgent),
	// for the CNI phase to report; nil when that phase installs it.
	agent *ensuredRelease
	// deploymentWritten tells whether this reconcile installed, upgraded or repaired the release of the
	// istiod Deployment named deployment: the cache shows that write only a moment later.
	deploymentWritten bool
}

// ensuredRelease is a release and what Ensure made of it.
type ensuredRelease struct {
	release helm.Release
	result  helm.Result
	err     error
}

// reconcileControlPlane installs or upgrades the two releases when they are out of sync and restores
// drifted objects. A chart that cannot be had leaves the running control plane as it is. Its failures
// are meshctx errors that carry ControlPlaneReady's reason.
func (r *Reconciler) reconcileControlPlane(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (*installation, error) {
	spec := &mesh.Spec
	version := spec.Version
	if version == "" {
		version = charts.BuiltinVersion
	}
	if err := r.checkNamespaces(mesh); err != nil {
		return nil, err
	}
	if revisionBased(mesh) {
		return r.reconcileRevisions(ctx, mesh, version)
	}
	if running, err := r.runningRevisions(ctx, mesh); err != nil {
		return nil, err
	} else if len(running) > 0 {
		// Switching back from RevisionBased: the istiod without a revision takes over as a revision
		// would, and the revisions drain. A draining revision whose Deployment was deleted by hand still
		// counts while its release is installed: its Deployment is put back, and it is removed once unused.
		return r.reconcileRevisions(ctx, mesh, version)
	}
	crds, err := r.installedCRDsVersion(ctx)
	if err != nil {
		return nil, err
	}
	running, err := r.inPlaceRunning(ctx, mesh)
	if err != nil {
		return nil, err
	}
	if err := r.upgradeGate(ctx, mesh, version, running, crds); err != nil {
		return nil, err
	}

	// istiod injects for the CNI agent once it is installed (or from a new mesh's first install, beside
	// its fresh agent): never for an agent that was refused or failed to install (resolveVersion).
	want, err := r.resolveVersion(ctx, mesh, version)
	if err != nil {
		return nil, err
	}
	istiodValues, set := want.values, want.set
	base, err := r.forwardBase(ctx, mesh, set, crds)
	if err != nil {
		return nil, err
	}

	if err := r.ensureNamespace(ctx, spec.Namespace); errors.Is(err, errNamespaceTerminating) {
		return nil, meshctx.Wait(meshv1alpha1.ReasonNamespaceTerminating, namespaceRetry,
			fmt.Errorf("%w; meshkeeper installs the control plane once it is gone", err))
	} else if err != nil {
		return nil, err
	}

	owner := helm.Owner{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh",
		Name: mesh.Name, UID: string(mesh.UID)}
	// istiodApplied is closed once istiod's objects are applied (before its release's record is marked
	// deployed), or once its release ends without that.
	// istiodOK tells, once it is closed, whether istiod's objects are in place: a new agent is installed
	// only then (with istiod refused, by an object of another installation say, meshkeeper would run its
	// agent beside no control plane of its own).
	istiodApplied := make(chan struct{})
	var istiodOK atomic.Bool
	var once sync.Once
	markIstiod := func() { once.Do(func() { close(istiodApplied) }) }
	appliedIstiod := func() { istiodOK.Store(true); markIstiod() }
	releases := []helm.Release{
		{Name: baseRelease, Namespace: spec.Namespace, Chart: base.Base, ChartDigest: base.BaseDigest,
			Values: render.BaseValues(spec), Owner: owner, FirstKinds: policyGroupKinds},
		{Name: istiodRelease, Namespace: spec.Namespace, Chart: set.Istiod, ChartDigest: set.IstiodDigest,
			Values: istiodValues, Owner: owner, Applied: appliedIstiod},
	}
	// The two releases are independent: istiod's objects use none of the base chart's CRDs, so the
	// charts are rendered and applied side by side (the base chart's 700 KB of CRDs take the longest).
	results := make([]helm.Result, len(releases))
	errs := make([]error, len(releases))
	var wg sync.WaitGroup
	for i, release := range releases {
		wg.Go(func() {
			results[i], errs[i] = r.Charts.Ensure(ctx, release)
			if release.Name == istiodRelease {
				if errs[i] == nil {
					istiodOK.Store(true)
				}
				markIstiod()
			}
		})
	}
	// A new agent follows istiod's objects, alongside the base chart's release (which takes the
	// longest), so that istiod's objects come first and the agent is ready by the time the control
	// plane is.
	agent := r.freshAgent(ctx, mesh, version, set)
	if agent != nil {
		wg.Go(func() {
			<-istiodApplied
			if !istiodOK.Load() {
				agent = nil
				return
			}
			agent.result, agent.err = r.Charts.Ensure(ctx, agent.release)
		})
	}
	wg.Wait()
	for i, release := range releases {
		chartVersion := set.Version
		if release.Name == baseRelease {
			chartVersion = base.Version
		}
		r.recordHelmResult(mesh, release, chartVersion, results[i], errs[i])
	}
	if err := errors.Join(errs...); err != nil {
		err = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
		if agent != nil {
			r.recordHelmResult(mesh, agent.release, set.Version, agent.result, agent.err)
			if agent.err == nil {
				// The agent runs: the status records where, so that it is moved or removed later even if
				// the control plane fails until then.
				err = &agentInstalled{error: err, namespace: agent.release.Namespace}
			}
		}
		return nil, err
	}
	return &installation{version: version, chartVersion: set.Version, revision: defaultRevision,
		deployment: istiodDeployment, meshConfig: meshConfigName, activeDeployment: istiodDeployment, charts: set,
		agent: agent, deploymentWritten: results[1].Action != helm.ActionNone}, nil
}

// agentInstalled is a control-plane failure after which the istio-cni agent installed alongside it
// runs: the CNI phase, which does not run then, still records its namespace.
type agentInstalled struct {
	error
	namespace string
}

func (e *agentInstalled) Unwrap() error { return e.error }

// policyGroupKinds are the kinds of render.PolicyKinds. The base chart applies their CRDs before its
// others: the policies, and so Ready, wait for the API server to serve them, and it establishes new
// CRDs in the order they were created (a policy kind's CRD came 13th of 15 in the chart's order).
var policyGroupKinds = func() []schema.GroupKind {
	kinds := make([]schema.GroupKind, 0, len(render.PolicyKinds))
	for _, gvk := range render.PolicyKinds {
		kinds = append(kinds, gvk.GroupKind())
	}
	return kinds
}()

// freshAgent returns the istio-cni release to install alongside the control plane (after istiod's
// objects are applied, with the base chart's release), or nil. That is only a first install of the
// agent (the status names no namespace it runs in) while no istiod runs: an agent may never run ahead
// of the istiod that injects for it, and with none running it cannot. Every other case (an agent to
// upgrade, move or remove, an istiod running) is the CNI phase's, after the control plane. So a new
// mesh's agent is ready as soon as its control plane.
func (r *Reconciler) freshAgent(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string, set charts.Set) *ensuredRelease {
	if !ptr.Deref(mesh.Spec.CNI.Enabled, false) || set.CNI == nil || (mesh.Status.CNI != nil && mesh.Status.CNI.Namespace != "") {
		return nil
	}
	istiod := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: mesh.Spec.Namespace, Name: istiodDeployment}, istiod); !apierrors.IsNotFound(err) {
		return nil // istiod runs, or cannot be read
	}
	if rejected, err := r.agentRejected(ctx, mesh, mesh.Spec.CNINamespace()); rejected != "" || err != nil {
		return nil // the CNI phase reports it
	}
	return &ensuredRelease{release: cniReleaseOf(mesh, mesh.Spec.CNINamespace(), version, set)}
}

// checkNamespaces refuses a control plane or istio-cni agent in a namespace the installer did not allow
// (--control-plane-namespaces): meshkeeper would have no right to keep Helm's release Secrets there. It
// comes before any change, so the running control plane is left as it is.
func (r *Reconciler) checkNamespaces(mesh *meshv1alpha1.ServiceMesh) error {
	err := r.Policy.CheckNamespace(mesh.Spec.Namespace, "spec.namespace")
	if err == nil && ptr.Deref(mesh.Spec.CNI.Enabled, false) {
		err = r.Policy.CheckNamespace(mesh.Spec.CNINamespace(), "the istio-cni agent's namespace (spec.cni.namespace)")
	}
	if err == nil {
		return nil
	}
	err = fmt.Errorf("%w; the running control plane is left as it is", err)
	if r.controlPlaneWarnings.news(mesh, meshv1alpha1.ReasonNamespaceNotAllowed, err.Error()) {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonNamespaceNotAllowed, "CheckNamespace", "%s", err.Error())
	}
	return meshctx.Terminal(meshv1alpha1.ReasonNamespaceNotAllowed, err)
}

// chartUnavailable reports a chart that cannot be had, or a source the installer's allow-lists refuse.
// A missing version and a refused source are terminal for this generation; an unreachable repository
// is retried with backoff.
func (r *Reconciler) chartUnavailable(mesh *meshv1alpha1.ServiceMesh, err error) error {
	err = fmt.Errorf("%w; the running control plane is left as it is", err)
	failure := meshctx.Retry(meshv1alpha1.ReasonRepositoryUnreachable, err)
	switch {
	case errors.Is(err, charts.ErrChartNotFound):
		failure = meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, err)
	case errors.Is(err, charts.ErrRepositoryNotAllowed):
		failure = meshctx.Terminal(meshv1alpha1.ReasonRepositoryNotAllowed, err)
	case errors.Is(err, charts.ErrImageHubNotAllowed):
		failure = meshctx.Terminal(meshv1alpha1.ReasonImageHubNotAllowed, err)
	}
	reason := meshctx.Classify(failure).Reason
	if r.controlPlaneWarnings.news(mesh, reason, err.Error()) {
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, reason, "ResolveCharts", "%s", err.Error())
	}
	return failure
}

// attemptWarnings remembers the Warnings of the control plane's refusals (a namespace, chart repository
// or image hub the installer did not allow) and of its charts that cannot be had, as the attempts at
// the control plane record them: each attempt records only those the attempt before did not. A mesh
// stuck on one cause, which the backoff retries every few minutes, has one Warning of it; a cause that
// cleared (an attempt went without it) and came back, or whose message changed, has one more. The
// condition says it on every pass all the same.
type attemptWarnings struct {
	mu sync.Mutex
	// previous are the Warnings of the last attempt that ended; current those of the one under way.
	previous, current map[string]bool
}

// begin starts an attempt.
func (w *attemptWarnings) begin() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.current = map[string]bool{}
}

// news notes a Warning of the attempt under way and tells whether it is to be recorded: the attempt
// before had none with that reason and message on this ServiceMesh (one created again under the same
// name starts with no Events).
func (w *attemptWarnings) news(mesh *meshv1alpha1.ServiceMesh, reason, message string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	key := string(mesh.UID) + "\x00" + reason + "\x00" + message
	if w.current != nil {
		w.current[key] = true
	}
	return !w.previous[key]
}

// end ends the attempt: its Warnings are what the next one is compared with.
func (w *attemptWarnings) end() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.previous, w.current = w.current, nil
}

// forget drops what was recorded: the next attempt's Warnings are all recorded.
func (w *attemptWarnings) forget() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.previous, w.current = nil, nil
}

// recordHelmResult emits an Event for every Helm action and for every failure. The action names the
// release: the events API folds Events with the same object, reason and action into one series, and
// the istiod Event must not disappear into istio-base's.
func (r *Reconciler) recordHelmResult(mesh *meshv1alpha1.ServiceMesh, release helm.Release, chartVersion string, result helm.Result, err error) {
	name := release.Namespace + "/" + release.Name
	action := string(result.Action) + "/" + release.Name
	if counted := countedAction(result, err); counted != helm.ActionNone || err != nil {
		metrics.HelmOperations.WithLabelValues(release.Name, strings.ToLower(string(counted)), outcome(err)).Inc()
	}
	if result.Action == helm.ActionRepaired && len(result.Repaired) > 0 {
		// Told even when another object of the release could not be restored (err, below): what was
		// restored is, and the next check finds it in sync and says nothing of it.
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, "DriftRepaired", action,
			"Release %s: restored %s", name, strings.Join(result.Repaired, ", "))
	}
	if err != nil {
		backoff := &r.backoff
		if release.Chart.Name() == charts.CNI {
			backoff = &r.cniBackoff
		}
		// A failure only of the API server's making (meshctx.Quiet) is counted, but warned about only when
		// the attempt after the backoff fails too, as the status reports it.
		if !meshctx.Quiet(err, backoff.failuresOf(backoffKey(mesh))+1) { // this failure is not recorded yet
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonInstallFailed, action,
				"Release %s (chart %s %s): %v", name, release.Chart.Name(), chartVersion, err)
		}
		return
	}
	switch result.Action {
	case helm.ActionNone, helm.ActionRepaired:
	default:
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, string(result.Action), action,
			"Release %s: chart %s %s (was %s)", name, release.Chart.Name(), chartVersion, result.State)
		if release.Chart.Name() == charts.Istiod {
			r.recordValuesOverrides(mesh, action, chartVersion)
		}
	}
}

// recordValuesOverrides warns, when an istiod release was installed or upgraded with the spec's
// values, that keys of spec.values replace what fields of the spec render: spec.values wins, so the
// field in the spec (and in git, and in `kubectl explain`) is not what istiod or the injector uses.
func (r *Reconciler) recordValuesOverrides(mesh *meshv1alpha1.ServiceMesh, action, version string) {
	overrides := render.ValuesOverrides(&mesh.Spec, version)
	if len(overrides) == 0 {
		return
	}
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonValuesOverrideSpec, action,
		"%s: the field's value is not used; remove the key from spec.values, or the field's setting if spec.values says what is meant",
		strings.Join(overrides, "; "))
}

// countedAction is the action meshkeeper_helm_operations_total counts an Ensure under. A failure before
// Ensure ran any Helm action reports none; it is counted under the action Ensure was about to run, so
// that it shows among the documented actions: for a release in sync, the drift repair (rendering the
// release, or restoring each drifted object, failed); in any other state, which Ensure acts on
// itself, the install of meshkeeper's release over a release of the same name another installation
// holds, which Ensure refuses. Only when the release's records could not be read (no state) is the
// action unknown, and stays none.
func countedAction(result helm.Result, err error) helm.Action {
	if err == nil || result.Action != helm.ActionNone {
		return result.Action
	}
	switch result.State {
	case "":
		return helm.ActionNone
	case helm.StateInSync:
		return helm.ActionRepaired
	default:
		return helm.ActionInstalled
	}
}

// errNamespaceTerminating: the control-plane namespace is being deleted (a previous ServiceMesh's
// uninstall), so nothing can be installed into it yet.
var errNamespaceTerminating = errors.New("the control-plane namespace is being deleted")

// ensureNamespace creates the control-plane namespace when it does not exist, marked as meshkeeper's.
// An existing namespace is left exactly as it is. It is a create, not an apply: an apply would upsert, and
// mark as meshkeeper's (and so delete on uninstall) a namespace a user created at the same moment.
func (r *Reconciler) ensureNamespace(ctx context.Context, name string) error {
	existing := &corev1.Namespace{}
	// The cache first: every reconcile, each status pass included, comes here. Only a namespace the
	// cache does not show (absent, or created a moment ago) is looked up around it before the create.
	err := r.Get(ctx, client.ObjectKey{Name: name}, existing)
	if apierrors.IsNotFound(err) {
		err = r.APIReader.Get(ctx, client.ObjectKey{Name: name}, existing)
	}
	if err == nil {
		if !existing.DeletionTimestamp.IsZero() {
			return fmt.Errorf("%w: namespace %s", errNamespaceTerminating, name)
		}
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading namespace %s: %w", name, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{createdNamespaceLabel: meshv1alpha1.FieldManager}}}
	if err := r.Create(ctx, ns, client.FieldOwner(meshv1alpha1.FieldManager)); err != nil {
		if apierrors.IsAlreadyExists(err) {
			// Someone else created it between the read and the create: it is theirs, used as it is.
			return nil
		}
		return fmt.Errorf("creating namespace %s: %w", name, err)
	}
	return nil
}

// outcome is the result label of an operation's metric.
func outcome(err error) string {
	if err != nil {
		return "error"
	}
	return "success"
}
