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
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/kube"
	ri "helm.sh/helm/v4/pkg/release"
	rcommon "helm.sh/helm/v4/pkg/release/common"
	releasev1 "helm.sh/helm/v4/pkg/release/v1"
	"helm.sh/helm/v4/pkg/storage/driver"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

// maxHistory bounds the release Secrets Helm keeps per release.
const maxHistory = 3

// operationTimeout bounds one Helm operation. meshkeeper does not wait for workloads to become ready
// inside Helm: readiness is read from the cluster and reported in the status.
const operationTimeout = 5 * time.Minute

func init() {
	// Every write Helm makes for meshkeeper carries meshkeeper's field manager.
	kube.ManagedFieldsManager = meshv1alpha1.FieldManager
}

// Action is what Ensure did.
type Action string

// The actions Ensure reports: nothing, or the one Helm operation it ran.
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
	State   State
	Action  Action
	Release *releasev1.Release
	// Repaired lists the objects of an in-sync release that had drifted and were applied again.
	Repaired []string
}

// ChartManager installs, upgrades and uninstalls releases. Releases are stored as Secrets in the
// release namespace, as the helm CLI stores them, so `helm list -n istio-system` shows them.
type ChartManager struct {
	// CachedKinds are the kinds the client serves from its cache; drift checks read them there.
	CachedKinds map[schema.GroupVersionKind]bool

	config *rest.Config
	client client.Client
	reader client.Reader

	mu sync.Mutex
	// getters keep API discovery per namespace between operations; dropped after a failed operation.
	getters map[string]*restClientGetter
	// verified maps an object of a release to the resource version at which it last matched the release,
	// so a drift check of an unchanged object costs a cache read.
	verified map[string]string
	// manifests keeps the rendered objects of each release, for its current digest.
	manifests map[string]parsedManifest
}

// NewChartManager returns a chart manager for the cluster of config. c reads typed objects (from a cache,
// as the manager's client does) and unstructured objects from the API server, and applies; reader reads
// from the API server (release Secrets are not cached).
func NewChartManager(config *rest.Config, c client.Client, reader client.Reader) *ChartManager {
	return &ChartManager{config: config, client: c, reader: reader, getters: map[string]*restClientGetter{},
		verified: map[string]string{}, manifests: map[string]parsedManifest{}}
}

func (m *ChartManager) actionConfig(ctx context.Context, namespace string) (*action.Configuration, error) {
	m.mu.Lock()
	getter, ok := m.getters[namespace]
	if !ok {
		getter = newRESTClientGetter(m.config, namespace)
		m.getters[namespace] = getter
	}
	m.mu.Unlock()
	logger := slog.New(logr.ToSlogHandler(logr.FromContextOrDiscard(ctx).V(1).WithName("helm")))
	cfg := action.NewConfiguration(action.ConfigurationSetLogger(logger.Handler()))
	if err := cfg.Init(getter, namespace, "secret"); err != nil {
		m.forgetDiscovery(namespace)
		return nil, fmt.Errorf("setting up Helm for namespace %s: %w", namespace, err)
	}
	return cfg, nil
}

// forgetDiscovery drops what was discovered about the API, so the next operation sees new kinds.
func (m *ChartManager) forgetDiscovery(namespace string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.getters, namespace)
}

// Ensure brings the release to the desired state, acting only when it is not in sync. For a release in
// sync it checks the release's objects and applies again those that were deleted or edited. The state is
// read from the release Secrets' labels; a release is decoded only when its manifest is needed and not
// already known, since a release record holds the whole chart.
func (m *ChartManager) Ensure(ctx context.Context, desired Release) (Result, error) {
	digest, err := desired.Digest()
	if err != nil {
		return Result{}, err
	}
	heads, err := m.heads(ctx, desired.Namespace, desired.Name)
	if err != nil {
		return Result{}, err
	}
	state, last := DetermineState(heads, digest)
	result := Result{State: state, Action: ActionNone}

	if state == StateInSync {
		objects, err := m.renderedObjects(ctx, desired, digest)
		if err != nil {
			return result, err
		}
		result.Repaired, err = m.repairDrift(ctx, objects)
		if len(result.Repaired) > 0 {
			result.Action = ActionRepaired
		}
		return result, err
	}

	cfg, err := m.actionConfig(ctx, desired.Namespace)
	if err != nil {
		return result, err
	}
	switch state {
	case StateAbsent:
		result.Release, err = m.install(ctx, cfg, desired, digest)
		result.Action = ActionInstalled
	case StateOutOfSync, StateFailed:
		result.Release, err = m.upgrade(ctx, cfg, desired, digest)
		result.Action = ActionUpgraded
	case StateFailedInstall:
		if err = m.uninstall(cfg, desired.Name, desired.Owner); err == nil {
			result.Release, err = m.install(ctx, cfg, desired, digest)
		}
		result.Action = ActionRecovered
	case StateLocked:
		var pending *releasev1.Release
		if pending, err = m.revision(cfg, desired.Name, last.Version); err == nil {
			result.Release, err = m.unlock(ctx, cfg, pending, desired, digest)
		}
		result.Action = ActionRecovered
	}
	if err != nil {
		m.forgetDiscovery(desired.Namespace)
		return result, fmt.Errorf("%s release %s/%s (state %s): %w",
			result.Action.verb(), desired.Namespace, desired.Name, state, err)
	}
	return result, nil
}

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
		if err != nil {
			return nil, fmt.Errorf("release Secret %s/%s has no revision number: %w", namespace, s.Name, err)
		}
		heads = append(heads, Head{Version: version, Status: rcommon.Status(s.Labels["status"]),
			Digest: s.Labels[DigestLabel]})
	}
	return heads, nil
}

// revision decodes one revision of a release.
func (m *ChartManager) revision(cfg *action.Configuration, name string, version int) (*releasev1.Release, error) {
	r, err := cfg.Releases.Get(name, version)
	if err != nil {
		return nil, fmt.Errorf("reading revision %d of release %s: %w", version, name, err)
	}
	return asV1(r, nil)
}

// Uninstall removes a release and the objects it installed that owner owns, except those with Helm's
// keep policy (the Istio CRDs). A release that does not exist is not an error.
func (m *ChartManager) Uninstall(ctx context.Context, namespace, name string, owner Owner) error {
	cfg, err := m.actionConfig(ctx, namespace)
	if err != nil {
		return err
	}
	return m.uninstall(cfg, name, owner)
}

func (m *ChartManager) install(ctx context.Context, cfg *action.Configuration, desired Release, digest string) (*releasev1.Release, error) {
	install := action.NewInstall(cfg)
	install.ReleaseName = desired.Name
	install.Namespace = desired.Namespace
	install.WaitStrategy = kube.HookOnlyStrategy
	install.Timeout = operationTimeout
	install.ServerSideApply = true
	// An object that exists already is taken over only when meshkeeper rendered it before (the Istio
	// CRDs an earlier ServiceMesh left behind). Anything else, such as another Istio installation, makes
	// the install fail with Helm's message instead of being silently taken over.
	adopt, err := m.onlyOwnLeftovers(ctx, desired)
	if err != nil {
		return nil, err
	}
	install.TakeOwnership = adopt
	install.PostRenderer = stamper{release: desired}
	install.Labels = map[string]string{DigestLabel: digest}
	rel, err := install.RunWithContext(ctx, desired.Chart, desired.Values)
	return asV1(rel, err)
}

func (m *ChartManager) upgrade(ctx context.Context, cfg *action.Configuration, desired Release, digest string) (*releasev1.Release, error) {
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace = desired.Namespace
	upgrade.WaitStrategy = kube.HookOnlyStrategy
	upgrade.Timeout = operationTimeout
	upgrade.MaxHistory = maxHistory
	upgrade.ServerSideApply = "true"
	// meshkeeper owns these objects outright: an edit by someone else is drift to undo.
	upgrade.ForceConflicts = true
	upgrade.ResetValues = true
	upgrade.PostRenderer = stamper{release: desired}
	upgrade.Labels = map[string]string{DigestLabel: digest}
	rel, err := upgrade.RunWithContext(ctx, desired.Name, desired.Chart, desired.Values)
	return asV1(rel, err)
}

func (m *ChartManager) uninstall(cfg *action.Configuration, name string, owner Owner) error {
	// Helm deletes what the release record lists, and anyone who may write Secrets in the namespace can
	// forge a record: delete only what carries the owner's reference, which meshkeeper stamps on every
	// object it installs.
	kubeClient := cfg.KubeClient
	cfg.KubeClient = &ownedDeletes{Interface: kubeClient, owner: types.UID(owner.UID), logger: cfg.Logger()}
	defer func() { cfg.KubeClient = kubeClient }()
	uninstall := action.NewUninstall(cfg)
	uninstall.WaitStrategy = kube.HookOnlyStrategy
	uninstall.Timeout = operationTimeout
	uninstall.IgnoreNotFound = true
	uninstall.DeletionPropagation = "background"
	if _, err := uninstall.Run(name); err != nil && !errors.Is(err, driver.ErrReleaseNotFound) {
		return fmt.Errorf("uninstalling release %s: %w", name, err)
	}
	return nil
}

// unlock recovers a release a dead manager left pending: an interrupted install is removed and done
// again; an interrupted upgrade or rollback is marked failed, so the upgrade can run again.
func (m *ChartManager) unlock(ctx context.Context, cfg *action.Configuration, last *releasev1.Release, desired Release, digest string) (*releasev1.Release, error) {
	if last.Info.Status == rcommon.StatusPendingInstall && last.Version == 1 {
		if err := m.uninstall(cfg, desired.Name, desired.Owner); err != nil {
			return nil, err
		}
		return m.install(ctx, cfg, desired, digest)
	}
	last.SetStatus(rcommon.StatusFailed, fmt.Sprintf("Marked failed by meshkeeper: the operation was left %s", last.Info.Status))
	if err := cfg.Releases.Update(last); err != nil {
		return nil, fmt.Errorf("unlocking release %s: %w", desired.Name, err)
	}
	return m.upgrade(ctx, cfg, desired, digest)
}

func asV1(r ri.Releaser, err error) (*releasev1.Release, error) {
	switch rel := r.(type) {
	case *releasev1.Release:
		return rel, err
	case nil:
		return nil, err
	default:
		return nil, errors.Join(err, fmt.Errorf("unexpected release type %T", r))
	}
}

// stamper is the post-renderer of a release (see PostRender).
type stamper struct{ release Release }

func (s stamper) Run(rendered *bytes.Buffer) (*bytes.Buffer, error) {
	out, err := PostRender(rendered.Bytes(), s.release)
	if err != nil {
		return nil, err
	}
	return bytes.NewBuffer(out), nil
}
