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

package helm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// maxHistory bounds the release records kept per release.
const maxHistory = 3

// Action is what Ensure did.
type Action string

// The actions Ensure reports: nothing, or the one operation it ran.
const (
	ActionNone      Action = "None"
	ActionInstalled Action = "Installed"
	ActionUpgraded  Action = "Upgraded"
	ActionRecovered Action = "Recovered"
	ActionRepaired  Action = "Repaired"
)

// verb names the action in progress, for error messages: "installing release …".
func (a Action) verb() string {
	switch a {
	case ActionInstalled:
		return "installing"
	case ActionUpgraded:
		return "upgrading"
	case ActionRecovered:
		return "recovering"
	}
	return strings.ToLower(string(a))
}

// Result reports what Ensure found and did.
type Result struct {
	State  State
	Action Action
	// Revision is the release's revision after an install or upgrade.
	Revision int
	// Repaired lists the objects of an in-sync release that had drifted and were applied again.
	Repaired []string
}

// ChartManager installs, upgrades and uninstalls releases of Helm charts. It renders a chart with
// Helm's template engine, applies the objects server-side under meshkeeper's field manager, and stores
// each revision as the helm CLI stores it (a Secret in the release namespace), so `helm list -n
// istio-system` and `helm history` show meshkeeper's releases. It does what Helm's install, upgrade and
// uninstall do for charts without hooks, the only charts it installs; it refuses a chart with hooks.
type ChartManager struct {
	// CachedKinds are the kinds the client serves from its cache; drift checks read them there.
	CachedKinds map[schema.GroupVersionKind]bool
	// CheckImage, when set, refuses an image a rendered Deployment or DaemonSet would pull from a hub
	// the operator's installer did not allow (charts.Policy.CheckImage); the chart guard calls it.
	CheckImage func(image string) error

	client    client.Client
	reader    client.Reader
	discovery discovery.DiscoveryInterface

	mu sync.Mutex
	// verified maps an object of a release to the resource version at which it last matched the release,
	// so a drift check of an unchanged object costs a cache read, and an apply of an unchanged object
	// none: see verification.
	verified map[string]verification
	// manifests keeps the rendered objects of each release, for its current digest.
	manifests map[string]parsedManifest
	// charts keeps the compressed chart part of the records of the charts in use.
	charts chartMembers
	// memory gives what an install, upgrade or uninstall left behind back to the operating system.
	memory memoryReturn
	// capabilities is what templates see of the cluster, read from discovery before each install or
	// upgrade and reused by the drift check's renders.
	capabilities *capabilities
	// writes counts the writes of release records by namespace (RecordWrites).
	writes recordWrites
	// listed keeps each release's heads as last listed, by manifestKey (see knownHeads).
	listed map[string]listedHeads
}

// NewChartManager returns a chart manager for the cluster of config. c reads typed objects (from a cache,
// as the manager's client does) and unstructured objects from the API server, and applies; reader reads
// from the API server (release Secrets are not cached).
func NewChartManager(config *rest.Config, c client.Client, reader client.Reader) *ChartManager {
	m := &ChartManager{client: retryingClient{c}, reader: retryingReader{reader}, verified: map[string]verification{}, manifests: map[string]parsedManifest{}}
	if d, err := discovery.NewDiscoveryClientForConfig(config); err == nil {
		m.discovery = d
	}
	return m
}

// Ensure brings the release to the desired state, acting only when it is not in sync. For a release in
// sync it checks the release's objects and applies again those that were deleted or edited. The state is
// read from the release Secrets' labels (knownHeads); a release record is decoded only when its manifest
// is needed (the objects an upgrade may have to delete), since a record holds the whole chart.
func (m *ChartManager) Ensure(ctx context.Context, desired Release) (Result, error) {
	result, err := m.ensure(ctx, desired)
	if err != nil || result.Action != ActionNone {
		// What was listed is kept only through the Ensures that found the release in sync and did
		// nothing: one that wrote reads the records again anyway (RecordWrites), and one that failed or
		// repaired drift may have met a change of someone else's. An object of the release changed by
		// someone else is what a helm rollback or upgrade by hand does, besides writing a record.
		m.forgetHeads(desired.Namespace, desired.Name)
	}
	return result, err
}

func (m *ChartManager) ensure(ctx context.Context, desired Release) (Result, error) {
	digest, err := desired.Digest()
	if err != nil {
		return Result{}, err
	}
	heads, err := m.knownHeads(ctx, desired.Namespace, desired.Name, digest)
	if err != nil {
		return Result{}, err
	}
	state, last := DetermineState(heads, digest)
	result := Result{State: state, Action: ActionNone}
	if state != StateAbsent && !slices.ContainsFunc(heads, func(h Head) bool { return h.Digest != "" }) {
		// Every record carries meshkeeper's digest; a release with none is another installation's of the
		// same name (Istio installed with the helm CLI uses these names): its objects, and its records,
		// are not meshkeeper's to upgrade, mark failed or prune.
		return result, fmt.Errorf("release %s/%s exists and was not installed by meshkeeper (no record of it carries label %s): "+
			"meshkeeper does not take over another installation's release; uninstall it (helm uninstall %s -n %s), "+
			"or run the ServiceMesh's control plane in another namespace", desired.Namespace, desired.Name, DigestLabel,
			desired.Name, desired.Namespace)
	}

	if state == StateInSync {
		objects, err := m.renderedObjects(ctx, desired, digest, *last)
		if err != nil {
			return result, err
		}
		result.Repaired, err = m.repairDrift(ctx, objects, func() ([]*unstructured.Unstructured, error) {
			return m.renderDeployed(ctx, desired, *last)
		})
		if len(result.Repaired) > 0 {
			result.Action = ActionRepaired
		}
		return result, err
	}

	m.memory.begin()
	defer m.memory.end()
	switch state {
	case StateAbsent:
		result.Action = ActionInstalled
		result.Revision, err = m.install(ctx, desired, digest, nextVersion(heads))
	case StateOutOfSync, StateFailed:
		result.Action = ActionUpgraded
		result.Revision, err = m.upgrade(ctx, desired, digest, heads)
	case StateFailedInstall:
		// As `helm upgrade --install` does: the failed install is the revision the upgrade replaces. What
		// it applied stays (and is not applied again when unchanged); what it had and the chart no longer
		// renders is deleted.
		result.Action = ActionRecovered
		result.Revision, err = m.upgrade(ctx, desired, digest, heads)
	case StateLocked:
		result.Action = ActionRecovered
		result.Revision, err = m.unlock(ctx, desired, digest, heads, *last)
	}
	if err != nil {
		return result, fmt.Errorf("%s release %s/%s (state %s): %w",
			result.Action.verb(), desired.Namespace, desired.Name, state, err)
	}
	return result, nil
}

// ReturnMemory gives the memory that the installs, upgrades and uninstalls since the last call left
// behind back to the operating system, unless one is still under way. The caller calls it once what
// they changed is done (the ServiceMesh is Ready); without a call it happens 10 s after the last of
// them.
func (m *ChartManager) ReturnMemory() { m.memory.now() }

// heads lists a release's revisions from the labels of its Secrets, reading metadata only.
func (m *ChartManager) heads(ctx context.Context, namespace, name string) ([]Head, error) {
	secrets := &metav1.PartialObjectMetadataList{}
	secrets.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("SecretList"))
	if err := m.reader.List(ctx, secrets, client.InNamespace(namespace),
		client.MatchingLabels{"owner": "helm", "name": name}); err != nil {
		return nil, fmt.Errorf("listing the revisions of release %s/%s: %w", namespace, name, err)
	}
	heads := make([]Head, 0, len(secrets.Items))
	for _, s := range secrets.Items {
		version, err := strconv.Atoi(s.Labels["version"])
		if err != nil || version < 1 || version > maxRevision || s.Name != recordName(name, version) {
			// Not a record Helm or meshkeeper wrote (anyone who may write Secrets in the namespace can
			// label one so, and a copy of a record kept under another name carries its labels): a
			// revision's record is read by its name, so it must not stop the release's installs, upgrades
			// and uninstall, nor count as a revision the history pruning may delete. Nor can a release
			// follow a revision beyond maxRevision: the next one would overflow.
			continue
		}
		heads = append(heads, Head{Version: version, Status: rcommon.Status(s.Labels["status"]),
			Digest: s.Labels[DigestLabel], AsInstall: s.Labels[InstalledAsLabel] == "install"})
	}
	slices.SortFunc(heads, func(a, b Head) int { return cmp.Compare(a.Version, b.Version) })
	return heads, nil
}

// RecordsRecheck is how long the heads a list found a release in sync with are used (knownHeads)
// before the records are listed again.
const RecordsRecheck = time.Minute

// listedHeads is what a list of a release's records found (heads), when, and the chart manager's count
// of record writes in the namespace before it (RecordWrites).
type listedHeads struct {
	heads  []Head
	writes uint64
	at     time.Time
}

// knownHeads is heads, listed around the cache only when the records may have changed since the last
// list of this process. Release Secrets are not cached (meshkeeper may not watch Secrets), and a list
// on every Ensure, of every release, is a read around the cache on every reconcile of a settled mesh,
// where no record changes. The last list's heads are used while they say the release is in sync with
// digest (any other state makes Ensure act, and it acts on the records as they are now), no record of
// the namespace was written by this chart manager since (RecordWrites: its own install, upgrade,
// recovery or uninstall), the Ensures since found nothing to do and failed in nothing (Ensure), and
// for RecordsRecheck at most: records changed by someone else alone (a record deleted or forged, a
// release rolled back by hand, which changes its objects too) are seen at the first Ensure after it. A
// manager started again has listed nothing yet. What the list found is filtered as heads filters it,
// whoever wrote it; callers may change the slice returned.
func (m *ChartManager) knownHeads(ctx context.Context, namespace, name, digest string) ([]Head, error) {
	key := manifestKey(namespace, name)
	// The count is taken before the list: a write that ends after it moves the count past it, and the
	// next Ensure lists again.
	writes := m.writes.of(namespace)
	m.mu.Lock()
	known, ok := m.listed[key]
	m.mu.Unlock()
	if ok && known.writes == writes && time.Since(known.at) < RecordsRecheck {
		if state, _ := DetermineState(known.heads, digest); state == StateInSync {
			return slices.Clone(known.heads), nil
		}
	}
	at := time.Now()
	heads, err := m.heads(ctx, namespace, name)
	if err != nil {
		m.forgetHeads(namespace, name)
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listed == nil {
		m.listed = map[string]listedHeads{}
	}
	m.listed[key] = listedHeads{heads: slices.Clone(heads), writes: writes, at: at}
	return heads, nil
}

// forgetHeads drops what the last list of the release's records found: the next Ensure lists them.
func (m *ChartManager) forgetHeads(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.listed, manifestKey(namespace, name))
}

// maxRevision bounds the revisions of a release meshkeeper reads: a revision per change never gets
// there, and Helm's own int revisions stop there on 32-bit platforms.
const maxRevision = math.MaxInt32

func nextVersion(heads []Head) int {
	if len(heads) == 0 {
		return 1
	}
	return heads[len(heads)-1].Version + 1
}

// Uninstall removes a release and the objects it installed that owner owns, except those with Helm's
// keep policy (the Istio CRDs). A release that does not exist is not an error. removed tells whether the
// release had a record of meshkeeper's to uninstall, so that the caller counts only the uninstalls that
// removed something; it is true as well when that uninstall failed part way. A release whose objects
// were orphaned is not uninstalled: the error is an *OrphanedError, and removed is false.
func (m *ChartManager) Uninstall(ctx context.Context, namespace, name string, owner Owner) (removed bool, err error) {
	// An uninstall reads the records as they are now, and the Ensure after it too.
	defer m.forgetHeads(namespace, name)
	heads, err := m.heads(ctx, namespace, name)
	if err != nil {
		return false, err
	}
	// Records without meshkeeper's digest are another installation's release of the same name (an
	// Istio installed with helm, over which meshkeeper's install failed): neither they nor the objects
	// they list are meshkeeper's to remove.
	heads = slices.DeleteFunc(heads, func(h Head) bool { return h.Digest == "" })
	err = m.uninstall(ctx, namespace, name, owner, heads)
	if orphans := (*OrphanedError)(nil); errors.As(err, &orphans) {
		return false, err
	}
	return len(heads) > 0, err
}

// OrphanedError is the answer of an uninstall that found objects of the release that meshkeeper applied
// and that no ServiceMesh owns any more: the garbage collector takes the owner references off the
// objects of a ServiceMesh deleted with orphan propagation (kubectl delete --cascade=orphan, Argo CD's
// PrunePropagationPolicy=orphan), which asks to keep them. The release is left whole, none of its
// objects deleted and its records kept, so that helm uninstall, or a ServiceMesh created again, still
// finds exactly what it installed; deleting the owned part alone would leave, say, istiod's webhook
// configurations failing closed without the istiod they call.
type OrphanedError struct {
	Namespace, Release string
	// Objects names the objects found orphaned ("Deployment istio-system/istiod"), in the order of the
	// uninstall.
	Objects []string
}

func (e *OrphanedError) Error() string {
	const most = 3
	if len(e.Objects) == 1 {
		return fmt.Sprintf("release %s/%s is left installed, with its records: %s has no owner reference to a ServiceMesh any more",
			e.Namespace, e.Release, e.Objects[0])
	}
	named := strings.Join(e.Objects[:min(len(e.Objects), most)], ", ")
	if len(e.Objects) > most {
		named += fmt.Sprintf(" and %d more", len(e.Objects)-most)
	}
	return fmt.Sprintf("release %s/%s is left installed, with its records: %s have no owner reference to a ServiceMesh any more",
		e.Namespace, e.Release, named)
}

func (m *ChartManager) uninstall(ctx context.Context, namespace, name string, owner Owner, heads []Head) error {
	if len(heads) == 0 {
		// Its records are gone (deleted by hand): what is kept of its render must go too, or another
		// release's drift check would still take it for a release that renders its objects.
		m.forget(namespace, name)
		return nil
	}
	m.memory.begin()
	defer m.memory.end()
	objects, err := m.appliedObjects(ctx, namespace, name, heads)
	if err != nil {
		return fmt.Errorf("uninstalling release %s: %w", name, err)
	}
	// Anyone who may write Secrets in the namespace can forge a record: deleteOwned deletes only what
	// carries the owner's reference, which meshkeeper stamps on every object it installs, and what this
	// release applied last.
	slices.Reverse(objects)
	if err := m.deleteOwned(ctx, namespace, name, objects, owner); err != nil {
		if orphans := (*OrphanedError)(nil); errors.As(err, &orphans) {
			return err // its records stay: the release is not uninstalled
		}
		return fmt.Errorf("uninstalling release %s: %w", name, err)
	}
	for _, h := range heads {
		if err := m.deleteRecord(ctx, namespace, name, h.Version); err != nil {
			return err
		}
	}
	m.forget(namespace, name)
	return nil
}

// appliedObjects are the objects the release's revisions may have left in the cluster: those of the
// deployed revision (or, when its record cannot be read, of the newest one before it that can) and those
// of every revision after it, a failed or interrupted upgrade that applied some of its objects; of a
// release never deployed, those of every revision. A record after the first that cannot be read is
// passed over.
func (m *ChartManager) appliedObjects(ctx context.Context, namespace, name string, heads []Head) ([]*unstructured.Unstructured, error) {
	from := 0
	for i, h := range heads {
		if h.Status == rcommon.StatusDeployed {
			from = i
		}
	}
	var objects []*unstructured.Unstructured
	for i := from; i < len(heads); i++ {
		var rel *releasev1.Release
		var err error
		if i == from {
			rel, err = m.newestReadable(ctx, namespace, name, heads, i)
		} else if rel, err = m.readRecord(ctx, namespace, name, heads[i].Version); errors.Is(err, errUnreadable) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if rel == nil {
			continue
		}
		recorded, err := m.recordObjects(rel, namespace)
		if err != nil {
			return nil, err
		}
		added := removed(recorded, objects)
		slices.Reverse(added) // in the record's order, which the uninstall reverses
		objects = append(objects, added...)
	}
	return objects, nil
}

// install renders and applies a release that has no deployed revision, as revision version.
func (m *ChartManager) install(ctx context.Context, desired Release, digest string, version int) (int, error) {
	r, err := m.render(ctx, desired, version, false)
	if err != nil {
		return 0, err
	}
	// An object that exists already is taken over only when meshkeeper rendered it before (the Istio
	// CRDs an earlier ServiceMesh left behind). Anything else, such as another Istio installation, makes
	// the install fail instead of being silently taken over.
	if err := m.checkNotForeign(ctx, r.objects); err != nil {
		return 0, err
	}
	rel := newRecord(desired, r, version, digest)
	rel.SetStatus(rcommon.StatusPendingInstall, "Initial install underway")
	return version, m.run(ctx, desired, rel, r, nil, "Install complete", nil, true)
}

// upgrade renders and applies a new revision, then deletes what the current revision had and this one
// does not (and owner owns), and marks the current revision superseded. Like Helm, it first deletes the
// oldest records beyond maxHistory (never the deployed one), making room for the new one. It also
// recovers a failed or interrupted first install, as `helm upgrade --install` does: what that install
// applied is kept. As an install does, it takes over no other installation's object.
func (m *ChartManager) upgrade(ctx context.Context, desired Release, digest string, heads []Head) (int, error) {
	version := nextVersion(heads)
	// A release never deployed (a failed or interrupted first install) is rendered as an install, so the
	// templates that differ for one (the validating webhook fails open until istiod serves) do.
	isUpgrade := deployedBefore(heads)
	r, err := m.render(ctx, desired, version, isUpgrade)
	if err != nil {
		return 0, err
	}
	var previous []*unstructured.Unstructured
	var currentRecord *releasev1.Release
	var currentAt *metav1.ObjectMeta // currentRecord's Secret
	current := currentRevision(heads)
	if current != nil {
		// The objects to delete are those of the revision replaced, or, when its record cannot be read,
		// of the newest one before it that can.
		if currentRecord, currentAt, err = m.newestReadableAt(ctx, desired.Namespace, desired.Name, heads, slices.Index(heads, *current)); err != nil {
			return 0, err
		}
		if currentRecord != nil {
			if previous, err = m.recordObjects(currentRecord, desired.Namespace); err != nil {
				return 0, err
			}
			if currentRecord.Version != current.Version {
				currentRecord = nil // it is not the one to mark superseded
			}
		}
	}
	// As an install does, an upgrade takes over no other installation's object, and as drift repair does,
	// no object someone made under the name of one of the release's after meshkeeper's was deleted: of a
	// release deployed before, every object it applies is checked against the revision it replaces (see
	// checkTakesNothingOver); of a release never deployed, or whose records cannot be read, every object
	// as an install checks it.
	if isUpgrade && previous != nil {
		err = m.checkTakesNothingOver(ctx, r.objects, previous)
	} else {
		err = m.checkNotForeign(ctx, r.objects)
	}
	if err != nil {
		return 0, err
	}
	var needed []int
	if previous != nil {
		// The failed revisions since the one replaced applied some of their objects before they failed:
		// those this revision does not render go too (as helm upgrade --cleanup-on-fail would have
		// removed them), or nothing would ever delete or repair them (an autoscaler left scaling istiod
		// against the replicas drift repair restores).
		if previous, needed, err = m.withFailedSince(ctx, desired, heads, current.Version, previous); err != nil {
			return 0, err
		}
	}
	if err := m.pruneHistory(ctx, desired, heads, needed); err != nil {
		return 0, err
	}
	rel := newRecord(desired, r, version, digest)
	if !isUpgrade {
		rel.Labels[InstalledAsLabel] = "install"
	}
	rel.SetStatus(rcommon.StatusPendingUpgrade, "Preparing upgrade")
	// As Helm does, the revision replaced is marked superseded before the new one is marked deployed:
	// there is never more than one deployed revision, not even when meshkeeper stops between the two
	// writes (the new revision is then left pending, and the next reconcile recovers it).
	supersede := func() error {
		if currentRecord == nil || currentRecord.Info.Status == rcommon.StatusSuperseded {
			return nil
		}
		currentRecord.Info.Status = rcommon.StatusSuperseded // its description stays, as Helm leaves it
		return m.updateRecord(ctx, currentRecord, nil, currentAt)
	}
	return version, m.run(ctx, desired, rel, r, previous, "Upgrade complete", supersede, !isUpgrade)
}

// recordObjects are the objects of a release record's manifest, as the API server names them: those of
// namespaced kinds without a namespace put into the release namespace, as Helm does when it reads a
// record, and those of cluster-scoped kinds without one. A record stores the objects as the templates
// wrote them, and a template may leave the namespace out; render puts such an object into the release
// namespace before it applies it, so without the same here an upgrade would take the object of the
// record and the one it just applied for two, and delete it. The same goes for a cluster-scoped object
// a record lists with a namespace, which the API server ignores when it reads or deletes the object:
// meshkeeper never renders one so (the chart guard refuses it), but anyone who may write Secrets in the
// release namespace can forge a record that does, and the upgrade would delete the release's webhook
// configurations and ClusterRoles it still renders. A kind the API server no longer serves is left as
// it is (there is nothing of it to delete). Each object holds only what identifies it and its
// helm.sh/resource-policy annotation (decodeIdentities).
func (m *ChartManager) recordObjects(rel *releasev1.Release, namespace string) ([]*unstructured.Unstructured, error) {
	objects, err := decodeIdentities(rel.Manifest)
	if err != nil {
		return nil, err
	}
	for _, obj := range objects {
		if obj.GetKind() == "" {
			continue
		}
		namespaced, err := m.client.IsObjectNamespaced(obj)
		switch {
		case isNoMatch(err):
			continue
		case err != nil:
			return nil, fmt.Errorf("looking up %s of revision %d: %w", obj.GetKind(), rel.Version, err)
		case !namespaced:
			obj.SetNamespace("")
		case obj.GetNamespace() == "":
			obj.SetNamespace(namespace)
		}
	}
	return objects, nil
}

// withFailedSince adds to objects those of the release's failed revisions of meshkeeper's newer than
// version that objects lacks. A record that cannot be read is passed over. needed are the revisions
// whose records are the first to list an object that objects lacks: the history pruning keeps them, for
// until an upgrade succeeds the next records need not list that object (the change that added it was
// reverted), and an object no record lists is never deleted.
func (m *ChartManager) withFailedSince(ctx context.Context, desired Release, heads []Head, version int,
	objects []*unstructured.Unstructured) ([]*unstructured.Unstructured, []int, error) {
	var needed []int
	for _, h := range heads {
		if h.Version <= version || h.Status != rcommon.StatusFailed || h.Digest == "" {
			continue
		}
		rel, err := m.readRecord(ctx, desired.Namespace, desired.Name, h.Version)
		if errors.Is(err, errUnreadable) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		failed, err := m.recordObjects(rel, desired.Namespace)
		if err != nil {
			return nil, nil, err
		}
		if extra := removed(failed, objects); len(extra) > 0 {
			needed = append(needed, h.Version)
			objects = append(objects, extra...)
		}
	}
	return objects, needed, nil
}

// deployedBefore tells whether a revision of the release was ever deployed.
func deployedBefore(heads []Head) bool {
	return slices.ContainsFunc(heads, func(h Head) bool {
		return h.Status == rcommon.StatusDeployed || h.Status == rcommon.StatusSuperseded
	})
}

// currentRevision is the revision an upgrade replaces, as Helm chooses it: the last one when it is
// deployed, else the deployed one, else the last one when it failed or was superseded; nil when none.
func currentRevision(heads []Head) *Head {
	if len(heads) == 0 {
		return nil
	}
	last := &heads[len(heads)-1]
	if last.Status == rcommon.StatusDeployed {
		return last
	}
	for i := len(heads) - 1; i >= 0; i-- {
		if heads[i].Status == rcommon.StatusDeployed {
			return &heads[i]
		}
	}
	if last.Status == rcommon.StatusFailed || last.Status == rcommon.StatusSuperseded {
		return last
	}
	return nil
}

// pruneHistory deletes the oldest records until maxHistory-1 remain, keeping the deployed one and those
// of the revisions needed (see withFailedSince). A record kept so is pruned once an upgrade succeeded
// after it: that upgrade deleted what it listed.
func (m *ChartManager) pruneHistory(ctx context.Context, desired Release, heads []Head, needed []int) error {
	excess := len(heads) - (maxHistory - 1)
	for _, h := range heads {
		if excess <= 0 {
			break
		}
		if h.Status == rcommon.StatusDeployed || slices.Contains(needed, h.Version) {
			continue
		}
		if err := m.deleteRecord(ctx, desired.Namespace, desired.Name, h.Version); err != nil {
			return err
		}
		excess--
	}
	return nil
}

// run stores rel as pending, applies r's objects, deletes those of previous that r no longer has (and
// desired's owner owns), tells desired.Applied, calls before (when not nil) and stores rel as deployed,
// or as failed with the error of any of these steps. asInstall tells that r was rendered as an install:
// a webhook configuration that istiod already switched to fail closed stays so (see keptFailClosed).
func (m *ChartManager) run(ctx context.Context, desired Release, rel *releasev1.Release, r *rendered, previous []*unstructured.Unstructured, done string, before func() error, asInstall bool) error {
	// The record is stored twice, pending and then deployed or failed; its chart and manifest, nearly
	// all of it, are compressed once.
	body, err := newRecordBody(rel, &m.charts)
	if err != nil {
		return fmt.Errorf("encoding revision %d of release %s: %w", rel.Version, rel.Name, err)
	}
	createdAt, err := m.createRecord(ctx, rel, body)
	if err != nil {
		return err
	}
	objects := r.objects
	if asInstall {
		objects, err = m.keepingFailClosed(ctx, objects)
	}
	if err == nil {
		err = m.applyObjects(ctx, objects, desired.FirstKinds)
	}
	if err == nil && previous != nil {
		err = m.deleteOwned(ctx, rel.Namespace, rel.Name, removed(previous, r.objects), desired.Owner)
	}
	if err == nil && desired.Applied != nil {
		desired.Applied()
	}
	if err == nil && before != nil {
		err = before()
	}
	if err != nil {
		rel.SetStatus(rcommon.StatusFailed, fmt.Sprintf("Release %q failed: %s", rel.Name, err))
		return errors.Join(err, m.updateRecord(ctx, rel, body, createdAt))
	}
	rel.SetStatus(rcommon.StatusDeployed, done)
	if err := m.updateRecord(ctx, rel, body, createdAt); err != nil {
		return err
	}
	m.remember(rel.Namespace, rel.Name, rel.Labels[DigestLabel], r.objects)
	return nil
}

// unlock recovers a release a dead manager left pending: the pending revision is marked failed, and
// an upgrade replaces it, as it replaces a failed install or upgrade.
func (m *ChartManager) unlock(ctx context.Context, desired Release, digest string, heads []Head, last Head) (int, error) {
	pending, pendingAt, err := m.readRecordAt(ctx, desired.Namespace, desired.Name, last.Version)
	if errors.Is(err, errUnreadable) {
		// A pending record that cannot be read cannot be marked failed either: it is deleted, and the
		// release recovered from the revisions before it.
		ctrl.LoggerFrom(ctx).Info("Deleting a pending release record that cannot be read", "namespace", desired.Namespace, "error", err.Error())
		if err := m.deleteRecord(ctx, desired.Namespace, desired.Name, last.Version); err != nil {
			return 0, err
		}
		heads = heads[:len(heads)-1]
		if len(heads) == 0 {
			return m.install(ctx, desired, digest, 1)
		}
		return m.upgrade(ctx, desired, digest, heads)
	}
	if err != nil {
		return 0, err
	}
	pending.SetStatus(rcommon.StatusFailed, fmt.Sprintf("Marked failed by meshkeeper: the operation was left %s", last.Status))
	if err := m.updateRecord(ctx, pending, nil, pendingAt); err != nil {
		return 0, fmt.Errorf("unlocking release %s: %w", desired.Name, err)
	}
	heads[len(heads)-1].Status = rcommon.StatusFailed
	return m.upgrade(ctx, desired, digest, heads)
}

// newRecord is the release record of r, as Helm writes one.
func newRecord(desired Release, r *rendered, version int, digest string) *releasev1.Release {
	now := time.Now()
	return &releasev1.Release{
		Name:        desired.Name,
		Namespace:   desired.Namespace,
		Version:     version,
		Chart:       desired.Chart,
		Config:      desired.Values,
		Manifest:    r.manifest,
		Info:        &releasev1.Info{FirstDeployed: now, LastDeployed: now, Notes: r.notes},
		Labels:      map[string]string{DigestLabel: digest},
		ApplyMethod: "ssa",
	}
}

// remember keeps a release's objects for its digest, so the drift check after an install or upgrade
// does not render the chart again, and returns what it keeps of them (keepable).
func (m *ChartManager) remember(namespace, name, digest string, objects []*unstructured.Unstructured) []*unstructured.Unstructured {
	kept := keepable(objects)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.manifests[manifestKey(namespace, name)] = parsedManifest{key: digest, objects: kept}
	return kept
}

// remembered is what is kept of the render of the release name of namespace, and whether anything is.
func (m *ChartManager) remembered(namespace, name string) (parsedManifest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	parsed, ok := m.manifests[manifestKey(namespace, name)]
	return parsed, ok
}

// forget drops what is kept of an uninstalled release.
func (m *ChartManager) forget(namespace, name string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.manifests, manifestKey(namespace, name))
}

// manifestKey is the key of the release name of namespace in the chart manager's manifests.
func manifestKey(namespace, name string) string { return namespace + "/" + name }

// deleteOwned deletes the objects, read fresh, that carry owner's reference and not Helm's keep policy,
// and that the release name of namespace applied last; one that is gone already is left out, one that
// is not the owner's, or that another release applied last, is left as it is and logged.
//
// An object two releases render (a chart's bug, or one moving from one release to another in a single
// change) is the last one's to apply: an upgrade of the other that no longer renders it, or its
// uninstall, leaves it to that release. So does a forged record that lists the objects of another
// release, or objects no release applies (the ServiceMesh's policies).
//
// Every object is read before any is deleted: when one of them was orphaned (orphaned), none is
// deleted, and the answer is an *OrphanedError naming them.
func (m *ChartManager) deleteOwned(ctx context.Context, namespace, name string, objects []*unstructured.Unstructured, owner Owner) error {
	type deletion struct {
		obj, live *unstructured.Unstructured
		key       client.ObjectKey
	}
	var errs []error
	var doomed []deletion
	var orphans []string
	for _, obj := range objects {
		if obj.GetAnnotations()[keepPolicyAnnotation] == "keep" {
			continue
		}
		live := &unstructured.Unstructured{}
		live.SetGroupVersionKind(obj.GroupVersionKind())
		key := client.ObjectKeyFromObject(obj)
		if key.Namespace == "" {
			if namespaced, err := m.client.IsObjectNamespaced(obj); err == nil && namespaced {
				key.Namespace = namespace
			}
		}
		if err := m.reader.Get(ctx, key, live); err != nil {
			if apierrors.IsNotFound(err) || isNoMatch(err) {
				continue
			}
			errs = append(errs, fmt.Errorf("reading %s %s before deleting it: %w", obj.GetKind(), key, err))
			continue
		}
		if !ownedBy(live, owner.UID) {
			if orphaned(live, owner, name, namespace) {
				orphans = append(orphans, obj.GetKind()+" "+strings.TrimPrefix(key.String(), "/"))
				continue
			}
			ctrl.LoggerFrom(ctx).Info("Not deleting an object of the release that the ServiceMesh does not own",
				"kind", obj.GetKind(), "namespace", key.Namespace, "name", key.Name)
			continue
		}
		if !appliedBy(live, name, namespace) {
			ctrl.LoggerFrom(ctx).Info("Not deleting an object of the release that another release applied last",
				"kind", obj.GetKind(), "namespace", key.Namespace, "name", key.Name, "release", name,
				"appliedBy", live.GetAnnotations()[releaseNameAnnotation])
			continue
		}
		doomed = append(doomed, deletion{obj: obj, live: live, key: key})
	}
	if len(orphans) > 0 {
		return &OrphanedError{Namespace: namespace, Release: name, Objects: orphans}
	}
	for _, d := range doomed {
		m.unverify(d.obj)
		err := m.client.Delete(ctx, d.live, client.PropagationPolicy(metav1.DeletePropagationBackground),
			client.Preconditions{UID: ptrTo(d.live.GetUID())})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting %s %s: %w", d.obj.GetKind(), d.key, err))
		}
	}
	return errors.Join(errs...)
}

// removed are the objects of previous that current does not have.
func removed(previous, current []*unstructured.Unstructured) []*unstructured.Unstructured {
	keep := map[string]bool{}
	for _, obj := range current {
		keep[objectKey(obj)] = true
	}
	var out []*unstructured.Unstructured
	for _, obj := range previous {
		if !keep[objectKey(obj)] {
			out = append(out, obj)
		}
	}
	slices.Reverse(out)
	return out
}

// objectKey identifies an object of a release across API versions: its group, kind, namespace and name.
func objectKey(u *unstructured.Unstructured) string {
	gvk := u.GroupVersionKind()
	return gvk.Group + "/" + gvk.Kind + " " + u.GetNamespace() + "/" + u.GetName()
}

func ptrTo[T any](v T) *T { return &v }
