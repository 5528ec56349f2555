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

// Package restart restarts the workloads whose pods run without a sidecar or with an outdated one,
// when the ServiceMesh asks for it (spec.dataPlane.restarts.mode: Automatic): a few at a time, inside
// the maintenance window, each only when it is itself rolled out and the revision that will inject it is
// ready, and stops when a restarted workload does not roll out. During a canary, a workload restarted
// onto the canary revision that does not roll out rolls the canary back instead (rollbackOnFailure).
package restart

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/charts"
	"github.com/meshkeeper/meshkeeper/internal/metrics"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// FieldManager is the field manager of the restarted-at annotation. It is not meshkeeper's main field
// manager on purpose: meshkeeper applies the ingress-nginx controller's pod-template metadata as a
// whole set under that one, and an apply of the annotation alone under the same name would take those
// keys away (and the uninstall, which gives up meshkeeper's keys, would take the annotation away and
// roll every restarted workload out again).
const FieldManager = meshv1alpha1.FieldManager + "-restarts"

// The restarts read pods, workloads and ReplicaSets, and apply one pod-template annotation.
// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=apps,resources=replicasets,verbs=get;list;watch

// Reconciler restarts workloads. It has one request: the ServiceMesh.
type Reconciler struct {
	// Client reads the ServiceMesh, Namespaces, pods and the mesh config from the manager's cache, and
	// applies the annotation.
	Client client.Client
	// Workloads is NewWorkloadCache's cache.
	Workloads cache.Cache
	// Pods reads the pods as the manager caches them; nil is SetupWithManager's cache, or, for a
	// reconciler that was not set up, Client.
	Pods     meshctx.Pods
	Recorder events.EventRecorder
	// Report is what the status pass reads; it may be shared with it.
	Report *Report
	// Policy holds the namespaces a control plane may run in, the only ones whose mesh config the
	// manager's cache holds.
	Policy charts.Policy
	// Now is the clock; nil is time.Now.
	Now func() time.Time

	mu sync.Mutex
	// rolling are the workloads this process restarted or saw rolling out after a restart, by key, with
	// their UID: a workload deleted and created again under the name between two passes (forgetGone
	// never saw it go), its pod template copied with meshkeeper's annotation, is another workload, whose
	// rollout is its owner's. meshkeeper's own restart is of the UID its apply names (see apply), so the
	// cache, however late, shows no other for it.
	rolling map[string]types.UID
	// completed are the restarted-at times whose rollout this process saw complete, by key: the
	// workload's rollouts since (a scale-up, a node drained, its owner's own change) are not meshkeeper's.
	completed map[string]time.Time
	// progress is, for each workload whose rollout after a restart this process follows, by key, its
	// last rollout counts and since when they hold (see progressed). It is dropped with
	// meshkeeper's annotation, once the rollout completes, while its owner holds the rollout (track), or
	// for another restart.
	progress map[string]rolloutProgress
	// targets are the restarts this process applied, by key, with what the workload's pods were judged
	// against then: a restart that rolled out and whose own pods still need one is not made again while
	// that holds (futile), nor one its owner took back (takenBack). Like completed, they are dropped with
	// meshkeeper's annotation, and once taken back; after a restart of meshkeeper the map is empty, and
	// the workload's restarted-for annotation says what the restart was for.
	targets map[string]restartTarget
	// written are the restarted-at values this process applied, by key, until the cache shows them. A
	// pass that runs before the workload cache has seen meshkeeper's own apply would otherwise find the
	// workload neither annotated nor rolling, its old pods still outdated, and restart it again. After a
	// restart of meshkeeper the map is empty, and that is right: its caches start from a fresh list,
	// which holds every apply the previous process made.
	written map[string]writtenRestart
	// reported holds the stall messages last reported, by key. They are forgotten with the workload
	// (forgetGone), and when the restarts stop: the key of a workload gone is free for a workload of the
	// same name, whose stall is news.
	reported meshctx.Transitions
	// notRestartable are the owners of the pods that need a restart and that meshkeeper does not restart,
	// with when a pass last found them (see follow): a NotRestartable Event marks an owner none of the
	// passes of the last ownerMemory found.
	notRestartable ownersSeen
	// failures counts, by key, the restarts of a workload that failed in a row, and when the last did:
	// the first of them, when only of the API server's making (meshctx.Quiet), is retried without a
	// Warning, and each is retried only after its backoff. Forgotten with a restart that goes through,
	// when the workload needs none (forgetFailures), with the workload (forgetGone), when another
	// workload takes its name (they are of the workload's UID), and when the restarts stop.
	failures restartFailures
	// stalls are the restarts this process saw stalled, by key, until they roll out, the workload
	// carries another restart, or it no longer carries that one (takenBack).
	stalls map[string]stalledRestart
	// undone are the restarts that the workload's owner took back (kubectl rollout undo, a template
	// synced back without meshkeeper's annotations), stalled or not, by key: the workload is not restarted
	// again while what its pods are judged against stays what that restart was for (heldAfterUndo).
	undone map[string]undoneRestart
	// rollback is the canary rollback this process decided, until the status records it or the spec
	// changes; never modified once set, so the Report compares it by identity.
	rollback *meshv1alpha1.CanaryRollbackStatus
	// rolledBack is, for the last rollback this process decided, since when the canary served each canary
	// namespace then (pass.canarySince): once the namespaces are sent back, their labels no longer tell.
	rolledBack rolledBackCanary
}

// rolledBackSince is since when the canary of rollback served each canary namespace, when this process
// decided that rollback; nil otherwise.
func (r *Reconciler) rolledBackSince(rollback *meshv1alpha1.CanaryRollbackStatus) map[string]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rb := r.rolledBack; rb.revision == rollback.Revision && rb.at.Equal(rollback.Time.Time) {
		return rb.since
	}
	return nil
}

// rolledBackCanary is since when the canary revision of a rollback served each canary namespace.
type rolledBackCanary struct {
	revision string
	at       time.Time
	since    map[string]time.Time
}

// Reconcile makes one pass: it classifies the pods of the enrolled namespaces, follows the ones that
// need a restart to their workloads, follows the rollouts it started, and starts as many restarts as
// the limits and the window allow.
func (r *Reconciler) Reconcile(ctx context.Context, _ ctrl.Request) (ctrl.Result, error) {
	// A pass records a rollback in its copy's status (holdRollback, rollBack).
	mesh, err := meshctx.GetCopy(ctx, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !meshctx.Live(mesh) || mesh.Spec.DataPlane.Restarts.Mode != meshv1alpha1.RestartAutomatic {
		// Uninstall (or no mesh) never starts a rollout; Manual reports only what the status pass counts,
		// and the stalls that still hold (stallsWhileManual).
		// The rollouts this process followed are forgotten: a stall of an earlier mesh must not hold back
		// the restarts of the next one, and a stall reported before is news when the restarts start
		// again. A restart that stalled, or that its owner took back, under this mesh is kept through
		// Manual: setting the restarts to Automatic again does not fix the workload, and until it rolls
		// out the stall still stops every restart (stallKnown), and a restart taken back is still not
		// made again onto the same target (heldAfterUndo).
		r.mu.Lock()
		r.rolling, r.rollback, r.written, r.progress, r.notRestartable = nil, nil, nil, nil, nil
		if !meshctx.Live(mesh) {
			r.stalls, r.undone = nil, nil
		}
		r.failures.ForgetAll()
		r.reported.ForgetAll()
		r.mu.Unlock()
		status := Status{}
		if meshctx.Live(mesh) {
			if status, err = r.stallsWhileManual(ctx, mesh); err != nil {
				return ctrl.Result{}, err
			}
		}
		r.Report.Set(status)
		metrics.RestartsPending.Set(0)
		return ctrl.Result{}, nil
	}
	r.holdRollback(mesh)
	p, err := r.observe(ctx, mesh)
	if err != nil {
		return ctrl.Result{}, err
	}
	if r.rollBack(mesh, p) {
		// From now on the canary namespaces are served by the active revision: look again as they are.
		if p, err = r.observe(ctx, mesh); err != nil {
			return ctrl.Result{}, err
		}
	}
	r.follow(mesh, p)
	result, err := r.restart(ctx, mesh, p)
	status := p.status()
	r.Report.Set(status)
	metrics.RestartsPending.Set(float64(status.Pending))
	return result, err
}

// pass is what one pass observed.
type pass struct {
	now time.Time
	// candidates need a restart, in priority order; pending are those not restarted in this pass, and
	// coolingOffs those that wait for the cool-off of meshkeeper's last restart of them (sortWaiting).
	candidates  []*candidate
	pending     []*candidate
	coolingOffs []*candidate
	// rolling are the workloads meshkeeper restarted that are still rolling out, stalled those among
	// them that made no progress for their deadline.
	rolling, stalled []*workload
	// notRestartable names the pods that need a restart and that meshkeeper does not restart: ownerless
	// those among them that belong to no workload meshkeeper restarts (bare pods, Jobs, CronJobs); the
	// others belong to a workload that a change of its pod template does not roll out, held (by key,
	// with why), or to one whose pods meshkeeper's last restart created still need one, stuck (by key,
	// with why; stuckPods of them).
	notRestartable, ownerless []string
	held, stuck               map[string]string
	stuckPods                 int
	// undone are the workloads whose restart by meshkeeper their owner took back (by key, with what that
	// restart was), undonePods the pods of them that need a restart.
	undone     map[string]string
	undonePods int
	// ownerlessOf is, of each entry of ownerless, the key of what controls its pod ("Job <ns>/<name>";
	// "Pod <ns>/<name>" for a pod of no owner, its own).
	ownerlessOf map[string]string
	// rollback is the canary rollback that holds (nil when none), canaryNamespaces the namespaces it
	// sent back.
	rollback         *meshv1alpha1.CanaryRollbackStatus
	canaryNamespaces []string
	// canarySince is, for each canary namespace the canary revision serves, since when: the time of
	// meshkeeper's apply of its injection label. Only a restart since then was onto the canary.
	canarySince map[string]time.Time
	// rolledBackSince is canarySince as it was when this process rolled back the canary that rollback
	// names; nil when unknown (another process decided it, or this one restarted since).
	rolledBackSince map[string]time.Time
	// reportedRollback is the rollback this process decided, for the status pass.
	reportedRollback *meshv1alpha1.CanaryRollbackStatus
	// recordedStalls are the stalled restarts the status records (status.proxies.stalledRestarts): the
	// restarted-at time of each, by key. They carry a stall across a restart of meshkeeper or a change of
	// leader, whose memory (Reconciler.rolling) starts empty.
	recordedStalls map[string]time.Time
	// ingressController is the ingress-nginx controller workload when its namespace is not enrolled and
	// the integration is on; nil otherwise. Its pods are judged, and its rollouts followed, as those of
	// an enrolled namespace.
	ingressController *meshv1alpha1.WorkloadReference
	// holdsBack says why none of the pending workloads was restarted while none of meshkeeper's restarts
	// rolls out (Status.Waiting); "" otherwise.
	holdsBack string
	// ownersLag is how long until the first pod this pass left alone because the workload cache does not
	// show its owner yet (ownerMayLag) would be reported as not restartable; 0 when none.
	ownersLag time.Duration
}

// cacheLag is how long after a pod's creation the workload cache may not show its owner yet, beyond
// maxClockSkew: the pod cache and the workload cache are fed by watches of their own, and the pod of a
// new ReplicaSet, or of a workload created again under its name, may come first.
const cacheLag = time.Minute

// ownerMayLag is how long a pod whose owner the workload cache does not show (owner's unknown) is left
// alone before it is reported as not restartable: until cacheLag, and maxClockSkew for the API server's
// clock that stamped its creation, have passed since it was created; 0 once they have. A pod of an owner
// gone for good (orphaned), or that names one that never was, is reported then.
func (p *pass) ownerMayLag(pod *policy.ProxyPod) time.Duration {
	return max(pod.CreationTimestamp.Add(cacheLag+maxClockSkew).Sub(p.now), 0)
}

// candidate is a workload with pods that need a restart.
type candidate struct {
	*workload
	// namespaceOptedOut, priority and ready: see observe.
	namespaceOptedOut bool
	priority          int
	ready             bool
	// notInstalled says why the control plane may not inject yet what the spec asks for
	// (controlPlaneHolds); "" when it does.
	notInstalled string
	// notAvailable says where to find why istiod is not available (istiodNotAvailable); "" when
	// ControlPlaneReady does not say it is not.
	notAvailable string
	// incoming is the revision, not ready yet, that takes its namespace over once it is (see incoming);
	// "" when none does.
	incoming string
	// superseded: its last restart was onto a canary revision since rolled back (restartedOntoCanary),
	// and pods of it run that revision.
	superseded bool
	// onCanary: a pod of it runs the canary revision rolled back.
	onCanary bool
	// newest and oldest are the creation times of the newest and the oldest of its pods that need a
	// restart; sample is the newest of them, and pods names them all.
	newest, oldest time.Time
	sample         *policy.ProxyPod
	pods           []string
	// older: one of those pods carries another restarted-at value than the workload's pod template, or
	// none: it predates the workload's last restart (pods take their template's annotations).
	older bool
	// target is what its pods are judged against.
	target target
}

// target is what the pods of a namespace are judged against: the revision and Istio version that serve
// it, the tag of the sidecar image the injector gives ("" for the version's), the data-plane mode
// (whether the injector adds istio-validation for a CNI agent, policy.InjectsForCNI), since when its
// mesh config holds, and since when meshkeeper's labels of the namespace hold (its enrollment, which a
// namespace left out of the mesh and enrolled again gets anew).
type target struct {
	revision, version, proxyTag     string
	cni                             bool
	meshConfigSince, namespaceSince time.Time
}

func (t target) equal(o target) bool {
	return t.revision == o.revision && t.version == o.version && t.proxyTag == o.proxyTag && t.cni == o.cni &&
		t.meshConfigSince.Equal(o.meshConfigSince) && t.namespaceSince.Equal(o.namespaceSince)
}

// digest identifies the target in meshkeeper's restarted-for annotation: a restart of the manager
// reads there what a restart was for.
func (t target) digest() string {
	stamp := func(at time.Time) string {
		if at.IsZero() {
			return ""
		}
		return at.UTC().Format(time.RFC3339Nano)
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%t\x00%s\x00%s",
		t.revision, t.version, t.proxyTag, t.cni, stamp(t.meshConfigSince), stamp(t.namespaceSince)))
	return hex.EncodeToString(h[:8])
}

// restartTarget is a restart meshkeeper applied: to the workload of a UID, at a restarted-at value, for
// pods judged against a target.
type restartTarget struct {
	uid    types.UID
	at     time.Time
	target target
}

// maxStalledRestarts is how many stalled restarts the status records (status.proxies.stalledRestarts).
const maxStalledRestarts = 10

func (p *pass) status() Status {
	s := Status{Restarting: int32(len(p.rolling)), NotRestartable: int32(len(p.notRestartable)), Pending: len(p.pending) + len(p.coolingOffs),
		Waiting: p.holdsBack, CanaryRollback: p.reportedRollback}
	if len(p.stalled) > 0 {
		stalled := slices.SortedFunc(slices.Values(p.stalled), func(a, b *workload) int { return cmp.Compare(a.key(), b.key()) })
		for _, w := range stalled[:min(len(stalled), maxStalledRestarts)] {
			s.StalledRestarts = append(s.StalledRestarts, meshv1alpha1.StalledRestart{Workload: w.key(),
				RestartedAt: metav1.NewTime(w.restartedAt.UTC())})
		}
		w := stalled[0]
		s.Stalled = fmt.Sprintf("%s restarted at %s made no progress for %s; meshkeeper starts no further restart "+
			"until it rolls out (fix the workload, or roll it back yourself)", w.key(), w.restartedAt.Format(time.RFC3339), w.deadline)
	}
	return s
}

// observe reads the pods, namespaces and workloads of one pass.
func (r *Reconciler) observe(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (*pass, error) {
	p := &pass{now: r.now(), held: map[string]string{}, stuck: map[string]string{}, undone: map[string]string{},
		recordedStalls: recordedStalls(mesh)}
	if p.rollback = meshctx.RecordedRollback(mesh); p.rollback != nil && mesh.Spec.UpdateStrategy.Canary != nil {
		p.canaryNamespaces = mesh.Spec.UpdateStrategy.Canary.Namespaces
		p.rolledBackSince = r.rolledBackSince(p.rollback)
	}
	r.mu.Lock()
	p.reportedRollback = r.rollback
	r.mu.Unlock()
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil || enrollment == nil {
		return p, nil // InvalidSpec is the status pass's to report
	}
	namespaces := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, namespaces); err != nil {
		return nil, fmt.Errorf("listing namespaces: %w", err)
	}
	enrolled := map[string]*corev1.Namespace{}
	// controller is the ingress-nginx controller workload, whose pods get their sidecar from their pod
	// template: in a namespace that is not enrolled (controllerNS), they are judged too (see
	// controllerPod). nil when the integration is off or the namespace is enrolled.
	controller := meshctx.IngressController(mesh)
	var controllerNS *corev1.Namespace
	for i := range namespaces.Items {
		ns := &namespaces.Items[i]
		key, value := enrollment.LabelFor(ns.Name)
		if enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Enroll && ns.Labels[key] == value {
			enrolled[ns.Name] = ns
		}
		if controller != nil && ns.Name == controller.Namespace {
			controllerNS = ns
		}
	}
	if controller != nil && (enrolled[controller.Namespace] != nil || controllerNS == nil) {
		controller = nil
	}
	p.ingressController = controller
	if canary := meshctx.CanaryRevision(mesh); canary != "" {
		p.canarySince = map[string]time.Time{}
		for _, name := range mesh.Spec.UpdateStrategy.Canary.Namespaces {
			if ns, ok := enrolled[name]; ok {
				p.canarySince[name] = canarySince(ns, canary)
			}
		}
	}
	pods, err := meshctx.PodsOr(r.Pods, r.Client).ListPods(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	configs := meshctx.NewMeshConfigs(r.Client, r.Policy, mesh)
	tags := meshctx.NewProxyTags(mesh)
	cni := meshctx.InjectsForCNI(mesh)
	// The pods are judged against the spec's values, which istiod injects only once the control plane is
	// installed for them.
	notInstalled, notAvailable := controlPlaneHolds(mesh), istiodNotAvailable(mesh)
	byKey := map[string]*candidate{}
	for _, pod := range pods {
		ns, ok := enrolled[pod.Namespace]
		// servedAs is the namespace whose serving revision the pod is judged against: the ingress-nginx
		// controller's pods outside the enrolled namespaces are injected by the default injector, as the
		// pods of an enrolled namespace that is no canary namespace are.
		servedAs := pod.Namespace
		if !ok {
			if !meshctx.MayBeControllerPod(controller, pod) {
				continue
			}
			ns, servedAs = controllerNS, ""
		}
		version, rev, ready, meshConfig := serving(mesh, servedAs)
		since, err := configs.Since(ctx, meshConfig)
		if err != nil {
			return nil, err
		}
		want := target{revision: rev, version: version, proxyTag: tags.For(version), cni: cni, meshConfigSince: since.Time}
		if applied := apply.AppliedAt(ns); ok && applied != nil {
			want.namespaceSince = applied.Time
		}
		state := policy.Proxy(policy.ProxyInput{Pod: pod, Version: version, Revision: rev, ProxyTag: want.proxyTag, CNI: cni,
			MeshConfigSince: since})
		if state != policy.ProxyMissing && state != policy.ProxyOutdated {
			continue
		}
		w, unknown, err := r.owner(ctx, pod)
		if err != nil {
			return nil, err
		}
		if !ok && !controllerPod(controller, w) {
			// Not the controller's (another workload's pod of its namespace, or one whose owner the cache
			// does not show yet), or a template that no longer asks for a sidecar: not the mesh's to restart.
			continue
		}
		if w == nil && unknown {
			if left := p.ownerMayLag(pod); left > 0 {
				// A pod created moments ago whose owner the workload cache does not show yet: the pod cache
				// is ahead of it (a new ReplicaSet of a rollout, a workload created again under its name).
				// Its owner is likely one meshkeeper restarts; the pass after the cache caught up judges it.
				if p.ownersLag == 0 || left < p.ownersLag {
					p.ownersLag = left
				}
				continue
			}
		}
		if w == nil || w.held != "" {
			// An annotation would not roll a held workload out: it would only count as stalled once its
			// deadline passed, and stop every further restart.
			p.notRestartable = append(p.notRestartable, pod.Namespace+"/"+pod.Name)
			if w == nil {
				entry := pod.Namespace + "/" + pod.Name + " (" + podOwner(pod) + ")"
				p.ownerless = append(p.ownerless, entry)
				if p.ownerlessOf == nil {
					p.ownerlessOf = map[string]string{}
				}
				p.ownerlessOf[entry] = ownerlessKey(pod)
			} else {
				p.held[w.key()] = w.held
			}
			continue
		}
		c := byKey[w.key()]
		if c == nil {
			c = &candidate{workload: w, ready: ready, notInstalled: notInstalled, notAvailable: notAvailable, incoming: incoming(mesh, servedAs, rev), target: want,
				oldest:            pod.CreationTimestamp.Time,
				namespaceOptedOut: ns.Annotations[meshv1alpha1.RestartAnnotation] == meshv1alpha1.RestartNever,
				priority:          priority(mesh, w)}
			byKey[w.key()] = c
		}
		c.pods = append(c.pods, pod.Namespace+"/"+pod.Name)
		created := pod.CreationTimestamp.Time
		if c.sample == nil || created.After(c.newest) || created.Equal(c.newest) && pod.Name > c.sample.Name {
			c.newest, c.sample = created, pod
		}
		if created.Before(c.oldest) {
			c.oldest = created
		}
		if !pod.RestartedAt.Time.Equal(w.restartedAt) {
			c.older = true
		}
		if p.rollback != nil && policy.InjectedRevision(pod) == p.rollback.Revision {
			c.onCanary = true
		}
	}
	slices.Sort(p.ownerless)

	// The rollouts meshkeeper started: every workload carrying its annotation that is not rolled out.
	annotated, listed := sets.New[string](), sets.New[string]()
	for _, list := range []client.ObjectList{&appsv1.DeploymentList{}, &appsv1.StatefulSetList{}, &appsv1.DaemonSetList{}} {
		if err := r.Workloads.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing workloads: %w", err)
		}
		items, err := meta.ExtractList(list)
		if err != nil {
			return nil, err
		}
		for _, item := range items {
			w := asWorkload(item.(client.Object))
			if w == nil {
				continue
			}
			listed.Insert(w.key())
			r.track(p, w, enrolled)
			// After track: a workload the cache shows from before meshkeeper's last apply to it carries that
			// apply's time by then (lagging), and what its restart was for is kept.
			if !w.restartedAt.IsZero() {
				annotated.Insert(w.key())
			}
		}
	}
	r.forgetCompleted(annotated)
	r.forgetGone(listed)
	// A workload whose rollout onto the canary revision the rollback cut short is restarted again once
	// its namespace is back on the active revision, rolled out or not: its pods of the canary revision
	// are outdated then. One restarted earlier, onto the active revision, is not: it runs no such pod,
	// and its rollouts since are its owner's.
	for _, c := range byKey {
		c.superseded = c.onCanary && p.restartedOntoCanary(c.workload)
		if why := r.heldAfterUndo(c); why != "" {
			// Its owner took back a restart onto what its pods are still judged against: another would undo
			// what the owner did, or, after a stall, stall again and stop every restart again.
			p.notRestartable = append(p.notRestartable, c.pods...)
			p.undone[c.key()], p.undonePods = why, p.undonePods+len(c.pods)
			continue
		}
		if r.futile(c) {
			// Another restart would give its pods the sidecar the last one gave them.
			p.notRestartable = append(p.notRestartable, c.pods...)
			p.stuck[c.key()], p.stuckPods = c.stuck(), p.stuckPods+len(c.pods)
			continue
		}
		p.candidates = append(p.candidates, c)
	}
	slices.Sort(p.notRestartable)
	slices.SortFunc(p.candidates, func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.obj.GetNamespace(), b.obj.GetNamespace()),
			cmp.Compare(a.kind, b.kind), cmp.Compare(a.obj.GetName(), b.obj.GetName()))
	})
	return p, nil
}

// stallsWhileManual is what the restarts report while they are Manual: the stalled restarts that still
// hold, those this process saw stall and those the status records, of workloads that carry that very
// restart, are not held by their owner, and have not rolled out since. The status keeps them
// (status.proxies.stalledRestarts), so that a manager that takes over meanwhile (a restart of
// meshkeeper, another replica) holds the restarts as this one does once they are Automatic again
// (stallKnown). Nothing of what this process remembers changes: the first pass while Automatic judges
// the workloads again (takenBack, classifyRollout).
func (r *Reconciler) stallsWhileManual(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (Status, error) {
	p := &pass{now: r.now(), recordedStalls: recordedStalls(mesh)}
	r.mu.Lock()
	seen := maps.Clone(r.stalls)
	r.mu.Unlock()
	keys := sets.KeySet(seen).Union(sets.KeySet(p.recordedStalls))
	for _, key := range sets.List(keys) {
		kind, name, _ := strings.Cut(key, " ")
		namespace, name, _ := strings.Cut(name, "/")
		obj := newWorkloadObject(kind)
		if obj == nil {
			continue
		}
		if err := r.Workloads.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			return Status{}, fmt.Errorf("reading %s: %w", key, err)
		}
		w := asWorkload(obj)
		stall, ok := seen[key]
		held := ok && stall.uid == obj.GetUID() && !w.restartedAt.IsZero() && stall.at.Equal(w.restartedAt) || p.stallRecorded(w)
		if held && w.held == "" && !w.rolledOut && !w.completed {
			p.stalled = append(p.stalled, w)
		}
	}
	status := p.status()
	return Status{Stalled: status.Stalled, StalledRestarts: status.StalledRestarts}, nil
}

// recordedStalls reads status.proxies.stalledRestarts: the restarted-at time of each, by key.
func recordedStalls(mesh *meshv1alpha1.ServiceMesh) map[string]time.Time {
	if len(mesh.Status.Proxies.StalledRestarts) == 0 {
		return nil
	}
	stalls := make(map[string]time.Time, len(mesh.Status.Proxies.StalledRestarts))
	for _, s := range mesh.Status.Proxies.StalledRestarts {
		stalls[s.Workload] = s.RestartedAt.Time
	}
	return stalls
}

// stallRecorded tells whether the status records the workload's current restart as stalled. A workload
// created after that restart is another of the name (deleted and created again, its pod template copied
// with meshkeeper's annotation: kubectl replace --force, a restore from a backup), whose rollout is its
// owner's (see takenBack).
func (p *pass) stallRecorded(w *workload) bool {
	at, ok := p.recordedStalls[w.key()]
	return ok && !w.restartedAt.IsZero() && at.Equal(w.restartedAt) && !w.createdAfter(at)
}

// createdAfter tells whether the workload was created after a restart at at, allowing maxClockSkew (its
// creation is the API server's clock, a restart's time the manager's): it is not the workload restarted
// then, but another of its name (deleted and created again, its pod template copied with meshkeeper's
// annotation: kubectl replace --force, a restore from a backup). meshkeeper's apply names the UID of
// the workload it restarts, and never creates one.
func (w *workload) createdAfter(at time.Time) bool {
	return w.obj.GetCreationTimestamp().After(at.Add(maxClockSkew))
}

// stalledRestart is a restart of the workload of a UID, at a restarted-at value, for the digest of a
// target ("" when unknown), that stalled.
type stalledRestart struct {
	uid    types.UID
	at     time.Time
	digest string
}

// undoneRestart is a restart of meshkeeper's that the workload's owner took back (takenBack), and
// whether it had stalled or rolled out by then.
type undoneRestart struct {
	stalledRestart
	stalled, rolledOut bool
}

// takenBack notes, of a workload of the cache, that its owner took back meshkeeper's last restart of it:
// the workload carries no restart, or an earlier one (kubectl rollout undo brings back the previous pod
// template, annotations included; a controller or a GitOps tool may write the template back without
// meshkeeper's annotations), than the restart this process applied (targets), or than a restart that
// stalled (one this process saw stall, or one the status records as stalled). Such a workload is not
// restarted again onto the same target (heldAfterUndo): the restart would undo what its owner did, and
// one that stalled would stall again. The rollout of the template brought back is its owner's, whatever
// restart that template names: this process no longer follows the workload, whose rollout then neither
// counts as meshkeeper's restart rolled out (a Restarted Event) nor stalls the restarts. A workload that
// carries a later restart, or another workload of the name, drops what was noted. It tells whether the
// workload's restart is taken back. It runs after lagging, which gives a workload the cache shows from
// before meshkeeper's last apply to it that apply's time: such a workload took nothing back.
func (r *Reconciler) takenBack(p *pass, w *workload) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key, uid := w.key(), w.obj.GetUID()
	if u, ok := r.undone[key]; ok && (u.uid != uid || w.restartedAt.After(u.at)) {
		delete(r.undone, key)
	}
	stall, stalled := r.stalls[key]
	if stalled && stall.uid != uid {
		delete(r.stalls, key)
		stalled = false
	}
	if !stalled {
		// A manager that takes over knows the stall from the status alone, and not what it was for.
		// A workload created after that restart is another of the name, whose stall the status still lists.
		at, recorded := p.recordedStalls[key]
		if recorded && !at.IsZero() && !w.obj.GetCreationTimestamp().After(at.Add(maxClockSkew)) {
			stall, stalled = stalledRestart{uid: uid, at: at}, true
		}
	}
	switch {
	case !stalled:
	case w.restartedAt.After(stall.at):
		delete(r.stalls, key)
	case w.restartedAt.Before(stall.at):
		delete(r.stalls, key)
		r.undo(key, undoneRestart{stalledRestart: stall, stalled: true})
	}
	if applied, ok := r.targets[key]; ok && applied.uid == uid && w.restartedAt.Before(applied.at) {
		// A restart this process applied, taken back before it stalled, or after it rolled out: the
		// noted stall of that restart, if any, says more.
		if u, ok := r.undone[key]; !ok || !u.at.Equal(applied.at) {
			r.undo(key, undoneRestart{stalledRestart: stalledRestart{uid: uid, at: applied.at, digest: applied.target.digest()},
				rolledOut: r.completed[key].Equal(applied.at)})
		}
		delete(r.targets, key)
	}
	u, ok := r.undone[key]
	if !ok || u.uid != uid || !w.restartedAt.Before(u.at) {
		return false
	}
	delete(r.rolling, key)
	delete(r.progress, key)
	return true
}

// undo notes that the owner of the workload of key took back restart. It runs under r.mu.
func (r *Reconciler) undo(key string, restart undoneRestart) {
	if r.undone == nil {
		r.undone = map[string]undoneRestart{}
	}
	r.undone[key] = restart
}

// heldAfterUndo says why a candidate whose restart its owner took back (takenBack) is not restarted
// again, or "" when it may be: what its pods are judged against changed since that restart (an upgrade,
// a canary, a new mesh config, the namespace enrolled again), or its restart onto a canary rolled back
// is superseded. A restart whose target is unknown (the stall was known from the status alone) is taken
// to have been for the current one.
func (r *Reconciler) heldAfterUndo(c *candidate) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := c.key()
	u, ok := r.undone[key]
	if !ok || u.uid != c.obj.GetUID() || c.superseded {
		return ""
	}
	digest := c.target.digest()
	if u.digest == "" {
		u.digest = digest
		r.undone[key] = u
	}
	if u.digest != digest {
		delete(r.undone, key)
		return ""
	}
	restart := fmt.Sprintf("restarted at %s onto revision %s", u.at.UTC().Format(time.RFC3339), c.target.revision)
	switch {
	case u.stalled:
		return restart + ", which stalled and was taken back by its owner"
	case u.rolledOut:
		return restart + ", which rolled out and was taken back by its owner since"
	}
	return restart + " and taken back by its owner before it rolled out"
}

// writtenRestart is a restarted-at value meshkeeper applied to the workload of a UID, and the
// generation that apply gave the workload (0 when unknown).
type writtenRestart struct {
	uid        types.UID
	at         time.Time
	generation int64
}

// remember records the restarted-at value just applied to a workload, until the cache shows it.
func (r *Reconciler) remember(w *workload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[string]writtenRestart{}
	}
	r.written[w.key()] = writtenRestart{uid: w.obj.GetUID(), at: w.restartedAt, generation: w.appliedGeneration}
}

// rememberTarget records the restart just applied to a candidate and what its pods were judged against.
func (r *Reconciler) rememberTarget(c *candidate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.targets == nil {
		r.targets = map[string]restartTarget{}
	}
	r.targets[c.key()] = restartTarget{uid: c.obj.GetUID(), at: c.restartedAt, target: c.target}
}

// futile tells whether the candidate's last restart, which this process applied, rolled out, and every
// pod of it that needs a restart was created since, while what its pods are judged against has not
// changed: another restart would give them the same sidecar (their pod template pins the proxy image or
// the revision, say). A change of the mesh (its version, revision, proxy image, data-plane mode or mesh
// config) or of the namespace's enrollment makes it a candidate again. A restart this process did not
// apply (before a restart of meshkeeper, or by another replica) is judged by the digest of its target
// that it recorded in the restarted-for annotation; one that recorded none (by an earlier meshkeeper) is
// restarted once more, and then held.
func (r *Reconciler) futile(c *candidate) bool {
	if c.superseded || c.optedOut() || c.namespaceOptedOut || c.restartedAt.IsZero() || c.predatesRestart() || c.older ||
		c.sample == nil && c.oldest.Before(c.restartedAt.Add(-maxClockSkew)) {
		// A pod from before the restart, which its rollout did not replace: told by the restarted-at value
		// it took from its pod template (see predatesRestart), not by its creation time, which is the API
		// server's clock where the restart's time is the manager's; without the pods, by the times,
		// allowing maxClockSkew.
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	key := c.key()
	if !r.completed[key].Equal(c.restartedAt) {
		return false
	}
	if applied, ok := r.targets[key]; ok && applied.uid == c.obj.GetUID() && applied.at.Equal(c.restartedAt) {
		return applied.target.equal(c.target)
	}
	return c.restartedFor != "" && c.restartedFor == c.target.digest()
}

// stuck says what keeps the pods that meshkeeper's restart of a futile candidate created from the
// current sidecar, as its newest such pod shows.
func (c *candidate) stuck() string {
	pod, want := c.sample, cmp.Or(c.target.proxyTag, c.target.version)
	switch version := policy.ImageVersion(pod.ProxyImage); {
	case !pod.HasProxy && !pod.Injected:
		return "its new pods have no sidecar"
	case pod.Injected && pod.InjectedRevision != "" && pod.InjectedRevision != c.target.revision:
		return fmt.Sprintf("its new pods are injected by revision %s, not %s", pod.InjectedRevision, c.target.revision)
	case pod.HasProxy && version != "" && version != policy.ImageVersion(":"+want):
		return fmt.Sprintf("its new pods run %s, not the tag %s", pod.ProxyImage, want)
	case pod.InjectedForCNI && !c.target.cni:
		return "its new pods carry " + policy.ValidationContainer + ", injected for a CNI agent the mesh no longer runs"
	}
	return "its new pods still need a restart"
}

// lagging tells whether the cache shows a workload older than meshkeeper's last apply to it; then the
// workload is rolling out as far as the restarts are concerned, from the time meshkeeper wrote (its
// cached status, of the generation before, says nothing about the rollout). Once the cache shows the
// apply, or the workload was replaced by another of the same name, the record is dropped. The cache
// shows the apply once it shows its restarted-at value or a later one, or the generation the apply
// gave the workload or a later one: the owner may have taken the restart back (kubectl rollout undo,
// a controller that writes the pod template back) before a pass saw it, and the workload carries an
// earlier restarted-at value, or none, for good.
func (r *Reconciler) lagging(w *workload) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := w.key()
	written, ok := r.written[key]
	if !ok {
		return false
	}
	if written.uid != w.obj.GetUID() || !w.restartedAt.Before(written.at) ||
		written.generation != 0 && w.obj.GetGeneration() >= written.generation {
		delete(r.written, key)
		return false
	}
	w.restartedAt, w.rolledOut, w.completed = written.at, false, false
	return true
}

// track follows one workload of the cache in a pass: rolling out when the cache has not caught up
// with meshkeeper's last apply to it, else as its annotation and status say.
func (r *Reconciler) track(p *pass, w *workload, enrolled map[string]*corev1.Namespace) {
	lagging := r.lagging(w)
	// After lagging (see takenBack), and for every workload: a stall its owner took back is noted outside
	// the enrolled namespaces too.
	taken := r.takenBack(p, w)
	if lagging {
		p.rolling = append(p.rolling, w)
		return
	}
	if taken {
		// The template its owner brought back rolls out by the owner's doing, not meshkeeper's.
		return
	}
	// The annotation is a claim anyone who may edit the workload can make: only a workload of an enrolled
	// namespace, the ingress-nginx controller given its sidecar, one this process restarted, or one whose
	// stall the status records (status.proxies.stalledRestarts, which only meshkeeper writes) or this
	// process saw, is followed, and never with a time yet to come (which would count it as rolling out
	// for ever). A claim otherwise holds back no restart of anyone else's.
	if _, ok := enrolled[w.obj.GetNamespace()]; !ok && !r.restarted(p, w) && !controllerPod(p.ingressController, w) {
		return
	}
	if p.aheadOfTime(w) {
		return
	}
	if w.held != "" {
		// Its rollout waits for its owner (a paused Deployment, pods updated only on delete or above a
		// partition), whoever changed its pod template: it is neither rolling out nor stalled for the
		// restarts, which never restart it. Nor does it make progress while held, by no fault of its own:
		// once released, its no-progress clock starts again (progressed), rather than run from before it
		// was held and count it as stalled before its controller even acted on the release.
		r.mu.Lock()
		delete(r.progress, w.key())
		r.mu.Unlock()
		return
	}
	if !w.restartedAt.IsZero() {
		r.classifyRollout(p, w)
	}
}

// aheadOfTime tells whether w's restart annotation holds a time further ahead of meshkeeper's clock
// than maxClockSkew: that is nobody's restart (a value written by hand, a pod template copied from a
// workload of a cluster whose clock is wrong), and holds the workload neither as rolling out nor as
// cooling off, which would keep it from every restart until that time, however far ahead.
func (p *pass) aheadOfTime(w *workload) bool {
	return w.restartedAt.After(p.now.Add(maxClockSkew))
}

// maxClockSkew is how far ahead of meshkeeper's clock a restart's time may be and still be meshkeeper's
// (another replica of the manager wrote it).
const maxClockSkew = time.Minute

// restarted tells whether this process follows the workload's rollout after a restart of its own, or
// its current restart is known to have stalled (stallKnown).
func (r *Reconciler) restarted(p *pass, w *workload) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.follows(w) || r.stallKnown(p, w)
}

// stallKnown tells whether the workload's current restart is known to have stalled: the status records
// it (stallRecorded), or this process saw it stall, also before the restarts were last set to Manual.
// Such a restart stays stalled until the workload rolls out. It runs under r.mu.
func (r *Reconciler) stallKnown(p *pass, w *workload) bool {
	if p.stallRecorded(w) {
		return true
	}
	stall, ok := r.stalls[w.key()]
	return ok && stall.uid == w.obj.GetUID() && !w.restartedAt.IsZero() && stall.at.Equal(w.restartedAt)
}

// follows tells whether this process follows the rollout of w, this very workload, after a restart. It
// runs under r.mu.
func (r *Reconciler) follows(w *workload) bool {
	uid, ok := r.rolling[w.key()]
	return ok && uid == w.obj.GetUID()
}

// followRollout records that this process follows the rollout of w after a restart. It runs under r.mu.
func (r *Reconciler) followRollout(w *workload) {
	if r.rolling == nil {
		r.rolling = map[string]types.UID{}
	}
	r.rolling[w.key()] = w.obj.GetUID()
}

// classifyRollout decides whether a workload carrying meshkeeper's annotation is rolling out because
// of it, and whether it stalled: made no progress for its deadline (see progressed). Once this process
// saw the restart roll out, the workload's later rollouts are not meshkeeper's; so too once the
// Deployment controller says the rollout of the template completed (completed), which it says through a
// later scale-up. After a restart of meshkeeper the state comes from the object and the status: a
// restart the status records as stalled
// (status.proxies.stalledRestarts, the same restarted-at time) stays stalled until the workload rolls
// out, however long ago it was made; otherwise a rollout that is not complete within twice the deadline
// of the annotation's time is meshkeeper's, and one seen later cannot be told from its owner's own
// change.
func (r *Reconciler) classifyRollout(p *pass, w *workload) {
	r.mu.Lock()
	defer r.mu.Unlock()
	key := w.key()
	if _, ok := r.rolling[key]; ok && !r.follows(w) {
		// The workload this process followed is gone, and another took its name: what was followed of
		// the rollout, and its stall reported, was the old one's.
		delete(r.rolling, key)
		delete(r.progress, key)
		r.reported.Forget(key)
	}
	elapsed, rolledOut := p.now.Sub(w.restartedAt), w.rolledOut || w.completed
	if !rolledOut && w.updatedEverywhere && !r.follows(w) && !r.stallKnown(p, w) {
		// A DaemonSet restart this process did not follow (it took over), with a pod of the current template
		// on every node: the DaemonSet controller has nothing left to roll, and what is not ready is the
		// nodes' doing (one gone NotReady since). This process judges it done rather than follow it until
		// the node is back, holding the namespace's budget and, after its deadline, stalling every restart.
		// One it follows must become ready and available, and one the status records as stalled stays so,
		// until it rolls out.
		rolledOut = true
	}
	switch {
	case !rolledOut && p.restartedOntoCanary(w):
		// Restarted onto the canary revision before the rollback: the rollback resolved its rollout,
		// stalled or not; it is restarted again onto the active revision if pods of it run the canary's.
		delete(r.rolling, key)
		delete(r.progress, key)
		delete(r.stalls, key)
		r.reported.Forget(key)
	case rolledOut:
		delete(r.progress, key)
		delete(r.stalls, key)
		if r.completed == nil {
			r.completed = map[string]time.Time{}
		}
		r.completed[key] = w.restartedAt
		if r.follows(w) {
			delete(r.rolling, key)
			r.reported.Forget(key)
			metrics.RestartsTotal.WithLabelValues("succeeded").Inc()
			r.Recorder.Eventf(w.obj, nil, corev1.EventTypeNormal, meshv1alpha1.ReasonRestarted, "Restart",
				"%s rolled out with its new sidecar after meshkeeper restarted it", key)
		}
	case r.completed[key].Equal(w.restartedAt):
		// This restart rolled out already: a rollout since, within its deadline or not, is the owner's or
		// the cluster's (an autoscaler's new replica waiting for a node), and neither holds the budget nor
		// counts as stalled (which would stop every restart, or roll a canary back).
		delete(r.rolling, key)
		delete(r.progress, key)
	case r.follows(w) || elapsed <= 2*w.coolOff() && !w.createdAfter(w.restartedAt) || r.stallKnown(p, w):
		// meshkeeper's: this process follows its rollout, or it is recent enough to be meshkeeper's (and
		// not of a workload created since, its pod template copied with the annotation), or it is known
		// to have stalled (the status records it, by a process before a restart of meshkeeper or another
		// replica; or this process saw it stall, before the restarts were set to Manual and back), which
		// it stays until it rolls out.
		r.followRollout(w)
		p.rolling = append(p.rolling, w)
		if stalled := r.stallKnown(p, w); !r.progressed(p, w) || stalled {
			p.stalled = append(p.stalled, w)
			if r.stalls == nil {
				r.stalls = map[string]stalledRestart{}
			}
			r.stalls[key] = stalledRestart{uid: w.obj.GetUID(), at: w.restartedAt, digest: w.restartedFor}
		}
	}
}

// rolloutProgress is what a workload's rollout after the restart of a restarted-at time showed: the
// stage of its rollout (rolloutCounts), the fewest pods it missed in that stage (missing; counted is
// false until counts of the stage were read), and since when it made no progress.
// known is false for a restart this process just applied, whose counts it has not seen yet.
type rolloutProgress struct {
	at      time.Time
	counts  rolloutCounts
	fewest  missing
	counted bool
	known   bool
	since   time.Time
}

// startProgress starts the no-progress clock of a workload at the restart this process just applied
// to it.
func (r *Reconciler) startProgress(w *workload) {
	if _, ok := countsOf(w.obj); !ok {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.progress == nil {
		r.progress = map[string]rolloutProgress{}
	}
	r.progress[w.key()] = rolloutProgress{at: w.restartedAt, since: w.restartedAt}
}

// progressed tells whether a rollout meshkeeper follows made progress within its deadline, and sets
// w.progressSince. progressDeadlineSeconds is, as Kubernetes means it, how long a rollout may go
// without progress, not how long it may take: a long rollout that keeps moving (a StatefulSet of many
// pods updated one by one, a DaemonSet on many nodes) is not stalled.
//   - A workload stalled once its rollout made no progress for its deadline: it missed no fewer updated,
//     ready or available pods than the fewest it missed (missing: the pods to run less those counted),
//     and the stage (the revisions, the observed generation) stayed the same. A count that falls is no
//     progress, nor one that rises back to where it was: a pod that crashes and turns ready again and
//     again would otherwise keep a rollout that never completes from ever counting as stalled. Nor is a
//     change of the pods to run: an autoscaler that scales a workload every few minutes, its new pods
//     counted as they come, would otherwise keep a rollout that never moves from ever counting as
//     stalled, and a canary from being rolled back. The clock starts at the restart when this process
//     applied it, else at the first pass that sees the rollout (after a restart of meshkeeper): a stall
//     is reported later, never earlier.
//   - A Deployment the Deployment controller judges (a Progressing condition) stalled besides when it
//     says so: Progressing False with reason ProgressDeadlineExceeded, for its current generation. It
//     counts a scale of the rollout's ReplicaSets as progress (their pods added or taken away): a
//     Deployment that an autoscaler scales every few minutes never gets that verdict, however long its
//     rollout does not move.
//   - A Deployment without that condition (no Deployment controller judged it) stalled once its deadline
//     passed since the restart.
//
// It runs under r.mu.
func (r *Reconciler) progressed(p *pass, w *workload) bool {
	key := w.key()
	counts, ok := countsOf(w.obj)
	d, deployment := w.obj.(*appsv1.Deployment)
	if !ok || deployment && progressing(d) == nil {
		w.progressSince = w.restartedAt
		return p.now.Sub(w.restartedAt) <= w.deadline
	}
	if r.progress == nil {
		r.progress = map[string]rolloutProgress{}
	}
	last, ok := r.progress[key]
	switch {
	case !ok || !last.at.Equal(w.restartedAt):
		// Found rolling out (after a restart of meshkeeper, or restarted by another replica): its progress
		// before is unknown.
		last = rolloutProgress{at: w.restartedAt, counts: counts, known: true, since: later(p.now, w.restartedAt)}
	case !last.known:
		last.counts, last.known = counts, true
	case !last.counts.sameStage(counts):
		last.counts, last.counted, last.since = counts, false, later(p.now, last.since)
	}
	if m, ok := counts.missing(); ok {
		switch {
		case !last.counted:
			last.fewest, last.counted = m, true
		case last.fewest.fell(m):
			last.fewest, last.since = last.fewest.fewest(m), later(p.now, last.since)
		}
	}
	r.progress[key] = last
	w.progressSince = last.since
	if deployment && meshctx.ProgressDeadlinePassed(d) {
		return false
	}
	return p.now.Sub(last.since) <= w.deadline
}

// later is the later of two times.
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// forgetGone drops what this process follows of workloads the cache no longer lists (listed): deleted,
// often with their namespace (CI namespaces come and go). The passes over the cache drop it only for
// workloads they see, and a workload of the same name created later would otherwise count as rolling
// out by meshkeeper's doing, and its stall would not be reported.
func (r *Reconciler) forgetGone(listed sets.Set[string]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	gone := func(key string) bool { return !listed.Has(key) }
	maps.DeleteFunc(r.rolling, func(key string, _ types.UID) bool { return gone(key) })
	maps.DeleteFunc(r.written, func(key string, _ writtenRestart) bool { return gone(key) })
	maps.DeleteFunc(r.stalls, func(key string, _ stalledRestart) bool { return gone(key) })
	maps.DeleteFunc(r.undone, func(key string, _ undoneRestart) bool { return gone(key) })
	r.failures.ForgetIf(gone)
	r.reported.ForgetIf(gone)
}

// forgetCompleted drops the completed and the applied restarts, and the rollout progress, of workloads
// that no longer carry meshkeeper's annotation (deleted, or restarted no more).
func (r *Reconciler) forgetCompleted(annotated sets.Set[string]) {
	r.mu.Lock()
	defer r.mu.Unlock()
	maps.DeleteFunc(r.completed, func(key string, _ time.Time) bool { return !annotated.Has(key) })
	maps.DeleteFunc(r.targets, func(key string, _ restartTarget) bool { return !annotated.Has(key) })
	maps.DeleteFunc(r.progress, func(key string, _ rolloutProgress) bool { return !annotated.Has(key) })
}

// holdRollback keeps the canary rollback this process decided in force, on its copy of the
// ServiceMesh, until the status records it; it forgets it once the status records one or the spec
// changed.
func (r *Reconciler) holdRollback(mesh *meshv1alpha1.ServiceMesh) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rollback == nil {
		return
	}
	if meshctx.RecordedRollback(mesh) != nil || meshctx.CanaryRollback(mesh, r.rollback) == nil {
		r.rollback = nil
		return
	}
	mesh.Status.CanaryRollback = r.rollback
}

// rollBack rolls the canary back when a workload of a canary namespace that meshkeeper restarted
// stalled while the canary revision served it, and rollbackOnFailure allows: from then on the canary
// namespaces are served by the active revision (CanaryRevision is ""), first on mesh, the pass's copy,
// then through the status. It tells whether it did.
func (r *Reconciler) rollBack(mesh *meshv1alpha1.ServiceMesh, p *pass) bool {
	canary := meshctx.CanaryRevision(mesh)
	if canary == "" || !mesh.Spec.DataPlane.Restarts.Rollback() {
		return false
	}
	namespaces := mesh.Spec.UpdateStrategy.Canary.Namespaces
	// A stall of a restart onto another revision (the active one, before the canary served the
	// namespace) is not the canary's: it stops the restarts as any stall does. What the restart was for
	// decides; only a restart that recorded nothing falls back to the times (restartedOnto).
	i := slices.IndexFunc(p.stalled, func(w *workload) bool {
		if !slices.Contains(namespaces, w.obj.GetNamespace()) {
			return false
		}
		if onto, known := restartedOnto(w, canary); known {
			return onto
		}
		since := p.canarySince[w.obj.GetNamespace()]
		return !since.IsZero() && !w.restartedAt.Before(since)
	})
	if i < 0 {
		return false
	}
	w := p.stalled[i]
	rb := &meshv1alpha1.CanaryRollbackStatus{Revision: canary, Workload: w.key(),
		Time: metav1.NewTime(p.now.UTC().Truncate(time.Second)), ObservedGeneration: mesh.Generation}
	r.mu.Lock()
	r.rollback = rb
	r.rolledBack = rolledBackCanary{revision: rb.Revision, at: rb.Time.Time, since: maps.Clone(p.canarySince)}
	r.mu.Unlock()
	mesh.Status.CanaryRollback = rb
	metrics.RestartsTotal.WithLabelValues("rolled_back").Inc()
	message := fmt.Sprintf("%s, restarted onto the canary revision %s at %s, made no progress for %s: meshkeeper rolled the "+
		"canary back, so the canary namespaces (%s) are served by the active revision %s again and their workloads are "+
		"restarted onto it; revision %s stays installed. Fix the workload, then change the ServiceMesh's spec to try it again",
		w.key(), canary, w.restartedAt.Format(time.RFC3339), w.deadline, strings.Join(namespaces, ", "), mesh.Status.ActiveRevision, canary)
	r.Recorder.Eventf(w.obj, mesh, corev1.EventTypeWarning, meshv1alpha1.ReasonCanaryRolledBack, "RollBack", "%s", message)
	r.Recorder.Eventf(mesh, w.obj, corev1.EventTypeWarning, meshv1alpha1.ReasonCanaryRolledBack, "RollBack", "%s", message)
	return true
}

// canarySince is since when the canary revision serves the namespace: the time of meshkeeper's apply
// that owns its istio.io/rev label naming that revision (the API server moves it when a value
// meshkeeper owns changes). Zero when the label is not meshkeeper's or names another revision. It is
// the API server's clock, to the second: it only tells a restart that recorded no revision
// (restartedOnto) from one onto the canary.
func canarySince(ns *corev1.Namespace, canary string) time.Time {
	if ns.Labels[policy.LabelIstioRevision] != canary || !apply.OwnedKeys(ns, "labels").Has(policy.LabelIstioRevision) {
		return time.Time{}
	}
	if applied := apply.AppliedAt(ns); applied != nil {
		return applied.Time
	}
	return time.Time{}
}

// restartedOnto tells whether a restart was onto the canary revision, as its pod template records the
// revision it was for; known is false when it records none (a restart by a meshkeeper that did not
// record it), and then only the times can tell.
func restartedOnto(w *workload, canary string) (onto, known bool) {
	return w.restartedOntoRecorded && w.restartedOnto == canary, w.restartedOntoRecorded
}

// restartedOntoCanary tells whether meshkeeper last restarted the workload, in a canary namespace,
// onto the canary revision that the rollback that holds sent back. Such a workload is restarted again
// onto the active revision without waiting for its rollout or its deadline.
// A restart that records its revision says so itself, whatever its time: one in the rollback's own
// second was still onto the canary, and one onto the active revision never was. For a restart that
// records none, the times decide: when this process rolled the canary back, it knows since when the
// canary served each namespace, and a restart from before then was onto the active revision: its
// rollout, stalled or not, is not the rollback's to resolve. Otherwise every restart before the
// rollback counts.
func (p *pass) restartedOntoCanary(w *workload) bool {
	ns := w.obj.GetNamespace()
	if p.rollback == nil || w.restartedAt.IsZero() || !slices.Contains(p.canaryNamespaces, ns) {
		return false
	}
	if onto, known := restartedOnto(w, p.rollback.Revision); known {
		return onto
	}
	if !w.restartedAt.Before(p.rollback.Time.Time) {
		return false
	}
	if p.rolledBackSince != nil {
		since := p.rolledBackSince[ns]
		return !since.IsZero() && !w.restartedAt.Before(since)
	}
	return true
}

// follow reports stalls once each, and each owner of pods meshkeeper does not restart once while it
// holds such pods.
func (r *Reconciler) follow(mesh *meshv1alpha1.ServiceMesh, p *pass) {
	for _, w := range p.stalled {
		// The note names the restart: the stall of another restart of the same key (a workload created
		// again under the name, or restarted again since) is news.
		if !r.reported.Changed(w.key(), "stalled at "+w.restartedAt.UTC().Format(time.RFC3339)) {
			continue
		}
		metrics.RestartsTotal.WithLabelValues("stalled").Inc()
		message := fmt.Sprintf("%s made no progress for %s after meshkeeper's restart at %s; meshkeeper starts no further restart until it rolls out",
			w.key(), w.deadline, w.restartedAt.Format(time.RFC3339))
		r.Recorder.Eventf(w.obj, mesh, corev1.EventTypeWarning, meshv1alpha1.ReasonRestartStalled, "Restart", "%s", message)
		r.Recorder.Eventf(mesh, w.obj, corev1.EventTypeWarning, meshv1alpha1.ReasonRestartStalled, "Restart", "%s", message)
	}
	// The NotRestartable Warning marks an owner new among those of the pods that need a restart and that
	// meshkeeper does not restart (a workload, a Job, a CronJob, a bare pod); its message says all that
	// holds then. Pods of an owner reported that finish or come and go (a Job's), and owners that leave
	// and come back within ownerMemory (the next run of a CronJob), are no news: a Warning on each change
	// of the pods would bury the ones that are.
	owners := sets.New(slices.Collect(maps.Values(p.ownerlessOf))...)
	owners.Insert(slices.Collect(maps.Keys(p.held))...)
	owners.Insert(slices.Collect(maps.Keys(p.stuck))...)
	owners.Insert(slices.Collect(maps.Keys(p.undone))...)
	r.mu.Lock()
	fresh := r.notRestartable.seen(owners, p.now)
	r.mu.Unlock()
	if fresh.Len() > 0 {
		// Each list, and the lists themselves, name the owners that are news first: the Warning is cut
		// at its length limit, and what made it news must not be crowded out by owners already
		// reported (a namespace owner chooses the names of their pods and of their owners).
		ownerless := newsFirst(slices.Clone(p.ownerless), func(entry string) string { return p.ownerlessOf[entry] }, fresh)
		// entries lists byKey's workloads, "<key> (<why>)", and says whether the first is news.
		entries := func(byKey map[string]string) ([]string, bool) {
			keys := newsFirst(slices.Collect(maps.Keys(byKey)), func(key string) string { return key }, fresh)
			out := make([]string, len(keys))
			for i, key := range keys {
				out[i] = key + " (" + byKey[key] + ")"
			}
			return out, len(keys) > 0 && fresh.Has(keys[0])
		}
		held, heldNews := entries(p.held)
		stuck, stuckNews := entries(p.stuck)
		undone, undoneNews := entries(p.undone)
		type part struct {
			text string
			news bool
		}
		var parts []part
		if len(ownerless) > 0 {
			parts = append(parts, part{news: fresh.Has(p.ownerlessOf[ownerless[0]]), text: fmt.Sprintf("%d belong to no Deployment, StatefulSet or DaemonSet (bare pods, Jobs, CronJobs, "+
				"the ReplicaSets of an Argo Rollout or of another controller), which their owners restart: %s",
				len(ownerless), names(ownerless))})
		}
		if len(held) > 0 {
			parts = append(parts, part{news: heldNews, text: fmt.Sprintf("%d belong to workloads that a change of their pod template does not roll out, or "+
				"that another controller owns, which their owners restart: %s", len(p.notRestartable)-len(p.ownerless)-p.stuckPods-p.undonePods,
				names(held))})
		}
		if len(undone) > 0 {
			parts = append(parts, part{news: undoneNews, text: fmt.Sprintf("%d belong to workloads whose restart by meshkeeper their owner took back "+
				"(rolled back with kubectl rollout undo, or a pod template written back without meshkeeper's annotations): %s; "+
				"another restart onto the same revision would undo what the owner did, or stall again, so meshkeeper restarts "+
				"them again only after the mesh changes (its version, revision, proxy image or mesh config) or the namespace is "+
				"enrolled again; to give them the current sidecar now, fix the workload if its restart stalled and restart it "+
				"yourself (kubectl rollout restart)", p.undonePods, names(undone))})
		}
		if len(stuck) > 0 {
			parts = append(parts, part{news: stuckNews, text: fmt.Sprintf("%d belong to workloads that meshkeeper restarted and whose new pods still do not get "+
				"the current sidecar, which another restart would not change (a pod template that pins the proxy image, with "+
				"sidecar.istio.io/proxyImage or an istio-proxy container of its own, or the revision, with istio.io/rev): %s; "+
				"fix the pod template, which rolls the workload out, or restart it yourself; meshkeeper restarts it again "+
				"only after the mesh changes (its version, revision, proxy image or mesh config) or the namespace is enrolled "+
				"again", p.stuckPods, names(stuck))})
		}
		slices.SortStableFunc(parts, func(a, b part) int { return cmp.Compare(rank(a.news), rank(b.news)) })
		texts := make([]string, len(parts))
		for i, part := range parts {
			texts[i] = part.text
		}
		r.Recorder.Eventf(mesh, nil, corev1.EventTypeWarning, meshv1alpha1.ReasonNotRestartable, "Restart",
			"%d pod(s) need a restart for their sidecar, but meshkeeper does not restart them: %s", len(p.notRestartable),
			strings.Join(texts, "; "))
	}
}

// restart starts the restarts the limits, the window and the state of the rollouts allow, and says when
// to look again.
func (r *Reconciler) restart(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, p *pass) (ctrl.Result, error) {
	spec := mesh.Spec.DataPlane.Restarts
	var requeue time.Duration
	for _, w := range p.rolling {
		// Look again when it will have made no progress for its deadline, as it stands. A change of a
		// workload's status (progress, or the Deployment controller's verdict) wakes the restarts anyway:
		// they watch the workload cache.
		if left := w.stallAt().Sub(p.now); left >= 0 && (requeue == 0 || left+time.Second < requeue) {
			requeue = left + time.Second
		}
	}
	if left := p.coolOffEnds(); left > 0 && (requeue == 0 || left+time.Second < requeue) {
		// Nothing else wakes the restarts when a candidate's cool-off ends.
		requeue = left + time.Second
	}
	if left := p.ownersLag; left > 0 && (requeue == 0 || left+time.Second < requeue) {
		// The workload cache's ReplicaSets wake nothing: look again when a pod left alone for its owner
		// (ownerMayLag) is to be reported, if no change of its workload woke the restarts before.
		requeue = left + time.Second
	}
	result := ctrl.Result{RequeueAfter: requeue}
	r.forgetFailures(p.candidates)
	p.pending, p.coolingOffs = p.sortWaiting()
	if len(p.stalled) > 0 {
		return result, nil // a stall stops every further restart
	}
	if len(p.pending) == 0 {
		if len(p.rolling) == 0 {
			p.holdsBack = p.coolingOffHoldsBack(spec.Window)
		}
		return result, nil
	}
	open, next, err := WindowOpen(spec.Window, p.now)
	if err != nil {
		return result, nil
	}
	if !open {
		if wait := next.Sub(p.now); requeue == 0 || wait < requeue {
			result.RequeueAfter = wait
		}
		if len(p.rolling) == 0 {
			p.holdsBack = fmt.Sprintf("the restart window (spec.dataPlane.restarts.window) is closed until %s", next.UTC().Format(time.RFC3339))
		}
		return result, nil
	}
	limit, perNamespace := spec.Limits()
	inNamespace := map[string]int{}
	for _, w := range p.rolling {
		inNamespace[w.obj.GetNamespace()]++
	}
	budget := limit - len(p.rolling)
	var waiting []*candidate
	var failed []error
	// backedOff: a workload waits for the backoff of its failed restart; warned: a failure of this pass,
	// or the one such a workload waits after, is named in a Warning.
	backedOff, warned := false, false
	for _, c := range p.pending {
		ns := c.obj.GetNamespace()
		if budget <= 0 || inNamespace[ns] >= perNamespace || c.heldBack() != "" {
			waiting = append(waiting, c)
			continue
		}
		if retryIn, warnedBefore := r.failures.RetryIn(c.key(), c.obj.GetUID(), p.now); retryIn > 0 {
			// Its last restart failed: tried again once the backoff has passed, not on every pass until then.
			waiting = append(waiting, c)
			backedOff, warned = true, warned || warnedBefore
			if result.RequeueAfter == 0 || retryIn < result.RequeueAfter {
				result.RequeueAfter = retryIn
			}
			continue
		}
		if err := r.apply(ctx, c, p.now); err != nil {
			// One workload that refuses the write (a webhook, a policy, a workload replaced since the
			// cache saw it) must not hold back the others: it waits, and the pass fails; the workload is
			// tried again once its backoff has passed (restartFailures).
			// A first failure only of the API server's making (a 503, a timeout, a cache behind a write)
			// is retried without a Warning: the retry a moment later usually goes through.
			metrics.RestartsTotal.WithLabelValues("error").Inc()
			if r.failures.Add(c.key(), c.obj.GetUID(), err, p.now) {
				message := fmt.Sprintf("meshkeeper could not restart %s: %v; it tries again", c.key(), err)
				r.Recorder.Eventf(c.obj, mesh, corev1.EventTypeWarning, meshv1alpha1.ReasonRestartFailed, "Restart", "%s", message)
				r.Recorder.Eventf(mesh, c.obj, corev1.EventTypeWarning, meshv1alpha1.ReasonRestartFailed, "Restart", "%s", message)
				warned = true
			}
			failed = append(failed, err)
			waiting = append(waiting, c)
			continue
		}
		r.failures.Forget(c.key())
		r.remember(c.workload)
		r.rememberTarget(c)
		r.startProgress(c.workload)
		budget--
		inNamespace[ns]++
		metrics.RestartsTotal.WithLabelValues("started").Inc()
		r.mu.Lock()
		r.followRollout(c.workload)
		r.mu.Unlock()
		p.rolling = append(p.rolling, c.workload)
		r.Recorder.Eventf(c.obj, mesh, corev1.EventTypeNormal, meshv1alpha1.ReasonRestarting, "Restart",
			"meshkeeper restarts %s so that its pods get the current sidecar", c.key())
		if left := c.deadline + time.Second; result.RequeueAfter == 0 || left < result.RequeueAfter {
			result.RequeueAfter = left
		}
	}
	p.pending = waiting
	if len(p.rolling) == 0 {
		p.holdsBack = cmp.Or(holdsBack(waiting, len(failed) > 0 || backedOff, warned), p.coolingOffHoldsBack(spec.Window))
	}
	return result, errors.Join(failed...)
}

// holdsBack says why no workload of waiting could be restarted, when none of meshkeeper's restarts rolls
// out (so no limit held them back): the first reason that holds of the first of them, in priority order.
func holdsBack(waiting []*candidate, failed, warned bool) string {
	for _, c := range waiting {
		if why := c.heldBack(); why != "" {
			return why
		}
	}
	switch {
	case warned:
		return "the API server refused the restarts (Warning Events RestartFailed name the error); meshkeeper tries again"
	case failed:
		return "the API server did not take the restarts for a moment (a timeout, an unavailable server, a cache behind a write); meshkeeper tries again"
	}
	return ""
}

// forgetFailures forgets the failed restarts of the workloads that no longer need one: a restart they
// need again later (after the next upgrade, say) fails for the first time in a row.
func (r *Reconciler) forgetFailures(candidates []*candidate) {
	var needed sets.Set[string] // built only when some restart failed
	r.failures.ForgetIf(func(key string) bool {
		if needed == nil {
			needed = make(sets.Set[string], len(candidates))
			for _, c := range candidates {
				needed.Insert(c.key())
			}
		}
		return !needed.Has(key)
	})
}

// heldBack says why c may not be restarted now whatever the limits, or "": the control plane is not
// installed for the spec (controlPlaneHolds), the revision whose sidecar it would get is not ready, or it
// is not rolled out: rolling out by itself, or with pods of its current template not available
// (unavailablePods) (a superseded workload may still be rolling out onto the canary revision, by
// meshkeeper's doing).
func (c *candidate) heldBack() string {
	switch {
	case c.notInstalled != "":
		// First: ControlPlaneReady, which the InPlace strategy reads as the revision's readiness, is False
		// too when the install failed, with istiod running as it did; that failure is why.
		return c.notInstalled
	case !c.ready && c.incoming != "":
		return fmt.Sprintf("revision %s, which serves %s's namespace in place of %s once it is ready, is not ready%s; meshkeeper "+
			"restarts %s onto it then, rather than now onto %s and again after; until its istiod is available, setting spec.version "+
			"back restarts it onto %s", c.incoming, c.key(), c.target.revision, c.notAvailable, c.key(), c.target.revision, c.target.revision)
	case !c.ready:
		return fmt.Sprintf("revision %s, whose sidecar %s would get, is not ready%s", c.target.revision, c.key(), c.notAvailable)
	case !c.rolledOut && !c.superseded:
		if why := c.unavailablePods(); why != "" {
			return why
		}
		return fmt.Sprintf("%s is rolling out by itself; meshkeeper restarts a workload once it has rolled out", c.key())
	}
	return ""
}

// unavailablePods says, of a workload whose controller has rolled its current pod template out to every pod
// it runs (a DaemonSet's pod of that template on every node that should run one, a Deployment's or
// StatefulSet's rollout completed) but that is not rolled out, why it waits: some of those pods are not
// available, most often on a node that is NotReady: nothing rolls out, and nothing will until they are.
// A restart now would count them against its rollout's maxUnavailable and could stop at them, so the
// restart waits; the message says what to look at. "" for a workload whose controller still rolls it out.
func (c *candidate) unavailablePods() string {
	const look = "on a node that is NotReady (kubectl get nodes), or not starting (kubectl describe pods)"
	switch o := c.obj.(type) {
	case *appsv1.DaemonSet:
		s := o.Status
		if s.ObservedGeneration < o.Generation || s.UpdatedNumberScheduled != s.DesiredNumberScheduled || s.NumberAvailable >= s.DesiredNumberScheduled {
			return ""
		}
		return fmt.Sprintf("%s runs a pod of its current pod template on each of its %d node(s), but %d of them are not available, %s; "+
			"meshkeeper restarts it once every pod of it is available (a restart's rollout would count them against its "+
			"maxUnavailable and could stop at them): bring the node back, delete the Node of a machine that is gone, or fix the pod",
			c.key(), s.DesiredNumberScheduled, s.DesiredNumberScheduled-s.NumberAvailable, look)
	case *appsv1.Deployment:
		return c.completedUnavailable(meshctx.DesiredReplicas(o.Spec.Replicas), o.Status.AvailableReplicas, look)
	case *appsv1.StatefulSet:
		return c.completedUnavailable(meshctx.DesiredReplicas(o.Spec.Replicas), o.Status.AvailableReplicas, look)
	}
	return ""
}

// completedUnavailable is unavailablePods' message for a Deployment or StatefulSet of desired pods,
// available of them available; "" when its rollout is not completed or every pod is available.
func (c *candidate) completedUnavailable(desired, available int32, look string) string {
	if !c.completed || available >= desired {
		return ""
	}
	return fmt.Sprintf("%s rolled out its current pod template, but %d of its %d pod(s) are not available, %s, or waiting for a "+
		"node; meshkeeper restarts it once every pod of it is available", c.key(), desired-available, desired, look)
}

// waiting are the candidates that may still be restarted: not opted out, not rolling out, and not
// restarted since their newest pod that needs a restart was created (a pod created by meshkeeper's own
// restart that still needs one would not be helped by another).
func (p *pass) waiting() []*candidate {
	out, _ := p.sortWaiting()
	return out
}

// sortWaiting returns waiting's candidates, and those that wait for the cool-off of meshkeeper's last
// restart of them alone (coolingOff): their pods that restart created still need one, and they are
// restarted again once it has passed.
func (p *pass) sortWaiting() (out, coolingOff []*candidate) {
	rolling := sets.New[string]()
	for _, w := range p.rolling {
		rolling.Insert(w.key())
	}
	for _, c := range p.candidates {
		if c.optedOut() || c.namespaceOptedOut || rolling.Has(c.key()) {
			continue
		}
		if !c.superseded && !c.restartedAt.IsZero() && !p.aheadOfTime(c.workload) && (c.predatesRestart() || p.coolingOff(c) > 0) {
			// Its pods predate the last restart (the rollout has not replaced them), or pods the last
			// restart created still need one: another restart is not tried before its cool-off passed
			// (once that restart rolled out, observe holds such a workload unless what its pods are
			// judged against changed since: futile).
			if !c.predatesRestart() {
				coolingOff = append(coolingOff, c)
			}
			continue
		}
		out = append(out, c)
	}
	return out, coolingOff
}

// coolingOffHoldsBack says, of the candidates that wait for the cool-off of meshkeeper's last restart
// of them (p.coolingOffs), the one restarted again first and from when: once that cool-off has passed,
// inside the window; "" when none waits for it.
func (p *pass) coolingOffHoldsBack(window *meshv1alpha1.RestartWindow) string {
	var first *candidate
	for _, c := range p.coolingOffs {
		if first == nil || c.restartedAt.Add(c.coolOff()).Before(first.restartedAt.Add(first.coolOff())) {
			first = c
		}
	}
	if first == nil {
		return ""
	}
	ends := first.restartedAt.Add(first.coolOff())
	when := "once the deadline of that restart has passed, at " + ends.UTC().Format(time.RFC3339)
	if open, next, err := WindowOpen(window, ends); err == nil && !open {
		when = fmt.Sprintf("once the deadline of that restart has passed (at %s) and the restart window "+
			"(spec.dataPlane.restarts.window) is open, at %s", ends.UTC().Format(time.RFC3339), next.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("%s, which meshkeeper restarted at %s, runs pods that still need a restart; meshkeeper restarts it again %s",
		first.key(), first.restartedAt.UTC().Format(time.RFC3339), when)
}

// predatesRestart tells whether the candidate's pods that need a restart predate its last restart: the
// rollout has not replaced them. A pod takes the annotations of the pod template it is created from, so
// the newest of them (sample) carries the workload's restarted-at value when that restart created it,
// and another or none when it predates it. Its creation time would not tell: that is the API server's
// clock and restartedAt the manager's, and with the manager's a second ahead the restart's own pods would
// look older than it, and the workload would never be restarted again. Without the pod, the times tell,
// allowing maxClockSkew.
func (c *candidate) predatesRestart() bool {
	if c.sample != nil {
		return !c.sample.RestartedAt.Time.Equal(c.restartedAt)
	}
	return c.newest.Before(c.restartedAt.Add(-maxClockSkew))
}

// coolingOff is how long the candidate's last restart still holds back another (coolOff); 0 once it
// does not.
func (p *pass) coolingOff(c *candidate) time.Duration {
	return max(c.restartedAt.Add(c.coolOff()).Sub(p.now), 0)
}

// coolOffEnds is how long until the first candidate that waits for the cool-off of its last restart
// alone may be restarted; 0 when none waits for it.
func (p *pass) coolOffEnds() time.Duration {
	var first time.Duration
	for _, c := range p.candidates {
		if c.optedOut() || c.namespaceOptedOut || c.superseded || c.restartedAt.IsZero() || p.aheadOfTime(c.workload) || c.predatesRestart() {
			continue
		}
		if left := p.coolingOff(c); left > 0 && (first == 0 || left < first) {
			first = left
		}
	}
	return first
}

// apply writes the restarted-at annotation, the revision the restart is for
// (meshv1alpha1.RestartedOntoAnnotation) and the digest of its target (RestartedForAnnotation), and
// nothing else, into the workload's pod template. The apply names the
// workload's UID, so it never creates one that is gone. It forces ownership of those keys: they are
// meshkeeper's own, and whoever wrote them since (kubectl rollout undo brings back the previous pod
// template, annotations included, under its own field manager) would otherwise make every later
// restart of the workload a conflict.
func (r *Reconciler) apply(ctx context.Context, c *candidate, now time.Time) error {
	w, digest := c.workload, c.target.digest()
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": appsv1.SchemeGroupVersion.String(),
		"kind":       w.kind,
		"metadata":   map[string]any{"name": w.obj.GetName(), "namespace": w.obj.GetNamespace(), "uid": string(w.obj.GetUID())},
		"spec": map[string]any{"template": map[string]any{"metadata": map[string]any{
			"annotations": map[string]any{
				meshv1alpha1.RestartedAtAnnotation:   now.UTC().Format(time.RFC3339),
				meshv1alpha1.RestartedOntoAnnotation: c.target.revision,
				meshv1alpha1.RestartedForAnnotation:  digest,
			},
		}}},
	}}
	answer, err := apply.Object(ctx, r.Client, u, client.FieldOwner(FieldManager), client.ForceOwnership)
	if err != nil {
		return fmt.Errorf("restarting %s: %w", w.key(), err)
	}
	w.appliedGeneration = answer.GetGeneration()
	w.restartedAt = now.UTC().Truncate(time.Second)
	w.restartedOnto, w.restartedOntoRecorded = c.target.revision, true
	w.restartedFor = digest
	return nil
}

// owner follows a pod to the Deployment, StatefulSet or DaemonSet that controls it; nil for a pod of
// any other owner (none, a Job, a ReplicaSet of no Deployment) or whose owner is not in the cache.
// Each step must match the owner reference's UID, not only its name: a pod's owner references are
// written by whoever creates the pod, and one naming a workload it does not belong to (or one since
// deleted and created again under the same name) must not have that workload restarted. A pod never
// belongs to a Deployment directly, only through its ReplicaSet. unknown tells, of a pod it returns no
// workload for, that a step of the way is not in the cache: no ReplicaSet, StatefulSet, DaemonSet or
// Deployment of the name, or one of another UID. That is the cache behind the pod cache (ownerMayLag), or
// a reference to an owner gone or that never was.
func (r *Reconciler) owner(ctx context.Context, pod *policy.ProxyPod) (w *workload, unknown bool, err error) {
	ref, ok, err := meshctx.PodWorkload(ctx, r.Workloads, pod)
	if err != nil {
		return nil, false, err
	}
	if !ok {
		unknown, err = r.replicaSetUnknown(ctx, pod)
		return nil, unknown, err
	}
	namespace, name, uid := pod.Namespace, ref.Name, ref.UID
	obj := newWorkloadObject(ref.Kind)
	if obj == nil {
		return nil, false, nil
	}
	if err := r.Workloads.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, obj); err != nil {
		return nil, apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	if obj.GetUID() != uid {
		return nil, true, nil
	}
	return asWorkload(obj), false, nil
}

// replicaSetUnknown tells whether the pod's controller is a ReplicaSet of apps that the workload cache
// does not show: none of its name, or one of another UID (see owner).
func (r *Reconciler) replicaSetUnknown(ctx context.Context, pod *policy.ProxyPod) (bool, error) {
	ref := pod.Controller
	if ref.Kind != "ReplicaSet" || !strings.HasPrefix(ref.APIVersion, "apps/") {
		return false, nil
	}
	rs := &metav1.PartialObjectMetadata{}
	rs.SetGroupVersionKind(appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
	if err := r.Workloads.Get(ctx, client.ObjectKey{Namespace: pod.Namespace, Name: ref.Name}, rs); err != nil {
		return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
	}
	return rs.UID != ref.UID, nil
}

// podOwner names what controls a pod that belongs to no workload meshkeeper restarts: its controller
// ("Job nightly-29", "ReplicaSet api-7d9c" of an Argo Rollout), or "no owner".
func podOwner(pod *policy.ProxyPod) string {
	if pod.Controller.Kind == "" {
		return "no owner"
	}
	// The API server does not bound an owner reference's kind and name: cut them to the lengths of a
	// kind and a name it validates, so that one pod's owner cannot fill the Warning's note.
	return meshctx.Bound(pod.Controller.Kind, maxKind) + " " + meshctx.Bound(pod.Controller.Name, maxName)
}

// maxKind and maxName are the longest kind and owner name a NotRestartable Warning names in full: a
// DNS label and a DNS subdomain, the limits of the names the API server validates.
const (
	maxKind = 63
	maxName = 253
)

// newsFirst sorts entries, each about the owner owner(entry), with those of the owners in fresh first,
// and by name within each, and returns them.
func newsFirst(entries []string, owner func(string) string, fresh sets.Set[string]) []string {
	slices.SortFunc(entries, func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(fresh.Has(owner(a))), rank(fresh.Has(owner(b)))), strings.Compare(a, b))
	})
	return entries
}

// rank orders what is news (0) before what is not (1).
func rank(news bool) int {
	if news {
		return 0
	}
	return 1
}

// serving returns what serves a namespace, as the status reports it: the Istio version and revision
// its pods are judged against, whether that revision is ready, and its mesh config ConfigMap.
func serving(mesh *meshv1alpha1.ServiceMesh, namespace string) (version, rev string, ready bool, meshConfig string) {
	st := &mesh.Status
	if mesh.Spec.UpdateStrategy.Type == meshv1alpha1.UpdateRevisionBased && st.ActiveRevision != "" {
		rev = st.ActiveRevision
		if canary := meshctx.CanaryRevision(mesh); canary != "" && slices.Contains(mesh.Spec.UpdateStrategy.Canary.Namespaces, namespace) {
			rev = canary
		}
		for _, s := range st.Revisions {
			if s.Name == rev {
				version, ready = s.Version, s.Ready
			}
		}
		// A revision that takes the namespace over once it is ready (a spec.version changed meanwhile)
		// gives the sidecar a restart now is for: one onto rev would be outdated within moments.
		ready = ready && incoming(mesh, namespace, rev) == ""
		meshConfig = "istio"
		if rev != revision.Legacy {
			meshConfig += "-" + rev
		}
		return version, rev, ready, meshConfig
	}
	// False also for a failed install, with istiod running as it was: controlPlaneHolds says so first.
	ready = meta.IsStatusConditionTrue(st.Conditions, meshv1alpha1.ConditionControlPlaneReady)
	return st.Version, cmp.Or(st.Revision, revision.Legacy), ready, "istio"
}

// controlPlaneHolds says why no restart may start yet, whatever the readiness of the revision that would
// inject it, or "" when nothing holds them: the control plane is not installed for the ServiceMesh's
// generation. The pods are judged against the spec (the proxy image spec.values gives, whether istiod
// injects for the CNI agent), but istiod injects what it was last installed with, and the servicemesh
// controller writes ControlPlaneReady for a generation only after its Helm work for it: until then the
// condition, and the readiness read from the status, are of the values before. A workload restarted
// meanwhile would get the sidecar of those values, and once rolled out would be held as one another
// restart cannot help (futile). A generation whose install failed (ControlPlaneReady False for a reason
// other than istiod's rollout, meshv1alpha1.IsRolloutReason: ChartNotFound, InvalidSpec, InstallFailed,
// ...) leaves istiod injecting what it did, and no restart starts either until an install of it
// succeeds; the message names the reason, and setting the spec back, or fixing what the condition
// names, releases them.
func controlPlaneHolds(mesh *meshv1alpha1.ServiceMesh) string {
	const once = "meshkeeper restarts workloads once it is, so that their new pods get the sidecar the spec asks for"
	switch c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionControlPlaneReady); {
	case c == nil:
		return fmt.Sprintf("the control plane is not installed yet for generation %d of the ServiceMesh; %s", mesh.Generation, once)
	case c.ObservedGeneration < mesh.Generation:
		return fmt.Sprintf("the control plane is not installed yet for generation %d of the ServiceMesh (ControlPlaneReady is "+
			"still generation %d's); %s", mesh.Generation, c.ObservedGeneration, once)
	case c.Status == metav1.ConditionFalse && !meshv1alpha1.IsRolloutReason(c.Reason):
		return fmt.Sprintf("the control plane could not be installed for generation %d of the ServiceMesh (ControlPlaneReady "+
			"is False with reason %s; its message says why), so istiod may not inject the sidecar the spec asks for; "+
			"meshkeeper restarts workloads once an install of that generation succeeds: fix what the condition names, or "+
			"set the spec back", mesh.Generation, c.Reason)
	}
	return ""
}

// istiodNotAvailable is what heldBack adds to a revision that is not ready, so that a wave that waits for
// it, for as long as it takes, says where to look: ControlPlaneReady False for an istiod's rollout, whose
// message names that istiod (spec.version's, or the one the default tag points at) and why (its pods do
// not become available, its progress deadline passed, its Deployment is missing). "" when the condition
// does not say so: a ready revision whose status is behind, or an install that failed
// (controlPlaneHolds).
func istiodNotAvailable(mesh *meshv1alpha1.ServiceMesh) string {
	c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionControlPlaneReady)
	if c == nil || c.Status != metav1.ConditionFalse || !meshv1alpha1.IsRolloutReason(c.Reason) {
		return ""
	}
	return fmt.Sprintf(" (ControlPlaneReady is False with reason %s: its message names the istiod that is not available and why)", c.Reason)
}

// incoming is the revision that takes a namespace of a RevisionBased mesh over from rev, the one that
// serves it now, once its istiod is ready: the revision of spec.version, installed beside the others
// and not ready yet (state Canary). Without canary namespaces the default tag moves to it, so it takes
// every namespace over; with them it serves the canary namespaces alone (the tag stays where it is for
// the others), unless it is the canary rolled back, which leaves them on the active revision. "" when
// none does.
func incoming(mesh *meshv1alpha1.ServiceMesh, namespace, rev string) string {
	if canary := mesh.Spec.UpdateStrategy.Canary; canary != nil && len(canary.Namespaces) > 0 && !slices.Contains(canary.Namespaces, namespace) {
		return ""
	}
	rollback := meshctx.RecordedRollback(mesh)
	for _, s := range mesh.Status.Revisions {
		if s.State == meshv1alpha1.RevisionCanary && s.Name != rev && !s.Ready && (rollback == nil || rollback.Revision != s.Name) {
			return s.Name
		}
	}
	return ""
}

// controllerPod tells whether w, the workload of a pod outside the enrolled namespaces, is the
// ingress-nginx controller (controller, nil when the integration is off) and its pod template asks for a
// sidecar, as meshkeeper's settings do (docs/ingress-nginx.md): a restart gives its pods the sidecar of
// the revision that serves the mesh. One whose template asks for none (not configured, or not yet) is the
// ingress-nginx workload reconciler's; IngressesConfigured reports it.
func controllerPod(controller *meshv1alpha1.WorkloadReference, w *workload) bool {
	if controller == nil || w == nil || !w.is(*controller) {
		return false
	}
	var template *corev1.PodTemplateSpec
	switch o := w.obj.(type) {
	case *appsv1.Deployment:
		template = &o.Spec.Template
	case *appsv1.DaemonSet:
		template = &o.Spec.Template
	default:
		return false
	}
	// Outside the enrolled namespaces only Istio's object-selector webhook injects, and it matches the
	// label's value "true" alone: another value the injector would read as asking for a sidecar gets
	// none here.
	return template.Labels[policy.SidecarInject] == "true"
}

// priority orders the restarts: the ingress-nginx controller (the gateway of traffic into the mesh)
// first. Nothing else of the control-plane namespace is restarted: it is never enrolled.
func priority(mesh *meshv1alpha1.ServiceMesh, w *workload) int {
	if w.is(mesh.Spec.IngressNginx.Controller) {
		return 0
	}
	return 1
}

// is tells whether w is the workload ref names.
func (w *workload) is(ref meshv1alpha1.WorkloadReference) bool {
	return w.kind == ref.Kind && w.obj.GetNamespace() == ref.Namespace && w.obj.GetName() == ref.Name
}

func (r *Reconciler) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// names lists up to five names for a message.
func names(list []string) string {
	return meshctx.Names(list, 5)
}

// SetupWithManager registers the reconciler: it wakes on the ServiceMesh, pods, Namespaces and the
// workloads of its cache, all mapped to the one request.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Report == nil {
		r.Report = NewReport()
	}
	if r.Pods == nil {
		r.Pods = meshctx.CachedPods(mgr.GetCache())
	}
	toMesh := func(context.Context, client.Object) []reconcile.Request { return []reconcile.Request{meshctx.Request} }
	b := ctrl.NewControllerManagedBy(mgr).
		Named("restart").
		WithOptions(meshctx.ControllerOptions(0)).
		Watches(&meshv1alpha1.ServiceMesh{}, handler.EnqueueRequestsFromMapFunc(toMesh)).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(toMesh)).
		Watches(&corev1.Pod{}, handler.EnqueueRequestsFromMapFunc(toMesh))
	for _, obj := range []client.Object{&appsv1.Deployment{}, &appsv1.StatefulSet{}, &appsv1.DaemonSet{}} {
		b = b.WatchesRawSource(source.Kind(r.Workloads, obj, handler.EnqueueRequestsFromMapFunc(toMesh)))
	}
	return b.Complete(r)
}

// Status is what the restarts report to the status pass.
type Status struct {
	// Restarting counts the workloads meshkeeper restarted that are still rolling out.
	Restarting int32
	// NotRestartable counts the pods that need a restart and that meshkeeper does not restart: of no
	// workload, of a held one, or of one whose pods meshkeeper's last restart created still need one.
	NotRestartable int32
	// Pending counts the workloads waiting for their restart, also those that wait for the cool-off of
	// meshkeeper's last restart of them.
	Pending int
	// Waiting says why the pending workloads wait when none of meshkeeper's restarts rolls out (the
	// window is closed, the control plane is not installed for the spec, the revision that would inject
	// them is not ready, they roll out by themselves or run pods not available, their last restart's
	// deadline has not passed); empty otherwise.
	Waiting string
	// Stalled says which restarted workload made no progress for its deadline; empty when none.
	Stalled string
	// StalledRestarts are the restarted workloads that made no progress for their deadline, by key, at most
	// maxStalledRestarts (status.proxies.stalledRestarts).
	StalledRestarts []meshv1alpha1.StalledRestart
	// CanaryRollback is the canary rollback decided by this process until the status records it or the
	// spec changes (nil when none).
	CanaryRollback *meshv1alpha1.CanaryRollbackStatus
}

// Report carries the last Status from the restarts to the status pass, and wakes the status pass when
// it changes.
type Report = meshctx.Report[Status]

// NewReport returns an empty Report.
func NewReport() *Report { return meshctx.NewReport[Status]() }
