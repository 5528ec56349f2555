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
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/helm"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

const (
	// defaultTag is the revision tag that namespaces labelled istio-injection=enabled (and pods labelled
	// sidecar.istio.io/inject=true) are injected through.
	defaultTag = "default"
	// revisionReleasePrefix starts the name of every revision's istiod release: istiod-<revision>.
	revisionReleasePrefix = istiodRelease + "-"
	// digestAnnotation records the digest of what meshkeeper rendered into the tag webhook.
	digestAnnotation = "mesh.meshkeeper.io/digest"
	// defaultGracePeriod is how long an unused revision is kept when the spec does not say.
	defaultGracePeriod = 5 * time.Minute
	// blockedRecheck is how often, at most, a revision whose removal a foreign webhook or a workload's pod
	// template blocks is looked at again (every grace period when that is shorter): neither is watched (the
	// cache holds meshkeeper's own webhooks only, and no pod template's istio.io/rev label).
	blockedRecheck = time.Minute
	// foreignTagRecheck is how often another installation's default tag, which keeps meshkeeper's from
	// being applied, is looked for again: it is not watched either.
	foreignTagRecheck = time.Minute
	// kubernetesVersionRecheck is how long the Kubernetes version read from the API server is used before
	// it is read again: a cluster is upgraded while the manager runs (a managed cluster's control plane
	// first, its nodes, and so the manager, maybe weeks later), and the upgrade gate judges the version it
	// runs now.
	kubernetesVersionRecheck = time.Minute
)

// tagWebhook is the MutatingWebhookConfiguration of the default tag, as the istiod chart names it:
// suffixed with the control-plane namespace unless that is istio-system.
func tagWebhook(namespace string) string {
	if namespace == "istio-system" {
		return "istio-revision-tag-" + defaultTag
	}
	return "istio-revision-tag-" + defaultTag + "-" + namespace
}

// revisionState is what the revision phase remembers between reconciles: since when each revision is
// known to be unused. The status keeps it too (status.revisions[].unusedSince), for a manager restarted
// since, which resumes the grace periods from there (planRevisions).
type revisionState struct {
	mu sync.Mutex
	// unusedSince is nil until this process planned the revisions (rememberUnused): from then on it is
	// all the process knows of their use, and the status (which a failed status write can leave behind
	// it) is not read for it.
	unusedSince map[string]time.Time
	// blocked is, for each revision whose removal foreign webhooks or workloads' pod templates block, the
	// message last reported in an Event (reported again only when it changes).
	blocked map[string]string
	// templates is the last look at the workloads' pod templates for revisions due for removal
	// (recentTemplatesNaming).
	templates *templateScan
	// reported is, by the ServiceMesh and the reason of its Warning Event (reportKey), what was last reported of the canary namespaces
	// that are not enrolled (reportCanaryNotEnrolled) and of the revisions another installation shares
	// the name of (reportRevisionShared), "" when none. Safe for concurrent use without mu.
	reported meshctx.Transitions
	// k8sVersion is the API server's MAJOR.MINOR as read at k8sReadAt (kubernetesVersion).
	k8sVersion string
	k8sReadAt  time.Time
	discovery  discovery.ServerVersionInterface
}

// revisionInstallation is what the revision phase brought in sync, for the status.
type revisionInstallation struct {
	// active is the revision the default tag points at; target the revision of spec.version.
	active, target string
	// canary is the revision canary namespaces are served by ("" when none), canaryNamespaces those.
	canary           string
	canaryNamespaces []string
	// versions maps each revision to its Istio version.
	versions map[string]string
	// revisions is status.revisions.
	revisions []meshv1alpha1.RevisionStatus
	// requeueAfter is when the next unused revision's grace period ends.
	requeueAfter time.Duration
	// shared are the revisions the mesh runs that another installation's istiod of the same revision
	// name serves pods of (revision.Installed.Elsewhere), sorted by name.
	shared []revision.Installed
}

// serving returns the version and revision that serve a namespace: the canary revision for a canary
// namespace, the active one for any other.
func (ri *revisionInstallation) serving(namespace string) (version, rev string) {
	rev = ri.active
	if ri.canary != "" && slices.Contains(ri.canaryNamespaces, namespace) {
		rev = ri.canary
	}
	return ri.versions[rev], rev
}

// revisionBased tells whether the mesh runs its control plane as revisions.
// revisionDeployment is the istiod Deployment of a revision: istiod-<revision>, or istiod for the istiod
// installed without a revision (revision.Legacy).
func revisionDeployment(rev string) string {
	if rev == revision.Legacy {
		return istiodDeployment
	}
	return revisionReleasePrefix + rev
}

func revisionBased(mesh *meshv1alpha1.ServiceMesh) bool {
	return mesh.Spec.UpdateStrategy.Type == meshv1alpha1.UpdateRevisionBased
}

// resolved is one revision's charts and values.
type resolved struct {
	set    charts.Set
	values render.Values
}

// resolveVersion renders the istiod values of a version and finds its charts in spec.charts.
func (r *Reconciler) resolveVersion(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string) (resolved, error) {
	res, err := r.resolveFrom(ctx, mesh, version, mesh.Spec.Charts.Repository)
	if errors.Is(err, errCharts) {
		return resolved{}, r.chartUnavailable(mesh, err)
	}
	return res, err
}

// resolveRunning is resolveVersion for a version that already runs (a revision beside the target):
// when spec.charts.repository does not have it and the built-in charts do, it was installed from those
// (a mesh that moved to a repository with its upgrade), and their charts keep it.
func (r *Reconciler) resolveRunning(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string) (resolved, error) {
	res, err := r.findRunning(ctx, mesh, version)
	if errors.Is(err, charts.ErrChartNotFound) {
		// Most likely spec.charts.repository changed (or was cleared) with the upgrade: the version
		// that still runs is not the one the user asked for, so say whose charts are missing and why.
		err = fmt.Errorf("%w: Istio %s still runs as a revision beside spec.version, and meshkeeper keeps it from its charts until "+
			"it is removed; set spec.charts.repository to a repository that has them (the one it was installed from) until then",
			err, version)
	}
	if errors.Is(err, errCharts) {
		return resolved{}, r.chartUnavailable(mesh, err)
	}
	return res, err
}

// findRunning is resolveRunning without reporting an error finding the charts (it wraps errCharts).
func (r *Reconciler) findRunning(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string) (resolved, error) {
	repository := mesh.Spec.Charts.Repository
	res, err := r.resolveFrom(ctx, mesh, version, repository)
	if repository != "" && errors.Is(err, charts.ErrChartNotFound) && charts.HasBuiltin(version) {
		return r.resolveFrom(ctx, mesh, version, "")
	}
	return res, err
}

// errCharts marks an error of finding the charts, which chartUnavailable reports.
var errCharts = errors.New("charts unavailable")

// resolveFrom renders the istiod values of a version and finds its charts in repository ("" for the
// built-in charts). An error finding them wraps errCharts.
func (r *Reconciler) resolveFrom(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version, repository string) (resolved, error) {
	spec := &mesh.Spec
	injection := meshctx.ValuesSpec(mesh) // istiod injects for the CNI agent once it is installed
	values, err := render.IstiodValues(&injection, version)
	if err != nil {
		return resolved{}, meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, err)
	}
	source := charts.Source{
		Repository: repository,
		Version:    version,
		ImageHubs:  append(render.ImageHubs(values), render.CNIImageHubs(spec)...),
		CNI:        render.Mode(spec).NeedsNodeAgent(),
	}
	if repository != "" {
		source.CredentialsSecret = types.NamespacedName{Namespace: spec.Namespace, Name: spec.Charts.CredentialsSecret}
	}
	set, err := r.Resolver.Resolve(ctx, source)
	if err != nil {
		return resolved{}, &chartsError{err}
	}
	// Fields the API server refuses in a pod whatever the chart, and requests above limits, leave pods
	// the API server refuses; they are refused before any install or upgrade, the requests and limits
	// checked in what the chart renders after merging its defaults under the values.
	if err := checkPodFields(spec); err != nil {
		return resolved{}, meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, err)
	}
	if err := checkResources(ctx, spec, set.Istiod, set.IstiodDigest, values); err != nil {
		return resolved{}, err
	}
	return resolved{set: set, values: values}, nil
}

// chartsError is an error finding charts: it is errCharts and whatever its cause is.
type chartsError struct{ error }

func (e *chartsError) Unwrap() []error { return []error{errCharts, e.error} }

// revisionValues are a revision's istiod values: the mesh's values for its version, installed as
// that revision.
func revisionValues(values render.Values, rev string) render.Values {
	return render.Merge(values, render.Values{"revision": rev})
}

// reconcileRevisions runs the control plane as revisions: the revision of spec.version is installed
// beside the others, the default tag moves to it once it is ready (unless canary namespaces hold it
// back), and a revision nothing uses any more is removed after the grace period.
func (r *Reconciler) reconcileRevisions(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string) (*installation, error) {
	spec := &mesh.Spec
	// With InPlace (a mesh switching back from RevisionBased) the istiod without a revision is the
	// target: it takes the tag's place once it is available, and the revisions drain.
	inPlace := !revisionBased(mesh)
	target := revision.Name(version)
	if inPlace {
		target = revision.Legacy
	}
	found, tagged, err := r.observeRevisions(ctx, mesh)
	if err != nil {
		return nil, err
	}
	found = withoutClaimsOnAnUnservedCanary(mesh, found, target, tagged)
	crds, err := r.installedCRDsVersion(ctx)
	if err != nil {
		return nil, err
	}
	if err := r.revisionGate(ctx, mesh, version, found, tagged, target, crds); err != nil {
		return nil, err
	}
	want, err := r.resolveVersion(ctx, mesh, version)
	if err != nil {
		return nil, err
	}
	if err := r.ensureNamespace(ctx, spec.Namespace); errors.Is(err, errNamespaceTerminating) {
		return nil, meshctx.Wait(meshv1alpha1.ReasonNamespaceTerminating, namespaceRetry,
			fmt.Errorf("%w; meshkeeper installs the control plane once it is gone", err))
	} else if err != nil {
		return nil, err
	}

	plan := r.planRevisions(mesh, target, version, tagged, found)
	if err := r.holdRevisionsInUse(ctx, mesh, &plan, tagged); err != nil {
		return nil, err
	}
	versions := map[string]string{target: version}
	for _, f := range found {
		versions[f.Name] = f.Version
	}
	sets := map[string]resolved{target: want}
	newest := version
	for _, f := range found {
		if f.Name == target || slices.Contains(plan.Prune, f.Name) {
			continue
		}
		if f.NeverDeployed && slices.Contains(plan.Unused, f.Name) {
			// The install of an earlier spec.version that failed (or was cut short), which nothing uses:
			// it waits only to be removed. Installing it again would try what the spec gave up, and, while
			// it still fails, fail every reconcile before the removal.
			continue
		}
		if f.Name != revision.Legacy {
			res, err := r.resolveRunning(ctx, mesh, f.Version)
			if err != nil {
				return nil, err
			}
			sets[f.Name] = res
		}
		if revision.CompareStrings(f.Version, newest) > 0 {
			newest = f.Version
		}
	}

	owner := helm.Owner{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: mesh.Name, UID: string(mesh.UID)}
	// Once the default tag moved (or was removed), injection follows plan.Active: a failure after it
	// reports that (tagMoved), or the status would go on naming the revision the tag left, and the
	// restarts, ControlPlaneReady and the next reconcile's tag would follow it.
	tagMovedTo, pruned := "", []string(nil)
	moved := func(err error) error {
		if tagMovedTo == "" {
			return err
		}
		statuses := slices.DeleteFunc(slices.Clone(plan.Revisions), func(s meshv1alpha1.RevisionStatus) bool { return slices.Contains(pruned, s.Name) })
		return &tagMoved{error: err, version: versions[tagMovedTo], revision: tagMovedTo, revisions: statuses}
	}
	// A tag that moves to a revision already running and ready (a rollback, a canary ended) moves
	// first: injection should not wait for the base chart's upgrade, which carries every Istio CRD.
	tagApplied := false
	if plan.Active != revision.Legacy && plan.Active != tagged && slices.ContainsFunc(found, func(f revision.Installed) bool {
		return f.Name == plan.Active && f.Ready
	}) {
		if err := r.applyTag(ctx, mesh, owner, sets[plan.Active], plan.Active); err != nil {
			return nil, err
		}
		tagApplied, tagMovedTo = true, plan.Active
		// Injection moved with the tag, whatever happens to the releases below: a failure there retries
		// with the tag already in place, and the next reconcile finds nothing to move.
		r.recordTagMoved(mesh, plan, tagged, versions)
	}
	// The base release follows the newest version (CRDs only move forward) and points the default
	// validator at the active revision.
	base := sets[revision.Name(newest)].set
	if base.Base == nil {
		base = want.set
	}
	if base, err = r.forwardBase(ctx, mesh, base, crds); err != nil {
		return nil, moved(err)
	}
	baseValues := render.BaseValues(spec)
	if plan.Active != revision.Legacy {
		baseValues = render.Merge(baseValues, render.Values{"defaultRevision": plan.Active})
	}
	if _, err := r.ensureRelease(ctx, mesh, helm.Release{Name: baseRelease, Namespace: spec.Namespace, Chart: base.Base,
		ChartDigest: base.BaseDigest, Values: baseValues, Owner: owner, FirstKinds: policyGroupKinds}, base.Version); err != nil {
		return nil, moved(err)
	}
	deploymentWritten := false
	for _, name := range sortedKeys(sets) {
		res := sets[name]
		release := helm.Release{Name: revisionReleasePrefix + name, Namespace: spec.Namespace, Chart: res.set.Istiod,
			ChartDigest: res.set.IstiodDigest, Values: revisionValues(res.values, name), Owner: owner}
		if name == revision.Legacy {
			release.Name, release.Values = istiodRelease, res.values
			if plan.Active != revision.Legacy {
				// Not available yet: its injector would refuse pods the tag's revision injects.
				release.Values = render.Merge(res.values, render.Values{"global": render.Values{"operatorManageWebhooks": true}})
			}
		}
		written, err := r.ensureRelease(ctx, mesh, release, res.set.Version)
		if err != nil {
			return nil, moved(err)
		}
		deploymentWritten = deploymentWritten || written && name == target
	}
	if inPlace && plan.Active == revision.Legacy {
		// The istiod without a revision injects through its own webhook now: the tag goes.
		if err := r.removeTag(ctx, mesh, tagged); err != nil {
			return nil, err
		}
		if tagged != plan.Active {
			tagMovedTo = plan.Active
		}
	} else if plan.Active != revision.Legacy {
		if !tagApplied {
			if err := r.applyTag(ctx, mesh, owner, sets[plan.Active], plan.Active); err != nil {
				return nil, err
			}
			if tagged != plan.Active {
				tagMovedTo = plan.Active
			}
		}
		if tagged != plan.Active && !tagApplied {
			r.recordTagMoved(mesh, plan, tagged, versions)
		}
		if !inPlace {
			if err := r.retireLegacyInjector(ctx, mesh, owner, found, plan.Prune); err != nil {
				return nil, moved(err)
			}
		}
	}
	for _, name := range plan.Prune {
		removed, err := r.removeRelease(ctx, mesh, spec.Namespace, revisionRelease(name))
		if err != nil {
			return nil, moved(meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err))
		}
		pruned = append(pruned, name)
		if !removed {
			// No record to remove: the revision was pruned already, and the cache still shows the istiod
			// Deployment its uninstall deleted. Nothing was removed now, so nothing is reported; it stays
			// remembered as unused, so it is not listed as a revision again meanwhile.
			continue
		}
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, meshv1alpha1.ReasonRevisionPruned, "Prune/"+name,
			"Removed revision %s (Istio %s): no tag, webhook, namespace, pod or pod template used it for %s", name, versions[name], gracePeriod(mesh))
	}
	r.rememberUnused(plan.Revisions)
	if inPlace && plan.Active == revision.Legacy {
		r.recordDraining(mesh, plan, tagged) // the tag was removed above
	}
	statuses := slices.DeleteFunc(plan.Revisions, func(s meshv1alpha1.RevisionStatus) bool { return slices.Contains(plan.Prune, s.Name) })
	ri := &revisionInstallation{active: plan.Active, target: target, canary: plan.Canary, versions: versions,
		revisions: statuses, requeueAfter: plan.RequeueAfter, shared: sharedRevisions(found, plan.Prune)}
	if rb := meshctx.CanaryRollback(mesh, r.Restarts.Value().CanaryRollback); rb != nil && rb.Revision == plan.Canary {
		// A restart onto the canary failed: the canary namespaces are served by the active revision again,
		// and the canary revision stays installed.
		ri.canary = ""
	}
	if spec.UpdateStrategy.Canary != nil {
		ri.canaryNamespaces = spec.UpdateStrategy.Canary.Namespaces
	}
	deployment, meshConfig := revisionDeployment(target), meshConfigName+"-"+target
	if target == revision.Legacy {
		meshConfig = meshConfigName
	}
	// The CNI agent follows the active revision (the one the tag gives most proxies), at that
	// revision's version: it moves when the tag moves, so it never leads the control plane.
	agentCharts := base
	if res, ok := sets[plan.Active]; ok {
		agentCharts = res.set
	} else if legacy := versions[revision.Legacy]; plan.Active == revision.Legacy && legacy != "" {
		// The istiod without a revision stays at its version while the first revision comes in (a switch
		// to RevisionBased, with a version change perhaps): so does the agent, chart and image alike. Its
		// charts are not needed otherwise (that istiod is left as it is), so charts that cannot be had
		// (spec.charts.repository changed in the same commit) hold nothing back: the agent then gets
		// the newest charts, as before.
		if res, err := r.findRunning(ctx, mesh, legacy); err == nil {
			agentCharts = res.set
		} else {
			ctrl.LoggerFrom(ctx).Info("The charts of the istiod without a revision cannot be had; the CNI agent gets the newest",
				"version", legacy, "error", err.Error())
		}
	}
	return &installation{version: versions[plan.Active], chartVersion: want.set.Version, revision: plan.Active,
		deployment: deployment, meshConfig: meshConfig, activeDeployment: revisionDeployment(plan.Active), revisions: ri, charts: agentCharts,
		deploymentWritten: deploymentWritten}, nil
}

// tagMoved is a control-plane failure after the default tag moved to revision (or was removed, for the
// istiod without a revision to inject): injection follows that revision already, so the status reports
// it as the active one, with the revisions as planned, though the phase failed.
type tagMoved struct {
	error
	version, revision string
	revisions         []meshv1alpha1.RevisionStatus
}

func (e *tagMoved) Unwrap() error { return e.error }

// withoutClaimsOnAnUnservedCanary counts no pod for the target revision of a canary that has not served
// yet: its istiod is not available, the tag does not point at it, and the status does not report it
// serving the canary namespaces (meshctx.CanaryTarget). A canary serves once its istiod is available, and
// from then on while pods run its proxies (revision.Serves); before, its injector has never answered, so
// no pod runs a proxy it injected. A pod that says so (its sidecar.istio.io/status annotation and an
// istio-proxy container) was written so by whoever created it, in any namespace: counted, it would make
// the canary serve and move every canary namespace, other teams' among them, onto an istiod that is not
// available, whose fail-closed webhook then refuses their new pods. The target is never removed as
// unused, so the count decides nothing else.
func withoutClaimsOnAnUnservedCanary(mesh *meshv1alpha1.ServiceMesh, found []revision.Installed, target, tagged string) []revision.Installed {
	canary := mesh.Spec.UpdateStrategy.Canary
	if !revisionBased(mesh) || canary == nil || len(canary.Namespaces) == 0 || target == tagged || meshctx.CanaryTarget(mesh) == target {
		return found
	}
	for i := range found {
		if found[i].Name == target && !found[i].Ready {
			found[i].Proxies = 0
		}
	}
	return found
}

func fromRevision(tagged string) string {
	if tagged == "" {
		return ""
	}
	return " (it pointed at " + tagged + ")"
}

func gracePeriod(mesh *meshv1alpha1.ServiceMesh) time.Duration {
	if g := mesh.Spec.UpdateStrategy.InactiveRevisionDeletionGracePeriod; g != nil {
		return g.Duration
	}
	return defaultGracePeriod
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// planRevisions decides the roles of the revisions with what is remembered of their use.
func (r *Reconciler) planRevisions(mesh *meshv1alpha1.ServiceMesh, target, version, tagged string, found []revision.Installed) revision.Plan {
	r.revisionState.mu.Lock()
	since := make(map[string]time.Time, len(r.revisionState.unusedSince))
	for k, v := range r.revisionState.unusedSince {
		since[k] = v
	}
	planned := r.revisionState.unusedSince != nil
	r.revisionState.mu.Unlock()
	// What an earlier run of meshkeeper saw, kept in the status: the grace period does not start again
	// with every restart. Once this process has planned, it knows better than the status: a revision
	// used again since is forgotten here, while a status write that failed may still hold when it was
	// unused before, which would cut its next grace period short.
	for _, st := range mesh.Status.Revisions {
		if _, known := since[st.Name]; !known && !planned && st.UnusedSince != nil {
			since[st.Name] = st.UnusedSince.Time
		}
	}
	canary := revisionBased(mesh) && mesh.Spec.UpdateStrategy.Canary != nil && len(mesh.Spec.UpdateStrategy.Canary.Namespaces) > 0
	// The canary the status reports serving the canary namespaces (none once rolled back) keeps them
	// while a newer spec.version's canary is not ready yet.
	return revision.Decide(revision.PlanInput{Target: target, TargetVersion: version, Tagged: tagged, Canary: canary,
		Serving: meshctx.CanaryRevision(mesh), Installed: found, UnusedSince: since, Now: time.Now(), Grace: gracePeriod(mesh)})
}

// holdRevisionsInUse takes out of plan.Prune every revision something meshkeeper does not watch still
// uses. A webhook configuration meshkeeper does not own that sends requests to the revision's istiod (a
// revision tag someone made with `istioctl tag set`, or any other webhook naming the revision's Service):
// removing the revision would leave that webhook without a backend, and with Istio's failurePolicy Fail
// no pod of a namespace it selects could be created. A workload whose pod template names the revision
// with istio.io/rev while none of its pods runs (a CronJob between runs, a Deployment scaled to 0): its
// next pods would match no injector once the revision's webhook is gone, and start without a sidecar,
// out of the mesh. Both are read from the API server, only when a revision is due for removal, with
// tagged, the revision the default tag points at, for a template's istio.io/rev=default.
func (r *Reconciler) holdRevisionsInUse(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, plan *revision.Plan, tagged string) (err error) {
	r.revisionState.mu.Lock()
	reported := r.revisionState.blocked
	r.revisionState.mu.Unlock()
	blocked := map[string]string{}
	defer func() {
		r.revisionState.mu.Lock()
		r.revisionState.blocked = blocked
		r.revisionState.mu.Unlock()
		// A failed look at the webhooks or workloads knows nothing new: the count stays as it was, so an
		// alert on a revision kept for long is not reset by one failed list.
		if err == nil {
			metrics.RevisionsPruneBlocked.Set(float64(len(blocked)))
		}
	}()
	if len(plan.Prune) == 0 {
		return nil
	}
	users, err := r.webhooksUsing(ctx, mesh, plan.Prune)
	if err != nil {
		return err
	}
	recheck := holdRecheck(mesh)
	templates, err := r.recentTemplatesNaming(ctx, mesh, plan.Prune, tagged, recheck)
	if err != nil {
		return err
	}
	plan.Prune = slices.DeleteFunc(plan.Prune, func(name string) bool {
		message := pruneBlocked(name, users[name], templates[name])
		if message == "" {
			return false
		}
		blocked[name] = message
		if reported[name] != message {
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonRevisionPruneBlocked, "Prune/"+name, "%s", message)
		}
		if plan.RequeueAfter == 0 || recheck < plan.RequeueAfter {
			plan.RequeueAfter = recheck
		}
		return true
	})
	return nil
}

// pruneBlocked is the message of the RevisionPruneBlocked Event of a revision whose removal the webhook
// configurations and the workloads' pod templates hold; "" when none does.
func pruneBlocked(name string, webhooks []string, templates *workloadNames) string {
	holds := revisionHolds(name, webhooks, templates)
	if len(holds) == 0 {
		return ""
	}
	uses, remedies := make([]string, 0, len(holds)), make([]string, 0, len(holds))
	for _, h := range holds {
		uses, remedies = append(uses, h.Use), append(remedies, h.Remedy)
	}
	return fmt.Sprintf("Revision %s is unused and its grace period is over, but %s; meshkeeper keeps the revision until %s",
		name, strings.Join(uses, ", and "), strings.Join(remedies, ", and "))
}

// revisionHolds says what of the webhook configurations and the workloads' pod templates holds a
// revision, and what lets it go: the words of the RevisionPruneBlocked Event, and of the upgrade gate's
// refusal because of a revision they hold.
func revisionHolds(name string, webhooks []string, templates *workloadNames) []revision.Hold {
	var holds []revision.Hold
	if len(webhooks) > 0 {
		holds = append(holds, revision.Hold{
			Use:    fmt.Sprintf("webhook configuration %s (not meshkeeper's) sends requests to its istiod", strings.Join(webhooks, ", ")),
			Remedy: "you delete it or point it at another revision"})
	}
	if templates != nil {
		template := "the pod template of %s has"
		if templates.count > 1 {
			template = "the pod templates of %s have"
		}
		holds = append(holds, revision.Hold{
			Use: fmt.Sprintf(template+" %s=%s, whose next pods would start without a sidecar once it is gone",
				templates, policy.LabelIstioRevision, name),
			Remedy: fmt.Sprintf("you move their %s label to a current revision or remove it", policy.LabelIstioRevision)})
	}
	return holds
}

// heldRevisions finds, for each of the revisions, what holds it past its grace period (revisionHolds):
// the webhook configurations, and the workloads' pod templates as last looked at within the recheck
// (recentTemplatesNaming).
func (r *Reconciler) heldRevisions(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, revisions []string, tagged string) (map[string][]revision.Hold, error) {
	users, err := r.webhooksUsing(ctx, mesh, revisions)
	if err != nil {
		return nil, err
	}
	templates, err := r.recentTemplatesNaming(ctx, mesh, revisions, tagged, holdRecheck(mesh))
	if err != nil {
		return nil, err
	}
	held := map[string][]revision.Hold{}
	for _, name := range revisions {
		if holds := revisionHolds(name, users[name], templates[name]); len(holds) > 0 {
			held[name] = holds
		}
	}
	return held, nil
}

// holdRecheck is how often a revision something meshkeeper does not watch holds is looked at again:
// every blockedRecheck, or every grace period when that is shorter.
func holdRecheck(mesh *meshv1alpha1.ServiceMesh) time.Duration {
	return min(max(gracePeriod(mesh), time.Second), blockedRecheck)
}

// webhooksUsing names, for each of the revisions, the mutating and validating webhook configurations
// not owned by the ServiceMesh that send requests to the revision's istiod Service.
func (r *Reconciler) webhooksUsing(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, revisions []string) (map[string][]string, error) {
	services := map[string]string{}
	for _, name := range revisions {
		service := revisionReleasePrefix + name
		if name == revision.Legacy {
			service = istiodDeployment
		}
		services[service] = name
	}
	users := map[string][]string{}
	note := func(kind string, obj client.Object, refs []*admissionregistrationv1.ServiceReference) {
		if meshctx.OwnedBy(obj, mesh) {
			return
		}
		for _, ref := range refs {
			if ref == nil || ref.Namespace != mesh.Spec.Namespace {
				continue // a webhook by URL, or another namespace's Service
			}
			if name, ok := services[ref.Name]; ok {
				users[name] = append(users[name], kind+" "+obj.GetName())
				return
			}
		}
	}
	mutating := &admissionregistrationv1.MutatingWebhookConfigurationList{}
	if err := r.APIReader.List(ctx, mutating); err != nil {
		return nil, meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("listing mutating webhook configurations: %w", err))
	}
	for i := range mutating.Items {
		var refs []*admissionregistrationv1.ServiceReference
		for _, w := range mutating.Items[i].Webhooks {
			refs = append(refs, w.ClientConfig.Service)
		}
		note("MutatingWebhookConfiguration", &mutating.Items[i], refs)
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfigurationList{}
	if err := r.APIReader.List(ctx, validating); err != nil {
		return nil, meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("listing validating webhook configurations: %w", err))
	}
	for i := range validating.Items {
		var refs []*admissionregistrationv1.ServiceReference
		for _, w := range validating.Items[i].Webhooks {
			refs = append(refs, w.ClientConfig.Service)
		}
		note("ValidatingWebhookConfiguration", &validating.Items[i], refs)
	}
	return users, nil
}

// rememberUnused keeps since when each unused revision is unused, as the plan says, and forgets the
// others.
func (r *Reconciler) rememberUnused(revisions []meshv1alpha1.RevisionStatus) {
	r.revisionState.mu.Lock()
	defer r.revisionState.mu.Unlock()
	r.revisionState.unusedSince = map[string]time.Time{}
	for _, st := range revisions {
		if st.UnusedSince != nil {
			r.revisionState.unusedSince[st.Name] = st.UnusedSince.Time
		}
	}
}

// ensureRelease brings one release in sync and reports what it did; written tells whether it wrote
// any of the release's objects (installed, upgraded or repaired it).
func (r *Reconciler) ensureRelease(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, release helm.Release, chartVersion string) (written bool, err error) {
	result, err := r.Charts.Ensure(ctx, release)
	r.recordHelmResult(mesh, release, chartVersion, result, err)
	if err != nil {
		return false, meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
	}
	if result.Action == helm.ActionInstalled && strings.HasPrefix(release.Name, revisionReleasePrefix) {
		ctrl.LoggerFrom(ctx).Info("Installed a revision", "release", release.Name)
	}
	return result.Action != helm.ActionNone, nil
}

// observeRevisions finds the installed revisions: every istiod Deployment of meshkeeper's (owned by
// this ServiceMesh) is one, named by its istio.io/rev label, with the pods whose proxy it serves: those
// its injector injected, and the gateways it deployed for Gateway API Gateways (policy.ProxyRevision),
// not those of another installation's istiod of the same revision name (servedElsewhere). It
// also reads which revision the default tag points at ("" when meshkeeper wrote no tag).
func (r *Reconciler) observeRevisions(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) ([]revision.Installed, string, error) {
	deployments := &appsv1.DeploymentList{}
	if err := r.List(ctx, deployments, client.InNamespace(mesh.Spec.Namespace),
		client.MatchingLabels{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod"}); err != nil {
		return nil, "", fmt.Errorf("listing istiod Deployments: %w", err)
	}
	pods, err := meshctx.PodsOr(r.Pods, r.Client).ListPods(ctx, "")
	if err != nil {
		return nil, "", fmt.Errorf("listing pods: %w", err)
	}
	proxies := map[string]int32{}
	// elsewhere is, by revision, by the other installation's istiod, the namespaces of the pods it serves.
	elsewhere := map[string]map[string]sets.Set[string]{}
	for _, pod := range pods {
		if pod.Phase == corev1.PodSucceeded || pod.Phase == corev1.PodFailed {
			continue
		}
		rev := policy.ProxyRevision(pod)
		switch {
		case rev == "":
		case servedElsewhere(pod, rev, mesh.Spec.Namespace):
			if elsewhere[rev] == nil {
				elsewhere[rev] = map[string]sets.Set[string]{}
			}
			if elsewhere[rev][pod.DiscoveryService] == nil {
				elsewhere[rev][pod.DiscoveryService] = sets.New[string]()
			}
			elsewhere[rev][pod.DiscoveryService].Insert(pod.Namespace)
		default:
			proxies[rev]++
		}
	}
	elsewhereOf := func(rev string) map[string][]string {
		if len(elsewhere[rev]) == 0 {
			return nil
		}
		out := make(map[string][]string, len(elsewhere[rev]))
		for istiod, namespaces := range elsewhere[rev] {
			out[istiod] = sets.List(namespaces)
		}
		return out
	}
	namespaces := &corev1.NamespaceList{}
	if err := r.List(ctx, namespaces); err != nil {
		return nil, "", fmt.Errorf("listing namespaces: %w", err)
	}
	// installed are the revisions with an istiod Deployment, and then those whose Deployment was deleted
	// while their release stays, or whose install failed before it made one (missing).
	var istiods []*appsv1.Deployment
	installed := sets.New[string]()
	for i := range deployments.Items {
		d := &deployments.Items[i]
		if !meshctx.OwnedBy(d, mesh) {
			continue
		}
		name := d.Labels[policy.LabelIstioRevision]
		if name == "" || d.Name != revisionDeployment(name) {
			continue
		}
		istiods = append(istiods, d)
		installed.Insert(name)
	}
	// What the status lists and finds no Deployment of is read as the records say it now.
	listedMissing := slices.ContainsFunc(mesh.Status.Revisions, func(st meshv1alpha1.RevisionStatus) bool {
		return st.Name != "" && !installed.Has(st.Name)
	})
	releases, err := r.knownReleaseHistories(ctx, mesh, listedMissing)
	if err != nil {
		return nil, "", err
	}
	missing := append(listedWithoutDeployment(mesh, installed, releases), failedWithoutDeployment(mesh, installed, releases)...)
	for _, st := range missing {
		installed.Insert(st.Name)
	}

	var tagged string
	tag := &admissionregistrationv1.MutatingWebhookConfiguration{}
	err = r.Get(ctx, client.ObjectKey{Name: tagWebhook(mesh.Spec.Namespace)}, tag)
	switch {
	case apierrors.IsNotFound(err) && installed.Has(mesh.Status.ActiveRevision):
		// The tag was deleted by hand: it goes back where it pointed, not to the target, which may not be
		// ready or may be a canary. Where it pointed is the status's active revision, while it is installed:
		// that comes first, or an istiod without a revision still draining beside it (a mesh switched from
		// InPlace) would take the tag's place. On a switch from InPlace the active revision is "" (InPlace)
		// and then the istiod without a revision ("default") until the tag exists: the same as below.
		tagged = mesh.Status.ActiveRevision
	case apierrors.IsNotFound(err) && installed.Has(revision.Legacy):
		// A mesh switching from InPlace: the istiod without a revision injects until the tag takes over.
		tagged = revision.Legacy
	case apierrors.IsNotFound(err):
	case err != nil:
		return nil, "", fmt.Errorf("reading the default revision tag: %w", err)
	case !meshctx.IsManaged(tag) || !meshctx.OwnedBy(tag, mesh):
		return nil, "", foreignTag(mesh, true)
	default:
		tagged = tag.Labels[policy.LabelIstioRevision]
	}

	// A namespace's istio.io/rev label keeps the revision it names: its owner's, and meshkeeper's own on a
	// canary namespace too, until the namespace controller moves it (after the status written below
	// says where, or never while an admission policy refuses the move): a revision removed before would
	// leave the namespace's pods without a sidecar. istio.io/rev=default names the default tag, as the
	// tag's webhook selects it: while a tag exists, it keeps the revision the tag points at, not the
	// istiod without a revision (whose name is also "default").
	labelled := map[string][]string{}
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		rev, ok := ns.Labels[policy.LabelIstioRevision]
		if !ok {
			continue
		}
		if rev == defaultTag && tagged != "" {
			rev = tagged
		}
		labelled[rev] = append(labelled[rev], ns.Name)
	}
	for _, names := range labelled {
		slices.Sort(names)
	}
	var found []revision.Installed
	for _, d := range istiods {
		name := d.Labels[policy.LabelIstioRevision]
		ready, _, _ := controlPlaneReadiness(d)
		found = append(found, revision.Installed{Name: name, Version: deploymentVersion(d, name, mesh),
			Ready: ready == metav1.ConditionTrue, Proxies: proxies[name], Labelled: len(labelled[name]) > 0, Namespaces: labelled[name],
			NeverDeployed: releases[revisionRelease(name)].neverDeployed(), Elsewhere: elsewhereOf(name)})
	}
	for _, st := range missing {
		found = append(found, revision.Installed{Name: st.Name, Version: st.Version, Proxies: proxies[st.Name],
			Labelled: len(labelled[st.Name]) > 0, Namespaces: labelled[st.Name], NeverDeployed: releases[revisionRelease(st.Name)].neverDeployed(),
			Elsewhere: elsewhereOf(st.Name)})
	}
	return found, tagged, nil
}

// servedElsewhere tells whether a pod whose proxy names revision rev gets its configuration from the
// istiod of that revision name in another namespace than namespace, the mesh's: another Istio
// installation's (a second control plane installed with the same revision, say istioctl install
// --revision 1-31-0). Its injector selects the same istio.io/rev labels as the mesh's revision, and
// writes the same revision in the pods it injects, but their proxies do not use the mesh's istiod: the
// discovery address it gave them (policy.ProxyPod.DiscoveryService) names its own, whose Service has the
// name of the revision's istiod Deployment. Counted, they would keep the mesh's revision from being
// removed for as long as they run, and be the pods a refused upgrade asks to restart, which the other
// installation's injector would give the same revision again. A pod whose proxy names no such Service
// counts: nothing says it is another installation's.
func servedElsewhere(pod *policy.ProxyPod, rev, namespace string) bool {
	service, ns, ok := strings.Cut(pod.DiscoveryService, ".")
	return ok && service == revisionDeployment(rev) && ns != namespace
}

// revisionRelease is the istiod release of a revision: istiod-<revision>, or istiod for the istiod
// installed without a revision (revision.Legacy).
func revisionRelease(rev string) string {
	if rev == revision.Legacy {
		return istiodRelease
	}
	return revisionReleasePrefix + rev
}

// revisionsWithoutDeployment returns the revisions the status lists whose istiod Deployment is gone
// (listedWithoutDeployment). The release records are read only when the status lists a revision
// without its Deployment.
func (r *Reconciler) revisionsWithoutDeployment(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, deployed sets.Set[string]) ([]meshv1alpha1.RevisionStatus, error) {
	if !slices.ContainsFunc(mesh.Status.Revisions, func(st meshv1alpha1.RevisionStatus) bool { return st.Name != "" && !deployed.Has(st.Name) }) {
		return nil, nil
	}
	releases, err := r.releaseHistories(ctx, mesh)
	if err != nil {
		return nil, err
	}
	return listedWithoutDeployment(mesh, deployed, releases), nil
}

// listedWithoutDeployment returns the revisions the status lists whose istiod Deployment is gone
// (deleted by hand: deployed names those with one) while their release is still installed. They are
// still revisions, not ready: their release brings the Deployment back, their proxies keep them, and the
// tag does not leave them on their account. A revision the status lists that was never installed (a
// target the spec moved away from first) or whose release is gone is not one.
func listedWithoutDeployment(mesh *meshv1alpha1.ServiceMesh, deployed sets.Set[string], releases map[string]releaseHistory) []meshv1alpha1.RevisionStatus {
	var listed []meshv1alpha1.RevisionStatus
	for _, st := range mesh.Status.Revisions {
		if _, ok := releases[revisionRelease(st.Name)]; ok && st.Name != "" && !deployed.Has(st.Name) {
			listed = append(listed, st)
		}
	}
	return listed
}

// failedWithoutDeployment returns the revisions the status does not list, without an istiod Deployment,
// whose release meshkeeper began to install and never deployed: an install that failed before it made
// the Deployment (the API server or an admission policy refused it, or an object before it), or that a
// stopped manager cut short. The failure is reported while the revision is spec.version's, and the
// status does not list it then; once the spec moves away from it, it is a revision nothing uses, which
// is removed after the grace period like any other, with what it applied. Found only by its records,
// it is not trusted beyond that: unused, it is not installed again (reconcileRevisions), and its
// uninstall deletes only what meshkeeper applied for its release.
func failedWithoutDeployment(mesh *meshv1alpha1.ServiceMesh, deployed sets.Set[string], releases map[string]releaseHistory) []meshv1alpha1.RevisionStatus {
	var failed []meshv1alpha1.RevisionStatus
	for _, release := range sortedKeys(releases) {
		name, ok := strings.CutPrefix(release, revisionReleasePrefix)
		if !ok || name == "" || deployed.Has(name) || !releases[release].neverDeployed() ||
			slices.ContainsFunc(mesh.Status.Revisions, func(st meshv1alpha1.RevisionStatus) bool { return st.Name == name }) {
			continue
		}
		failed = append(failed, meshv1alpha1.RevisionStatus{Name: name, Version: nameVersion(name, mesh)})
	}
	return failed
}

// deploymentVersion is the Istio version of a revision: the tag of its istiod image when the revision is
// named after it, else the one its name spells (nameVersion), else (the revision installed without a
// name) the version the status reports. A revision is named after the version it was installed for,
// whose charts it is kept with; its image tag may be any other (spec.values global.tag or tag, a tag of
// the user's hub), and tells only which version a name with a pre-release spells.
func deploymentVersion(d *appsv1.Deployment, name string, mesh *meshv1alpha1.ServiceMesh) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "discovery" {
			if v := policy.ImageVersion(c.Image); v != "" && (name == revision.Legacy || revision.Name(v) == name) {
				return v
			}
		}
	}
	if name != revision.Legacy {
		return nameVersion(name, mesh)
	}
	return mesh.Status.Version
}

// nameVersion is the version a revision's name spells: spec.version or status.version when the
// revision is named after it (a pre-release's dots and dashes both become dashes in the name), else the
// name with its first two dashes made dots.
func nameVersion(name string, mesh *meshv1alpha1.ServiceMesh) string {
	for _, v := range []string{mesh.Spec.Version, mesh.Status.Version} {
		if v != "" && revision.Name(v) == name {
			return v
		}
	}
	return strings.Replace(name, "-", ".", 2)
}

// runningRevisions names the revisions (istiod-<rev>) meshkeeper runs for the mesh, the istiod without
// a revision aside: those with an istiod Deployment, and, as reconcileRevisions counts them, those the
// status lists whose Deployment was deleted by hand while their release is still installed
// (revisionsWithoutDeployment). Such a revision's release keeps its injector webhook, which fails
// closed: it is put back, and removed once unused, as any other. The release records are read only
// when no revision has a Deployment and the status lists one without it.
func (r *Reconciler) runningRevisions(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) ([]string, error) {
	deployments := &appsv1.DeploymentList{}
	if err := r.List(ctx, deployments, client.InNamespace(mesh.Spec.Namespace),
		client.MatchingLabels{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue, "app": "istiod"}); err != nil {
		return nil, fmt.Errorf("listing istiod Deployments: %w", err)
	}
	var revisions []string
	deployed := sets.New[string]()
	for i := range deployments.Items {
		d := &deployments.Items[i]
		name := d.Labels[policy.LabelIstioRevision]
		if !meshctx.OwnedBy(d, mesh) || name == "" {
			continue
		}
		deployed.Insert(name)
		if name != revision.Legacy {
			revisions = append(revisions, name)
		}
	}
	if len(revisions) > 0 {
		return revisions, nil // reconcileRevisions finds those without a Deployment itself
	}
	missing, err := r.revisionsWithoutDeployment(ctx, mesh, deployed)
	if err != nil {
		return nil, err
	}
	for _, st := range missing {
		if st.Name != revision.Legacy {
			revisions = append(revisions, st.Name)
		}
	}
	return revisions, nil
}

// revisionsInUse are the revisions a version change is judged from: all but those that serve nothing
// any more (not the tag's, not the target, no pod runs their proxy, no namespace's own label names
// them). Those wait for their grace period only to be removed; counting them would refuse the next
// step over a revision nothing uses, and since the refusal comes before any removal, keep refusing it
// after the grace period too. While the tag's revision is not known, every revision counts. revisionGate
// counts those left out that something holds past their grace period, as the pruning does.
func revisionsInUse(found []revision.Installed, tagged, target string) []revision.Installed {
	if tagged == "" {
		return found
	}
	return slices.DeleteFunc(slices.Clone(found), func(f revision.Installed) bool {
		return f.Name != tagged && f.Name != target && f.Proxies == 0 && !f.Labelled
	})
}

// revisionGate is upgradeGate for a mesh run as revisions, judged from the revisions in use
// (revisionsInUse) and those of the others that something meshkeeper does not watch holds (a webhook
// configuration that is not meshkeeper's, a workload's pod template: heldRevisions). The pruning keeps
// those past their grace period, so they run beside the target as long as a revision in use would, and
// a refusal names them and what holds them as the RevisionPruneBlocked Event does. They are looked for
// only when counting every revision would change the verdict, since a look lists every webhook
// configuration and, at most once per recheck, every workload of the cluster. A refusal because of them
// alone is looked at again every recheck: their holds are not watched.
func (r *Reconciler) revisionGate(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string, found []revision.Installed,
	tagged, target, crds string) error {
	inUse := revisionsInUse(found, tagged, target)
	err := r.upgradeGate(ctx, mesh, version, inUse, crds)
	if len(inUse) == len(found) {
		return err
	}
	var unused []string
	for _, f := range found {
		if !slices.ContainsFunc(inUse, func(u revision.Installed) bool { return u.Name == f.Name }) {
			unused = append(unused, f.Name)
		}
	}
	if all := r.upgradeGate(ctx, mesh, version, found, crds); sameRefusal(all, err) {
		return err
	}
	held, lookErr := r.heldRevisions(ctx, mesh, unused, tagged)
	if lookErr != nil {
		return lookErr
	}
	if len(held) == 0 {
		return err
	}
	counted := slices.Clone(inUse)
	for _, f := range found {
		if holds, ok := held[f.Name]; ok {
			f.Holds = holds
			counted = append(counted, f)
		}
	}
	heldErr := r.upgradeGate(ctx, mesh, version, counted, crds)
	if e := meshctx.Classify(heldErr); err == nil && e != nil {
		return meshctx.Recheck(meshv1alpha1.ReasonUpgradeNotSupported, holdRecheck(mesh), e.Err)
	}
	return heldErr
}

// sameRefusal tells whether two verdicts of the upgrade gate are the same: both nil, or the same error.
func sameRefusal(a, b error) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return a.Error() == b.Error()
}

// inPlaceRunning is what an in-place upgrade replaces, for the upgrade gate: the version status.version
// reports, the version of the istiod Deployment's pod template (deploymentVersion), and those of the
// istiod pods that still run. The first two are what Helm last applied, not what runs: while the pods
// of a new version never become ready (an image that cannot be pulled), the Deployment keeps those of
// the version before serving, and an upgrade judged from the applied version alone would replace them
// by one two minor versions ahead of theirs. status.version can also be empty (a ServiceMesh restored
// from a backup), which alone would let any version through.
//
// The pods are read from the cache, those neither finished nor being deleted that a ReplicaSet of the
// Deployment (meshkeeper's, by its UID) controls, and their version from their ReplicaSet's labels (its pod template's): the pod
// cache keeps neither a pod's labels nor its images, the ReplicaSets' cache only their metadata.
// Without a ReplicaSets cache (a reconciler that was not set up with one) the pods are not looked at.
func (r *Reconciler) inPlaceRunning(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) ([]revision.Installed, error) {
	var running []revision.Installed
	add := func(version string) {
		if version != "" && !slices.ContainsFunc(running, func(f revision.Installed) bool { return f.Version == version }) {
			running = append(running, revision.Installed{Name: revision.Legacy, Version: version})
		}
	}
	add(mesh.Status.Version)
	d := &appsv1.Deployment{}
	if err := r.Get(ctx, client.ObjectKey{Namespace: mesh.Spec.Namespace, Name: istiodDeployment}, d); apierrors.IsNotFound(err) {
		// No istiod of meshkeeper's (the cache holds only those): pods of another installation's are
		// not what an in-place upgrade replaces (its install fails on that installation's objects).
		return running, nil
	} else if err != nil {
		return nil, fmt.Errorf("reading the istiod Deployment: %w", err)
	}
	add(deploymentVersion(d, revision.Legacy, mesh))
	replicaSets := r.ReplicaSets
	if replicaSets == nil {
		replicaSets = r.Workloads
	}
	if replicaSets == nil {
		return running, nil
	}
	pods, err := meshctx.PodsOr(r.Pods, r.Client).ListPods(ctx, mesh.Spec.Namespace)
	if err != nil {
		return nil, fmt.Errorf("listing the pods of namespace %s: %w", mesh.Spec.Namespace, err)
	}
	seen := sets.New[types.UID]()
	for _, pod := range pods {
		c := pod.Controller
		// The Deployment controller names its ReplicaSets <deployment>-<pod-template-hash>.
		if pod.DeletionTimestamp != nil || pod.Phase == corev1.PodSucceeded || pod.Phase == corev1.PodFailed ||
			c.Kind != "ReplicaSet" || !strings.HasPrefix(c.APIVersion, "apps/") || !strings.HasPrefix(c.Name, istiodDeployment+"-") ||
			seen.Has(c.UID) {
			continue
		}
		seen.Insert(c.UID)
		rs := &metav1.PartialObjectMetadata{}
		rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
		if err := replicaSets.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: c.Name}, rs); apierrors.IsNotFound(err) {
			continue
		} else if err != nil {
			return nil, fmt.Errorf("reading ReplicaSet %s of istiod: %w", c.Name, err)
		}
		if owner := metav1.GetControllerOf(rs); rs.UID == c.UID && owner != nil && owner.Kind == "Deployment" && owner.UID == d.UID {
			add(rs.Labels[versionLabel])
		}
	}
	return running, nil
}

// upgradeGate refuses a version change Istio does not support, before anything changes. crds is the
// version of the Istio CRDs installed (installedCRDsVersion). A refusal names a revision that runs
// beside the active one (status.activeRevision) only because pods or namespaces still use it.
func (r *Reconciler) upgradeGate(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, version string, found []revision.Installed,
	crds string) error {
	var running []string
	for _, f := range found {
		if f.Version != "" {
			running = append(running, f.Version)
		}
	}
	if len(running) == 0 && mesh.Status.Version != "" {
		running = append(running, mesh.Status.Version)
	}
	if revision.CompareStrings(mesh.Status.ChartVersion, crds) > 0 {
		crds = mesh.Status.ChartVersion
	}
	agent, err := r.runningAgentVersion(ctx, mesh)
	if err != nil {
		return err
	}
	in := revision.GateInput{Strategy: mesh.Spec.UpdateStrategy.Type, Target: version, Running: running, CRDs: crds,
		Kubernetes: r.kubernetesVersion(ctx), CNIAgent: agent, Revisions: found, Tagged: mesh.Status.ActiveRevision}
	message := revision.Gate(in)
	if message == "" {
		return nil
	}
	err = fmt.Errorf("%s; the running control plane is left as it is", message)
	if in.Kubernetes != "" {
		if in.Kubernetes = ""; revision.Gate(in) == "" {
			// Refused for the cluster's Kubernetes version alone: once the cluster is upgraded, the
			// mesh goes on by itself, without a change of its spec.
			return meshctx.Recheck(meshv1alpha1.ReasonUpgradeNotSupported, kubernetesVersionRecheck, err)
		}
	}
	return meshctx.Terminal(meshv1alpha1.ReasonUpgradeNotSupported, err)
}

// runningAgentVersion is the Istio version of the CNI agent the mesh runs and keeps running (the
// settled decision, spec.cni.enabled, in memory), read from its DaemonSet in status.cni.namespace, or,
// when the status names none (lost whole, restored from a backup without it), in the namespace the CNI
// phase takes for the agent's (unrecordedAgent); "" when there is none.
func (r *Reconciler) runningAgentVersion(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (string, error) {
	if !ptr.Deref(mesh.Spec.CNI.Enabled, false) {
		return "", nil
	}
	namespace, err := r.agentNamespace(ctx, mesh)
	if err != nil || namespace == "" {
		return "", err
	}
	return r.agentVersionIn(ctx, namespace)
}

// kubernetesVersion is the API server's MAJOR.MINOR, read again once the last read is
// kubernetesVersionRecheck old; the last version read when it cannot be read, "" when none was.
func (r *Reconciler) kubernetesVersion(ctx context.Context) string {
	s := &r.revisionState
	s.mu.Lock()
	known, readAt, api := s.k8sVersion, s.k8sReadAt, s.discovery
	s.mu.Unlock()
	if api == nil || known != "" && time.Since(readAt) < kubernetesVersionRecheck {
		return known
	}
	info, err := api.ServerVersion() // not under the lock: the other reconciles need not wait for it
	if err != nil {
		if known == "" {
			ctrl.LoggerFrom(ctx).V(1).Info("Cannot read the Kubernetes version; its support range is not checked", "error", err.Error())
			return ""
		}
		s.mu.Lock()
		s.k8sReadAt = time.Now() // tried: the version known stands until the next recheck
		s.mu.Unlock()
		return known
	}
	read := info.Major + "." + strings.TrimSuffix(info.Minor, "+")
	s.mu.Lock()
	s.k8sVersion, s.k8sReadAt = read, time.Now()
	s.mu.Unlock()
	return read
}

// applyTag points the default tag at a revision: the tag webhook the revision's own istiod chart
// renders with revisionTags [default], applied by meshkeeper in one write, so pods are never without
// an injector while the tag moves. Nothing is written when the live tag already is that.
func (r *Reconciler) applyTag(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, owner helm.Owner, res resolved, rev string) error {
	values := render.Merge(revisionValues(res.values, rev), render.Values{"revisionTags": []any{defaultTag}})
	manifest, err := helm.TemplateGuarded(res.set.Istiod, values, revisionReleasePrefix+rev, mesh.Spec.Namespace)
	if err != nil {
		return meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
	}
	stamped, err := helm.Stamp(manifest, owner)
	if err != nil {
		return meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
	}
	tag, err := findObject(stamped, "MutatingWebhookConfiguration", tagWebhook(mesh.Spec.Namespace))
	if err != nil {
		return meshctx.Retry(meshv1alpha1.ReasonInstallFailed, err)
	}
	// Helm's labels would claim the object for a release that does not hold it.
	labels := tag.GetLabels()
	delete(labels, "app.kubernetes.io/managed-by")
	tag.SetLabels(labels)
	doc, err := tag.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encoding the default tag: %w", err)
	}
	sum := sha256.Sum256(doc)
	digest := hex.EncodeToString(sum[:])[:40]
	tag.SetAnnotations(map[string]string{digestAnnotation: digest})

	live := &admissionregistrationv1.MutatingWebhookConfiguration{}
	err = r.Get(ctx, client.ObjectKey{Name: tagWebhook(mesh.Spec.Namespace)}, live)
	if err == nil && live.Annotations[digestAnnotation] == digest && sameServices(live, tag) {
		return nil
	}
	if apierrors.IsNotFound(err) {
		// The cache holds only the webhooks meshkeeper labelled: one of the name that is not (another
		// Istio installation's default tag, made with istioctl tag set) is looked for around it before
		// the forced apply below would take it over.
		if err = r.tagExists(ctx, mesh); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("reading the default tag: %w", err)
	}
	if err := r.Apply(ctx, client.ApplyConfigurationFromUnstructured(tag), client.FieldOwner(meshv1alpha1.FieldManager),
		client.ForceOwnership); err != nil {
		return meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("applying the default revision tag: %w", err))
	}
	return nil
}

// foreignTag is the error of a default tag's webhook that is not meshkeeper's. Retrying cannot remove
// it, so either way the generation counts as observed and the mesh is Stalled until a person removes
// it. One the cache holds (it carries meshkeeper's label) is found before any revision is installed,
// and its removal wakes the next reconcile; one it does not hold (istioctl tag set default) is found
// only before the tag is applied, and is looked for again every foreignTagRecheck, since its removal
// wakes nothing. Both are rechecks, not terminal failures: a terminal failure is held for the control
// plane's longest backoff, through the very wake-up that the removal brings.
func foreignTag(mesh *meshv1alpha1.ServiceMesh, cached bool) error {
	format := "MutatingWebhookConfiguration %s exists and is not meshkeeper's (another Istio installation's default tag?); " +
		"meshkeeper leaves it alone and %s until it is removed"
	if cached {
		return meshctx.Recheck(meshv1alpha1.ReasonInstallFailed, foreignTagRecheck,
			fmt.Errorf(format, tagWebhook(mesh.Spec.Namespace), "installs no revision"))
	}
	return meshctx.Recheck(meshv1alpha1.ReasonInstallFailed, foreignTagRecheck, fmt.Errorf(format+" (looked for again every minute)",
		tagWebhook(mesh.Spec.Namespace), "points no default tag at its revisions"))
}

// tagExists reads around the cache whether a default tag's webhook the cache does not hold exists. It
// is then not meshkeeper's (foreignTag).
func (r *Reconciler) tagExists(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) error {
	live := &metav1.PartialObjectMetadata{}
	live.SetGroupVersionKind(admissionregistrationv1.SchemeGroupVersion.WithKind("MutatingWebhookConfiguration"))
	err := r.APIReader.Get(ctx, client.ObjectKey{Name: tagWebhook(mesh.Spec.Namespace)}, live)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return fmt.Errorf("reading the default tag: %w", err)
	case meshctx.IsManaged(live) && meshctx.OwnedBy(live, mesh):
		return nil // meshkeeper's, not in the cache yet
	default:
		return foreignTag(mesh, false)
	}
}

// recordTagMoved records that the default tag now points at plan.Active, where it pointed at tagged,
// and that the revision it left drains.
func (r *Reconciler) recordTagMoved(mesh *meshv1alpha1.ServiceMesh, plan revision.Plan, tagged string, versions map[string]string) {
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, meshv1alpha1.ReasonTagMoved, "MoveTag",
		"The default revision tag points at revision %s (Istio %s)%s", plan.Active, versions[plan.Active], fromRevision(tagged))
	r.recordDraining(mesh, plan, tagged)
}

// recordDraining records that the revision the default tag pointed at, tagged, lost it and stays while
// pods use it.
func (r *Reconciler) recordDraining(mesh *meshv1alpha1.ServiceMesh, plan revision.Plan, tagged string) {
	for _, st := range plan.Revisions {
		if st.State == meshv1alpha1.RevisionDraining && tagged == st.Name && plan.Active != st.Name {
			r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, meshv1alpha1.ReasonRevisionDraining, "Drain/"+st.Name,
				"Revision %s (Istio %s) lost the default tag; it stays while %d pod(s) use it", st.Name, st.Version, st.Proxies)
		}
	}
}

// removeTag deletes the default tag's webhook (meshkeeper's: observeRevisions refuses any other), once
// the istiod without a revision injects in its place.
func (r *Reconciler) removeTag(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, tagged string) error {
	if tagged == "" || tagged == revision.Legacy {
		return nil
	}
	tag := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := r.Get(ctx, client.ObjectKey{Name: tagWebhook(mesh.Spec.Namespace)}, tag); err != nil {
		return client.IgnoreNotFound(err)
	}
	if err := r.Delete(ctx, tag, client.Preconditions{UID: &tag.UID, ResourceVersion: &tag.ResourceVersion}); client.IgnoreNotFound(err) != nil {
		return meshctx.Retry(meshv1alpha1.ReasonInstallFailed, fmt.Errorf("removing the default revision tag: %w", err))
	}
	r.Recorder.Eventf(mesh, nil, corev1.EventTypeNormal, meshv1alpha1.ReasonTagMoved, "RemoveTag",
		"Removed the default revision tag (it pointed at %s): the istiod without a revision injects enrolled namespaces again", tagged)
	return nil
}

// sameServices tells whether the live tag sends every webhook to the Service the rendered one names.
func sameServices(live *admissionregistrationv1.MutatingWebhookConfiguration, rendered *unstructured.Unstructured) bool {
	webhooks, _, _ := unstructured.NestedSlice(rendered.Object, "webhooks")
	if len(webhooks) != len(live.Webhooks) {
		return false
	}
	for i, w := range webhooks {
		name, _, _ := unstructured.NestedString(w.(map[string]any), "clientConfig", "service", "name")
		if live.Webhooks[i].ClientConfig.Service == nil || live.Webhooks[i].ClientConfig.Service.Name != name {
			return false
		}
	}
	return true
}

// findObject returns the object of a kind and name from a manifest.
func findObject(manifest []byte, kind, name string) (*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	for {
		obj := map[string]any{}
		if err := decoder.Decode(&obj); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the istiod chart rendered no %s %s", kind, name)
			}
			return nil, fmt.Errorf("reading the rendered istiod chart: %w", err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if u.GetKind() == kind && u.GetName() == name {
			return u, nil
		}
	}
}

// retireLegacyInjector stops the injector of an istiod installed without a revision (the InPlace
// strategy) from matching any pod, once the default tag has taken over its namespaces: its istiod
// keeps serving the proxies it injected, and drains like any other revision.
func (r *Reconciler) retireLegacyInjector(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, owner helm.Owner,
	found []revision.Installed, prune []string) error {
	var legacy *revision.Installed
	for i := range found {
		if found[i].Name == revision.Legacy && !slices.Contains(prune, revision.Legacy) {
			legacy = &found[i]
		}
	}
	if legacy == nil {
		return nil
	}
	// It runs: the built-in charts keep its version when spec.charts.repository lacks it.
	res, err := r.resolveRunning(ctx, mesh, legacy.Version)
	if err != nil {
		return err
	}
	values := render.Merge(res.values, render.Values{"global": render.Values{"operatorManageWebhooks": true}})
	_, err = r.ensureRelease(ctx, mesh, helm.Release{Name: istiodRelease, Namespace: mesh.Spec.Namespace, Chart: res.set.Istiod,
		ChartDigest: res.set.IstiodDigest, Values: values, Owner: owner}, res.set.Version)
	return err
}

// revisionReleases names the istiod releases of every revision meshkeeper installed for this mesh.
func (r *Reconciler) revisionReleases(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) ([]string, error) {
	releases, err := r.releaseHistories(ctx, mesh)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, name := range sortedKeys(releases) {
		if strings.HasPrefix(name, revisionReleasePrefix) {
			names = append(names, name)
		}
	}
	return names, nil
}

// releaseHistory is what the labels of a release's records say of it.
type releaseHistory struct {
	// meshkeepers: a record carries meshkeeper's digest label, under the name Helm gives the record.
	// deployed: a record is deployed, or was (superseded).
	meshkeepers, deployed bool
}

// neverDeployed tells that meshkeeper began to install the release and it was never deployed.
func (h releaseHistory) neverDeployed() bool { return h.meshkeepers && !h.deployed }

// releaseHistories reads every Helm release with a record in the control-plane namespace, around the
// cache (it holds no Secrets): only their metadata.
func (r *Reconciler) releaseHistories(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (map[string]releaseHistory, error) {
	secrets := &metav1.PartialObjectMetadataList{}
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := r.APIReader.List(ctx, secrets, client.InNamespace(mesh.Spec.Namespace), client.MatchingLabels{"owner": "helm"}); err != nil {
		return nil, fmt.Errorf("listing Helm releases: %w", err)
	}
	releases := map[string]releaseHistory{}
	for _, s := range secrets.Items {
		name := s.Labels["name"]
		h := releases[name]
		switch s.Labels["status"] {
		case "deployed", "superseded":
			h.deployed = true
		}
		if s.Labels[helm.DigestLabel] != "" && s.Name == "sh.helm.release.v1."+name+".v"+s.Labels["version"] {
			h.meshkeepers = true
		}
		releases[name] = h
	}
	return releases, nil
}
