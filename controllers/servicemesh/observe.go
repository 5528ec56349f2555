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
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	policycontroller "github.com/meshkeeper/meshkeeper/controllers/policy"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/apply"
	"github.com/meshkeeper/meshkeeper/internal/policy"
	"github.com/meshkeeper/meshkeeper/internal/render"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// The proxy count reads pods, which the cache keeps stripped to the sidecar's fields.
// +kubebuilder:rbac:groups="",resources=pods,verbs=get;list;watch

// observation is everything the status of a ServiceMesh is computed from: the outcome of the
// control-plane phase and one read of the cluster, each object read once. The setters of status.go
// turn it into conditions without reading anything. A part that is nil was not observed (a read
// failed), and the conditions computed from it keep their last value.
type observation struct {
	// generation is the ServiceMesh's generation; every condition set from the observation carries it.
	generation int64
	// spec is the ServiceMesh's spec, as read.
	spec *meshv1alpha1.ServiceMeshSpec
	// tagMoved is the control-plane phase's failure after the default tag moved, nil otherwise: the
	// status reports the revision injection follows (computeStatus).
	tagMoved *tagMoved
	// canaryRollback is the canary rollback that holds for this generation (recorded in the status, or
	// just reported by the restarts); nil when none.
	canaryRollback *meshv1alpha1.CanaryRollbackStatus

	// controlPlaneErr is the control-plane phase's failure, a meshctx.Error that carries
	// ControlPlaneReady's reason; nil when both releases are in sync.
	controlPlaneErr error
	// installed is what the control-plane phase brought in sync; nil when it failed.
	installed *installation
	// istiod is the istiod Deployment: when the phase succeeded, the one it brought in sync (with revisions,
	// spec.version's revision's); when it failed, the one that serves the mesh (servingIstiod), which the
	// failure leaves as it is and which can still fail on its own. nil when it does not exist.
	istiod *appsv1.Deployment
	// istiodName is the name of that Deployment, in spec.namespace.
	istiodName string
	// istiodRead tells whether istiod was read.
	istiodRead bool
	// activeIstiodName is, while the default revision tag stays on an older revision than spec.version's
	// (a canary, or a new revision not available yet), the istiod Deployment of that revision, which
	// injects and validates for every enrolled namespace outside the canary; "" otherwise. activeIstiod
	// is it (nil when it does not exist), and activeIstiodRead tells whether it was read.
	activeIstiodName string
	activeIstiod     *appsv1.Deployment
	activeIstiodRead bool
	// cni is the CNI phase's outcome (cni.go); nil when it was not observed.
	cni *cniObservation

	// enrollmentErr is the terminal InvalidSpec failure of a spec whose enrollment cannot be decided;
	// then no namespace counts as enrolled and the data plane is not observed.
	enrollmentErr error
	namespaces    *namespacesObservation
	ingresses     *ingressesObservation
	proxies       *proxiesObservation
	policies      *policiesObservation
}

// namespacesObservation is every namespace judged by the enrollment decision and by its label.
type namespacesObservation struct {
	// enrolled are the namespaces the spec selects that carry the injection label.
	enrolled sets.Set[string]
	// pending are the namespaces the spec selects that do not carry it yet.
	pending []string
	// refused holds, by name, the namespaces whose injection label meshkeeper cannot put on or take
	// back because the API server refuses its last write (meshctx.Refusals), with that refusal: those
	// the spec selects, instead of among pending, and those it no longer selects that keep
	// meshkeeper's label.
	refused map[string]meshctx.Refusal
	// leaving are the namespaces the enrollment leaves out (no longer selected) that still carry an
	// injection label meshkeeper owns alone (keepsMeshkeepersLabel): their new pods get a sidecar until
	// the namespace controller has taken it back.
	leaving []string
	// conflicts are the namespaces the spec selects that keep an injection label of their user's.
	conflicts []string
	// podSecurity are the namespaces the spec selects whose Pod Security level rejects injected pods,
	// and privilege why.
	podSecurity []string
	privilege   policy.Privilege
	// cniExcluded are the namespaces the spec selects that spec.cni.excludeNamespaces lists while the
	// CNI agent redirects the injected pods: pods injected there would never start.
	cniExcluded []string
	// canaryNotEnrolled names the canary namespaces that are not enrolled, with why (canaryNotEnrolled).
	canaryNotEnrolled []string
	// overriddenNotEnrolled are the namespaces spec.mtls.namespaces gives a mode of their own that are
	// not enrolled, each with why (overriddenNotEnrolled).
	overriddenNotEnrolled map[string]string
}

// ingressesObservation is every Ingress judged as the Ingress controller judges it, and the
// ingress-nginx controller workload.
type ingressesObservation struct {
	// status counts the configured and skipped Ingresses.
	status meshv1alpha1.IngressesStatus
	// skipped names the skipped Ingresses by reason; pending those whose annotations are not applied yet;
	// refused, by name, those of them whose last write the API server refused (meshctx.Refusals).
	skipped map[string][]string
	pending []string
	refused map[string]meshctx.Refusal
	// enabled is spec.ingressNginx.enabled. When it is, controller is meshkeeper's decision about the
	// ingress-nginx controller workload, controllerApplied tells whether the workload is configured
	// and its pod template carries what meshkeeper decided, and controllerRollout how far that
	// template is rolled out.
	enabled bool
	// held names the workloads whose pod template still carries meshkeeper's sidecar settings while
	// the integration is off: they are being given back.
	held              []string
	controller        policy.PodTemplateDecision
	controllerApplied bool
	controllerRollout ingress.Rollout
}

// controllerWithoutSidecar tells whether the integration is on and the ingress-nginx controller does
// not run with its sidecar settings (yet): they are not decided, not in its pod template, or not rolled
// out to its pods, some of which still run without a sidecar.
func (o *ingressesObservation) controllerWithoutSidecar() bool {
	return o.enabled && (!o.controller.Configured || !o.controllerApplied || !o.controllerRollout.Done)
}

// restartsReported is what the restarts last reported. Before their first pass in this process (a
// restart of meshkeeper, another replica taking over), the stalled restarts the status records hold,
// and DataPlaneUpToDate with them: the restarts carry them on from the status (restart's classifyRollout),
// and only their own pass, which looked at the workloads again, drops the ones that rolled out. Clearing
// them in between would clear RestartStalled and its alert, and the record that holds back the restarts.
func restartsReported(mesh *meshv1alpha1.ServiceMesh, report *restart.Report) restart.Status {
	status, ok := report.Get()
	recorded := mesh.Status.Proxies.StalledRestarts
	if ok || len(recorded) == 0 {
		return status
	}
	status.StalledRestarts = slices.Clone(recorded)
	if c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionDataPlaneUpToDate); c != nil &&
		c.Reason == meshv1alpha1.ReasonRestartStalled {
		status.Stalled = c.Message
	} else {
		status.Stalled = fmt.Sprintf("%s restarted at %s made no progress for its deadline; meshkeeper starts no further "+
			"restart until it rolls out (fix the workload, or roll it back yourself)", recorded[0].Workload,
			recorded[0].RestartedAt.UTC().Format(time.RFC3339))
	}
	return status
}

// proxiesObservation is the proxy state of every pod of the enrolled namespaces, and of the ingress-nginx
// controller's pods with a sidecar in a namespace that is not enrolled.
type proxiesObservation struct {
	status meshv1alpha1.ProxiesStatus
	// needRestart counts, per namespace, the pods without a sidecar or with an outdated one.
	needRestart map[string]int
	// withoutSidecar counts, per namespace, the pods without a sidecar.
	withoutSidecar map[string]int
	// cniOff counts the outdated pods injected for a CNI agent while istiod no longer injects for one.
	cniOff int32
	// restarts is what the data-plane restarts last reported.
	restarts restart.Status
	// meshConfigs is status.meshConfigs: the mesh configs the pods were judged against, by name.
	meshConfigs []meshv1alpha1.MeshConfigStatus
}

// policiesObservation is every policy object meshkeeper would write or wrote, against what it wants.
type policiesObservation struct {
	// served tells whether the API server serves the policy kinds (their CRDs come with istio-base).
	served bool
	// discovery is, when served is false, the discovery failure that left it unknown whether the kinds
	// are served (past the lookup's quick retries); nil when discovery answered that they are not.
	discovery error
	// conflicts are wanted objects someone else wrote; altered are meshkeeper's own objects holding
	// fields someone else added (named with the fields); pending are wanted objects missing or unwanted
	// ones of meshkeeper's still there.
	conflicts, altered, pending []string
	// applied counts the wanted objects in place.
	applied int
}

// readerAfter is where to read a workload meshkeeper judges (istiod's Deployment, the CNI agent's
// DaemonSet) from: the cache, unless this reconcile wrote its release. The cache shows that write only a
// moment later, so the workload as it was, rolled out, would look ready, and Ready be True for a change
// its controller has not even seen; the API server has it as written.
func (r *Reconciler) readerAfter(written bool) client.Reader {
	if written {
		return r.APIReader
	}
	return r.Client
}

// observe makes the one read of the cluster a status needs.
func (r *Reconciler) observe(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, installed *installation,
	controlPlaneErr error, policiesServed bool) (*observation, error) {
	obs := &observation{generation: mesh.Generation, spec: &mesh.Spec, controlPlaneErr: controlPlaneErr, installed: installed,
		canaryRollback: meshctx.CanaryRollback(mesh, r.Restarts.Value().CanaryRollback)}
	switch {
	case installed != nil:
		obs.istiodName = installed.deployment
	case meshctx.Classify(controlPlaneErr) != nil && r.Policy.CheckNamespace(mesh.Spec.Namespace, "spec.namespace") == nil:
		// The phase failed: istiod is whatever the last phase that succeeded left, and it can go down
		// for reasons of its own (a node drained, a crash loop) while the failure lasts for days. In a
		// namespace the installer did not allow, meshkeeper runs nothing, and its cache holds nothing.
		obs.istiodName = servingIstiod(mesh)
	}
	// From the cache, which holds meshkeeper's managed Deployments: no live read on every pass, but
	// after this reconcile wrote it.
	readIstiod := func(name string) (*appsv1.Deployment, error) {
		deployment := &appsv1.Deployment{}
		err := r.readerAfter(installed != nil && installed.deploymentWritten).Get(ctx, client.ObjectKey{Namespace: mesh.Spec.Namespace, Name: name}, deployment)
		switch {
		case apierrors.IsNotFound(err):
			return nil, nil
		case err != nil:
			return nil, fmt.Errorf("reading the istiod Deployment %s: %w", name, err)
		}
		return deployment, nil
	}
	if obs.istiodName != "" {
		istiod, err := readIstiod(obs.istiodName)
		if err != nil {
			return obs, err
		}
		obs.istiod, obs.istiodRead = istiod, true
	}
	if installed != nil && installed.activeDeployment != "" && installed.activeDeployment != installed.deployment {
		obs.activeIstiodName = installed.activeDeployment
		active, err := readIstiod(obs.activeIstiodName)
		if err != nil {
			return obs, err
		}
		obs.activeIstiod, obs.activeIstiodRead = active, true
	}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		obs.enrollmentErr = err
		return obs, nil
	}
	namespaces := &corev1.NamespaceList{}
	if err := r.List(ctx, namespaces); err != nil {
		return obs, fmt.Errorf("listing namespaces: %w", err)
	}
	var onceInjecting *policy.Enrollment
	if meshctx.InjectorPending(mesh) {
		if onceInjecting, err = meshctx.EnrollmentOnceInjecting(mesh); err != nil {
			obs.enrollmentErr = err
			return obs, nil
		}
	}
	obs.namespaces = observeNamespaces(namespaces.Items, enrollment, onceInjecting, r.NamespaceRefusals)
	obs.namespaces.canaryNotEnrolled = canaryNotEnrolled(mesh, namespaces.Items, enrollment, obs.namespaces)
	obs.namespaces.overriddenNotEnrolled = overriddenNotEnrolled(&mesh.Spec, namespaces.Items, enrollment, obs.namespaces)
	if obs.ingresses, err = r.observeIngresses(ctx, mesh); err != nil {
		return obs, err
	}
	version := cmp.Or(mesh.Status.Version, mesh.Spec.Version)
	revision := mesh.Status.Revision
	if installed != nil {
		version, revision = installed.version, installed.revision
	}
	var serving *revisionInstallation
	if installed != nil {
		serving = installed.revisions
	} else {
		serving = servingFromStatus(mesh)
	}
	if obs.proxies, err = r.observeProxies(ctx, mesh, installed, serving, obs.namespaces.enrolled, obs.ingresses, version, revision); err != nil {
		return obs, err
	}
	obs.proxies.restarts = restartsReported(mesh, r.Restarts)
	if !policiesServed {
		obs.policies = &policiesObservation{}
		if r.policyWatches != nil {
			obs.policies.discovery = r.policyWatches.DiscoveryFailed()
		}
		return obs, nil
	}
	obs.policies, err = r.observePolicies(ctx, mesh, namespaces.Items, enrollment)
	return obs, err
}

// observeNamespaces judges every namespace: a namespace counts as enrolled once it carries the
// injection label. onceInjecting, when not nil, is the enrollment once istiod is installed for the CNI
// agent (status.cni.injectorPending): a namespace whose Pod Security level rejects istio-init, and
// which that enrollment enrolls, is being enrolled, not rejected. refusals are the namespaces whose
// label write the API server refuses, as the namespace controller records them: such a namespace is
// refused rather than being enrolled, or, when it keeps a label of meshkeeper's that it should give
// back, refused rather than left out.
func observeNamespaces(namespaces []corev1.Namespace, enrollment, onceInjecting *policy.Enrollment,
	refusals *meshctx.Refusals) *namespacesObservation {
	obs := &namespacesObservation{enrolled: sets.New[string](), privilege: enrollment.Privilege()}
	for i := range namespaces {
		ns := &namespaces[i]
		key, value := enrollment.LabelFor(ns.Name)
		owned := apply.OwnedKeys(ns, "labels")
		d := enrollment.Namespace(ns, owned)
		refusal, refused := refusals.Of(ns.Name)
		switch {
		case d.Enroll && ns.Labels[key] == value:
			obs.enrolled.Insert(ns.Name)
		case refused && (d.Enroll || owned.HasAny(policy.LabelIstioInjection, policy.LabelIstioRevision)):
			if obs.refused == nil {
				obs.refused = map[string]meshctx.Refusal{}
			}
			obs.refused[ns.Name] = refusal
		case d.Enroll:
			obs.pending = append(obs.pending, ns.Name)
		case d.Reason == policy.InjectionLabelConflict:
			obs.conflicts = append(obs.conflicts, ns.Name)
		case d.Reason == policy.PodSecurityRejectsSidecar && onceInjecting != nil && onceInjecting.Namespace(ns, owned).Enroll:
			obs.pending = append(obs.pending, ns.Name)
		case d.Reason == policy.PodSecurityRejectsSidecar:
			obs.podSecurity = append(obs.podSecurity, ns.Name)
		case d.Reason == policy.CNIExcludesNamespace:
			obs.cniExcluded = append(obs.cniExcluded, ns.Name)
		case d.Labels != nil && keepsMeshkeepersLabel(ns, owned):
			obs.leaving = append(obs.leaving, ns.Name)
		}
	}
	return obs
}

// keepsMeshkeepersLabel tells whether a namespace still carries an injection label that meshkeeper owns
// and no other field manager keeps: one the enrollment leaves out loses it once the namespace controller
// takes it back. A label another manager owns as well stays when meshkeeper gives up its share, as the
// owner's.
func keepsMeshkeepersLabel(ns *corev1.Namespace, owned sets.Set[string]) bool {
	mine := owned.Intersection(sets.New(policy.LabelIstioInjection, policy.LabelIstioRevision))
	if mine.Len() == 0 {
		return false
	}
	return mine.Difference(apply.OthersKeys(ns, "labels")).Len() > 0
}

// overriddenNotEnrolled names the namespaces spec.mtls.namespaces gives a mode of their own that are
// neither enrolled nor being enrolled, each with the reason of the enrollment's decision ("not selected
// by spec.injection" for NotSelected), or NamespaceWriteRefused for one it selects whose label the API
// server refuses. meshkeeper writes their PeerAuthentication all the same, but only a sidecar enforces
// one, and their pods have none. A namespace that does not exist or is being
// deleted is not named (it has no pods to protect, and gets its PeerAuthentication once created), nor
// is the control-plane namespace, whose PeerAuthentication is the mesh-wide default, nor one the
// enrollment leaves out that keeps meshkeeper's injection label because the API server refuses its
// removal (judged.refused): its pods still get a sidecar, which enforces the mode, and
// NamespacesEnrolled names it with NamespaceWriteRefused.
func overriddenNotEnrolled(spec *meshv1alpha1.ServiceMeshSpec, namespaces []corev1.Namespace, enrollment *policy.Enrollment,
	judged *namespacesObservation) map[string]string {
	if len(spec.MTLS.Namespaces) == 0 {
		return nil
	}
	pending := sets.New(judged.pending...)
	out := map[string]string{}
	for i := range namespaces {
		ns := &namespaces[i]
		if _, listed := spec.MTLS.Namespaces[ns.Name]; !listed || ns.Name == spec.Namespace ||
			judged.enrolled.Has(ns.Name) || pending.Has(ns.Name) {
			continue
		}
		d := enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels"))
		_, refused := judged.refused[ns.Name]
		switch {
		case d.Reason == policy.Terminating:
		case refused && !d.Enroll:
			// Left out, it keeps meshkeeper's label, which the API server refuses to let go.
		case d.Enroll:
			// Selected, neither enrolled nor being enrolled: the API server refuses meshkeeper's label
			// (judged.refused), and d.Reason says only how spec.injection selects it.
			out[ns.Name] = meshv1alpha1.ReasonNamespaceWriteRefused
		case d.Reason == policy.NotSelected:
			out[ns.Name] = "not selected by spec.injection"
		default:
			out[ns.Name] = d.Reason
		}
	}
	return out
}

// observeIngresses judges the ingress-nginx controller workload and every Ingress as the controllers do.
func (r *Reconciler) observeIngresses(ctx context.Context, mesh *meshv1alpha1.ServiceMesh) (*ingressesObservation, error) {
	enabled := policy.IngressNginxEnabled(mesh.Spec.IngressNginx)
	view, err := ingress.NewView(ctx, r.Client, r.Informers, mesh,
		ingress.ControllerSource{Report: r.IngressWorkload, Workloads: r.Workloads, APIReader: r.APIReader, Namespaces: r.Client, Reviews: r.Client})
	if e := meshctx.Classify(err); e != nil && e.Reason == meshv1alpha1.ReasonServiceCIDRsUnknown {
		// The controllers apply nothing of the integration until the Service ranges are known.
		return &ingressesObservation{enabled: enabled, controller: policy.PodTemplateDecision{Reason: e.Reason, Message: e.Error()}}, nil
	}
	if err != nil {
		return nil, err
	}
	// Read-only: the cache's own objects, not copies, for thousands of Ingresses on every pass.
	ingresses := &networkingv1.IngressList{}
	if err := r.List(ctx, ingresses, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("listing Ingresses: %w", err)
	}
	obs := &ingressesObservation{skipped: map[string][]string{}, enabled: enabled}
	for i := range ingresses.Items {
		ing := &ingresses.Items[i]
		d, err := view.Decide(ctx, ing)
		if err != nil {
			return nil, err
		}
		applied := d.Annotations == nil || meshctx.OwnsExactly(ing.Annotations, apply.OwnedKeys(ing, "annotations"), d.Annotations)
		switch {
		case !applied:
			key := ing.Namespace + "/" + ing.Name
			if refusal, refused := r.IngressRefusals.Of(key); refused {
				if obs.refused == nil {
					obs.refused = map[string]meshctx.Refusal{}
				}
				obs.refused[key] = refusal
			} else {
				obs.pending = append(obs.pending, key)
			}
		case d.Configured:
			obs.status.Configured++
		case d.Skipped():
			obs.skipped[d.Reason] = append(obs.skipped[d.Reason], ing.Namespace+"/"+ing.Name)
		}
	}
	if len(obs.skipped) > 0 {
		obs.status.SkippedByReason = map[string]int32{}
		for reason, list := range obs.skipped {
			obs.status.SkippedByReason[reason] = int32(len(list))
			obs.status.Skipped += int32(len(list))
		}
	}
	if !obs.enabled && r.Workloads != nil {
		if obs.held, err = ingress.HeldWorkloads(ctx, r.Workloads); err != nil {
			return nil, err
		}
	}
	if obs.enabled {
		state := view.Controller()
		obs.controller, obs.controllerApplied, obs.controllerRollout = state.Decision, state.Applied, state.Rollout
	}
	return obs, nil
}

// servingIstiod is the istiod Deployment that serves the mesh as the status records it, read while the
// control-plane phase fails: the active revision's (istiod-<revision>, or istiod for the revision
// "default"); istiod when no revision is recorded and the mesh runs without revisions, or ran without
// them when its last phase succeeded (a switch to RevisionBased that fails); "" for a RevisionBased mesh
// that has recorded nothing installed.
func servingIstiod(mesh *meshv1alpha1.ServiceMesh) string {
	switch rev := mesh.Status.ActiveRevision; {
	case rev != "":
		return revisionDeployment(rev)
	case revisionBased(mesh) && mesh.Status.Version == "":
		return ""
	default:
		return istiodDeployment
	}
}

// servingFromStatus is which revisions serve which namespaces as the status reports them, for a
// RevisionBased mesh whose control-plane phase failed or was held off this pass (nil for one without
// revisions): the active revision, and the canary revision for the canary namespaces (the revision the
// namespace controller labels them for).
func servingFromStatus(mesh *meshv1alpha1.ServiceMesh) *revisionInstallation {
	if !revisionBased(mesh) || mesh.Status.ActiveRevision == "" || len(mesh.Status.Revisions) == 0 {
		return nil
	}
	ri := &revisionInstallation{active: mesh.Status.ActiveRevision, canary: meshctx.CanaryRevision(mesh),
		versions: map[string]string{}}
	if canary := mesh.Spec.UpdateStrategy.Canary; canary != nil {
		ri.canaryNamespaces = canary.Namespaces
	}
	for _, rev := range mesh.Status.Revisions {
		ri.versions[rev.Name] = rev.Version
	}
	return ri
}

// observeProxies judges the proxy of every pod of the enrolled namespaces against the revision that
// serves its namespace (serving; nil for a mesh without revisions), or else the installed version and
// revision; and the sidecars of the ingress-nginx controller's pods in a namespace that is not enrolled
// (ingressControllerPods).
func (r *Reconciler) observeProxies(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, installed *installation,
	serving *revisionInstallation, enrolled sets.Set[string], ingresses *ingressesObservation, version, revision string) (*proxiesObservation, error) {
	meshConfig := meshConfigName
	if installed != nil {
		meshConfig = installed.meshConfig
	}
	// Each revision has its own mesh config: a pod is judged against the one of the revision that
	// serves its namespace, not against the newest revision's.
	configs := meshctx.NewMeshConfigs(r.Client, r.Policy, mesh)
	// Every installed revision's mesh config is recorded, whether pods use it yet or not, so the record
	// is there before an edit of it that drift repair undoes.
	installedConfigs := []string{meshConfig}
	if installed != nil && installed.revisions != nil {
		installedConfigs = installedConfigs[:0]
		for rev := range installed.revisions.versions {
			installedConfigs = append(installedConfigs, revisionMeshConfig(rev))
		}
	}
	for _, name := range installedConfigs {
		if _, err := configs.Since(ctx, name); err != nil {
			return nil, err
		}
	}
	obs := &proxiesObservation{needRestart: map[string]int{}, withoutSidecar: map[string]int{}}
	tags := meshctx.NewProxyTags(mesh)
	// Pods injected for the CNI agent are outdated once istiod no longer injects for it: the agent is
	// uninstalled as CNI is turned off, once no istiod injects for it any more.
	cni := meshctx.InjectsForCNI(mesh)
	podReader := meshctx.PodsOr(r.Pods, r.Client)
	for _, namespace := range sets.List(enrolled) {
		pods, err := podReader.ListPods(ctx, namespace)
		if err != nil {
			return nil, fmt.Errorf("listing the pods of namespace %s: %w", namespace, err)
		}
		for _, pod := range pods {
			if err := obs.count(ctx, pod, pod.Namespace, serving, version, revision, meshConfig, configs, tags, cni); err != nil {
				return nil, err
			}
		}
	}
	controllerPods, err := r.ingressControllerPods(ctx, mesh, podReader, enrolled, ingresses)
	if err != nil {
		return nil, err
	}
	for _, pod := range controllerPods {
		// The default injector gives them their sidecar, as it does to the pods of a namespace labelled
		// istio-injection=enabled: they are judged as the pods of an enrolled namespace that is no canary
		// namespace are (the active revision, or the installed one).
		if err := obs.count(ctx, pod, "", serving, version, revision, meshConfig, configs, tags, cni); err != nil {
			return nil, err
		}
	}
	// When the control-plane phase failed or is held off, which revisions are installed is not known
	// this pass: the records of the mesh configs not judged against are kept as they were.
	obs.meshConfigs = configs.Recorded(installed == nil)
	return obs, nil
}

// ingressControllerPods are the pods of the ingress-nginx controller workload that have a sidecar, when
// the integration is on and gives the workload its sidecar, and its namespace is not enrolled (the pods
// of an enrolled one are counted with its other pods). Their sidecar comes from their pod template, not
// from their namespace: left out, an upgrade would leave them on the old proxy (and, with revisions, keep
// the old revision in use) with nothing reporting it or restarting them. The controller's pods without a
// sidecar are left out: while the template rolls out they are the workload's own rollout, which
// IngressesConfigured and MTLSReady report (ingressesObservation.controllerWithoutSidecar), and when the
// template gets no sidecar a restart would give them none. Other pods of the namespace are not the
// mesh's. The workload is read from the workload cache, its ReplicaSets from ReplicaSets; without a
// workload cache (a reconciler that was not set up with it) there are none.
func (r *Reconciler) ingressControllerPods(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, podReader meshctx.Pods,
	enrolled sets.Set[string], ingresses *ingressesObservation) ([]*policy.ProxyPod, error) {
	ref := meshctx.IngressController(mesh)
	if ref == nil || enrolled.Has(ref.Namespace) || ingresses == nil || !ingresses.enabled || !ingresses.controller.Configured ||
		r.Workloads == nil {
		return nil, nil
	}
	pods, err := podReader.ListPods(ctx, ref.Namespace)
	if err != nil {
		return nil, fmt.Errorf("listing the pods of namespace %s: %w", ref.Namespace, err)
	}
	var candidates []*policy.ProxyPod
	for _, pod := range pods {
		if meshctx.MayBeControllerPod(ref, pod) {
			candidates = append(candidates, pod)
		}
	}
	if len(candidates) == 0 {
		return nil, nil
	}
	workload, err := ingress.CachedWorkload(ctx, r.Workloads, *ref)
	if err != nil || workload == nil {
		return nil, err
	}
	replicaSets := r.ReplicaSets
	if replicaSets == nil {
		replicaSets = r.Workloads
	}
	var owned []*policy.ProxyPod
	for _, pod := range candidates {
		ok, err := meshctx.PodOfWorkload(ctx, replicaSets, pod, ref, workload.UID)
		if err != nil {
			return nil, fmt.Errorf("following pod %s/%s to the ingress-nginx controller: %w", pod.Namespace, pod.Name, err)
		}
		if ok {
			owned = append(owned, pod)
		}
	}
	return owned, nil
}

// count judges one pod's proxy into obs, against what serves namespace ("": what serves a namespace that
// is no canary namespace).
func (obs *proxiesObservation) count(ctx context.Context, pod *policy.ProxyPod, namespace string, serving *revisionInstallation,
	version, revision, meshConfig string, configs *meshctx.MeshConfigs, tags *meshctx.ProxyTags, cni bool) error {
	in := policy.ProxyInput{Pod: pod, Version: version, Revision: revision, CNI: cni}
	config := meshConfig
	if serving != nil {
		// A pod is outdated when its revision is not the one its namespace is served by.
		in.Version, in.Revision = serving.serving(namespace)
		config = revisionMeshConfig(in.Revision)
	}
	in.ProxyTag = tags.For(in.Version)
	var err error
	if in.MeshConfigSince, err = configs.Since(ctx, config); err != nil {
		return err
	}
	state := policy.Proxy(in)
	if state == policy.ProxyNotCounted {
		return nil
	}
	obs.status.Total++
	switch state {
	case policy.ProxyCurrent:
		obs.status.Current++
	case policy.ProxyMissing:
		obs.status.WithoutSidecar++
		obs.needRestart[pod.Namespace]++
		obs.withoutSidecar[pod.Namespace]++
	case policy.ProxyOutdated:
		obs.status.Outdated++
		obs.needRestart[pod.Namespace]++
		if pod.InjectedForCNI && !in.CNI {
			obs.cniOff++
		}
	}
	return nil
}

// meshConfigName is the ConfigMap of the mesh config the istiod chart renders.
const meshConfigName = "istio"

// revisionMeshConfig is the mesh config ConfigMap of a revision.
func revisionMeshConfig(rev string) string {
	if rev == revision.Legacy {
		return meshConfigName
	}
	return meshConfigName + "-" + rev
}

// observePolicies compares the policy objects as the cluster has them (their metadata, from the cache)
// with the ones render.Policies wants, which are the ones the policy controller writes.
func (r *Reconciler) observePolicies(ctx context.Context, mesh *meshv1alpha1.ServiceMesh, namespaces []corev1.Namespace,
	enrollment *policy.Enrollment) (*policiesObservation, error) {
	// desired are the objects meshkeeper wants, by kind and namespace.
	desired := map[schema.GroupVersionKind]map[string]*unstructured.Unstructured{}
	for _, gvk := range render.PolicyKinds {
		desired[gvk] = map[string]*unstructured.Unstructured{}
	}
	meshSidecars := r.PolicyMeshSidecars
	if meshSidecars == nil {
		// A reconciler not set up with a manager: one for this pass, which reads each Sidecar of the
		// root namespace once.
		meshSidecars = policycontroller.NewMeshSidecars(r.APIReader)
	}
	root, err := meshSidecars.Find(ctx, r.Client, mesh)
	if err != nil {
		return nil, err
	}
	for i := range namespaces {
		ns := &namespaces[i]
		enrolled := enrollment.Namespace(ns, apply.OwnedKeys(ns, "labels")).Enroll
		objects, _ := render.Policies(mesh, ns, enrolled, root)
		for gvk, obj := range objects {
			desired[gvk][ns.Name] = obj
		}
	}

	obs := &policiesObservation{served: true}
	for _, gvk := range render.PolicyKinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
		if err := r.List(ctx, list); err != nil {
			return nil, fmt.Errorf("listing %ss: %w", gvk.Kind, err)
		}
		found := sets.New[string]()
		others := map[string][]metav1.PartialObjectMetadata{} // objects of other names where meshkeeper wants its own, by namespace
		for _, item := range list.Items {
			if item.Name != render.PolicyName {
				if _, wanted := desired[gvk][item.Namespace]; wanted && r.PolicyRivals != nil {
					item.SetGroupVersionKind(gvk)
					others[item.Namespace] = append(others[item.Namespace], item)
				}
				continue
			}
			name := gvk.Kind + " " + item.Namespace + "/" + item.Name
			ours := meshctx.Generated(&item, mesh)
			found.Insert(item.Namespace)
			want, wanted := desired[gvk][item.Namespace]
			var altered []string // the fields someone else added to meshkeeper's object, as the policy controller found them
			if wanted && ours && r.PolicySpecs != nil {
				altered = r.PolicySpecs.Altered(gvk, client.ObjectKeyFromObject(&item), &item)
			}
			switch {
			case wanted && !ours:
				obs.conflicts = append(obs.conflicts, name)
			case wanted && len(altered) > 0:
				// Someone else's fields beside meshkeeper's spec change what the object does, and no apply
				// of meshkeeper's removes them.
				obs.altered = append(obs.altered, name+" ("+meshctx.Names(altered, 3)+")")
			case wanted && r.PolicySpecs != nil && r.PolicySpecs.Stale(gvk, client.ObjectKeyFromObject(&item), &item, want):
				// In place, but with a spec the policy controller has yet to change (or fails to).
				obs.pending = append(obs.pending, name)
			case wanted:
				obs.applied++
			case ours:
				obs.pending = append(obs.pending, name+" (to remove)")
			}
		}
		if r.PolicyRivals != nil {
			r.PolicyRivals.Forget(gvk, list.Items)
		}
		rivalled := sets.New[string]()
		for _, ns := range slices.Sorted(maps.Keys(others)) {
			rivals, err := r.PolicyRivals.Find(ctx, mesh, gvk, others[ns]) // Find leaves out meshkeeper's own
			if err != nil {
				return nil, err
			}
			for _, rival := range rivals {
				obs.conflicts = append(obs.conflicts, gvk.Kind+" "+rival.Namespace+"/"+rival.Name)
				rivalled.Insert(ns)
			}
		}
		for _, ns := range sets.List(sets.KeySet(desired[gvk]).Difference(found).Difference(rivalled)) {
			obs.pending = append(obs.pending, gvk.Kind+" "+ns+"/"+render.PolicyName)
		}
	}
	return obs, nil
}
