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

package restart

import (
	"fmt"
	"math"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// defaultDeadline is how long a rollout of a kind without progressDeadlineSeconds (StatefulSet,
// DaemonSet) may go without progress, and a Deployment's when it does not say.
const defaultDeadline = 10 * time.Minute

// maxCoolOff is the longest a workload's deadline holds back another restart of it after meshkeeper's
// last one (coolOff). progressDeadlineSeconds has no upper bound, and 2147483647, Kubernetes' "no
// deadline", would hold it back for 68 years: such a deadline counts as defaultDeadline here.
const maxCoolOff = time.Hour

// workload is a Deployment, StatefulSet or DaemonSet as the restarts see it.
type workload struct {
	kind string
	obj  client.Object
	// restartedAt is the time in meshkeeper's pod-template annotation; zero when absent or unreadable.
	restartedAt time.Time
	// restartedOnto is the revision whose pods that restart was for, as meshkeeper's pod-template
	// annotation records it next to restartedAt; restartedOntoRecorded is false when the annotation is
	// absent (a restart by a meshkeeper that did not record it).
	restartedOnto         string
	restartedOntoRecorded bool
	// restartedFor is the digest of the target that restart was for (target.digest), as meshkeeper's
	// pod-template annotation records it; "" when absent.
	restartedFor string
	// appliedGeneration is the generation meshkeeper's apply of restartedAt gave the workload, when this
	// process just made that apply (see lagging); 0 otherwise.
	appliedGeneration int64
	// rolledOut: the controller saw the current spec and every desired pod is updated, ready and available.
	rolledOut bool
	// completed: the workload's controller says the rollout of its current pod template completed
	// (meshctx.RolloutCompleted: a Deployment or StatefulSet), and, of a StatefulSet, no replica is ready
	// and not yet available (see asWorkload). It says so through a later scale-up whose new pods are not
	// ready yet, where rolledOut does not: the restart that made the template rolled out, and a manager
	// that takes over, which never saw it roll out, can tell.
	completed bool
	// updatedEverywhere: a DaemonSet whose controller saw its current spec runs a pod of its current
	// template on every node that should run one, and at least one of them is available. Its status keeps
	// no verdict on a completed rollout, and a node that goes NotReady after the rollout lowers its ready
	// and available counts though nothing is left to roll: a manager that takes over, which never saw the
	// restart roll out, judges it done by this instead (classifyRollout). A pod of that template not ready
	// while others are is the node's trouble, not the template's; with none available, it may be the
	// template's.
	updatedEverywhere bool
	// deadline is how long a rollout may go without progress (progressDeadlineSeconds).
	deadline time.Duration
	// progressSince is since when a followed rollout made no progress, as classifyRollout last judged it;
	// zero when it did not (the deadline then runs from restartedAt).
	progressSince time.Time
	// held says why a change of the pod template would not roll the workload out (a paused Deployment,
	// a StatefulSet or DaemonSet updated only on delete, a StatefulSet with a partition, a workload being
	// deleted), or would not be meshkeeper's to make (another controller owns the workload); empty when
	// it would. meshkeeper never restarts such a workload, nor follows its rollout.
	held string
}

func (w *workload) key() string {
	return w.kind + " " + w.obj.GetNamespace() + "/" + w.obj.GetName()
}

// asWorkload reads one of the three kinds.
func asWorkload(obj client.Object) *workload {
	w := &workload{obj: obj, deadline: defaultDeadline, rolledOut: meshctx.RolledOut(obj), completed: meshctx.RolloutCompleted(obj)}
	var template *corev1.PodTemplateSpec
	switch o := obj.(type) {
	case *appsv1.Deployment:
		w.kind, template = "Deployment", &o.Spec.Template
		if o.Spec.ProgressDeadlineSeconds != nil {
			w.deadline = time.Duration(*o.Spec.ProgressDeadlineSeconds) * time.Second
		}
		if o.Spec.Paused {
			w.held = "paused"
		}
	case *appsv1.StatefulSet:
		w.kind, template = "StatefulSet", &o.Spec.Template
		switch u := o.Spec.UpdateStrategy; {
		case u.Type == appsv1.OnDeleteStatefulSetStrategyType:
			w.held = "updateStrategy OnDelete"
		case u.RollingUpdate != nil && u.RollingUpdate.Partition != nil && *u.RollingUpdate.Partition > 0:
			// Only the pods of ordinals at or above the partition are updated: never all of them.
			w.held = fmt.Sprintf("partition %d", *u.RollingUpdate.Partition)
		}
		if o.Status.AvailableReplicas < o.Status.ReadyReplicas {
			// The StatefulSet controller makes the current revision the update revision once every replica
			// is updated and ready, not available: a replica ready for less than minReadySeconds is still on
			// its way, and the controller waits for it as for any unavailable one. The rollout completes
			// once it is available.
			w.completed = false
		}
	case *appsv1.DaemonSet:
		w.kind, template = "DaemonSet", &o.Spec.Template
		w.updatedEverywhere = o.Status.ObservedGeneration >= o.Generation &&
			o.Status.UpdatedNumberScheduled == o.Status.DesiredNumberScheduled && o.Status.NumberAvailable > 0
		if o.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
			w.held = "updateStrategy OnDelete"
		}
	default:
		return nil
	}
	if obj.GetDeletionTimestamp() != nil {
		// Its controller leaves a workload being deleted alone (the Deployment controller writes only its
		// status) until it is gone, which another tool's finalizer may put off for long while its pods run
		// on: a restart would never roll out, and would hold the budget or count as stalled.
		w.held = "being deleted"
	}
	if owner := metav1.GetControllerOf(obj); owner != nil && w.held == "" {
		// Its controller (a Knative Revision, an operator's custom resource) writes its pod template: it
		// may write its own back over the annotation, which would restart it again and again or leave its
		// rollout followed for good. It is restarted through that controller.
		w.held = "controlled by " + owner.Kind + " " + owner.Name
	}
	if at, ok := template.Annotations[meshv1alpha1.RestartedAtAnnotation]; ok {
		w.restartedAt, _ = time.Parse(time.RFC3339, at)
	}
	w.restartedOnto, w.restartedOntoRecorded = template.Annotations[meshv1alpha1.RestartedOntoAnnotation]
	w.restartedFor = template.Annotations[meshv1alpha1.RestartedForAnnotation]
	return w
}

// coolOff is how long after meshkeeper's restart of the workload it is not restarted again (its pods that
// the restart created may still be on their way), and, twice over, how long after it a rollout not
// complete counts as meshkeeper's when this process did not follow the restart (classifyRollout): its
// deadline, at most maxCoolOff, and defaultDeadline for none (math.MaxInt32 seconds). The stall check
// keeps the deadline itself.
func (w *workload) coolOff() time.Duration {
	if w.deadline == math.MaxInt32*time.Second {
		return defaultDeadline
	}
	return min(w.deadline, maxCoolOff)
}

// optedOut tells whether the workload's own annotation keeps meshkeeper from restarting it.
func (w *workload) optedOut() bool {
	return w.obj.GetAnnotations()[meshv1alpha1.RestartAnnotation] == meshv1alpha1.RestartNever
}

// stallAt is when the rollout, as last judged, has made no progress for its deadline.
func (w *workload) stallAt() time.Time {
	if !w.progressSince.IsZero() {
		return w.progressSince.Add(w.deadline)
	}
	return w.restartedAt.Add(w.deadline)
}

// progressing is a Deployment's Progressing condition, the Deployment controller's verdict on its
// rollout; nil when it has none (no Deployment controller judged it) or for another kind.
func progressing(obj client.Object) *appsv1.DeploymentCondition {
	d, ok := obj.(*appsv1.Deployment)
	if !ok {
		return nil
	}
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == appsv1.DeploymentProgressing {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

// newWorkloadObject is an empty object of a kind the restarts restart (Deployment, StatefulSet,
// DaemonSet), to read one into; nil for any other kind.
func newWorkloadObject(kind string) client.Object {
	switch kind {
	case "Deployment":
		return &appsv1.Deployment{}
	case "StatefulSet":
		return &appsv1.StatefulSet{}
	case "DaemonSet":
		return &appsv1.DaemonSet{}
	}
	return nil
}

// rolloutCounts are the status counts that a rollout of a Deployment, StatefulSet or DaemonSet moves,
// how many pods it should run, and the stage of the rollout they count in: the revisions a StatefulSet
// updates from and to, a Deployment's revision (updateRevision: deploymentRevision), and the generation
// a DaemonSet's controller observed. old are a Deployment's pods of an older pod template (its replicas
// less the updated ones), which its ready and available counts count too; 0 for the other kinds, whose
// pods are updated in place. behind: a Deployment's or StatefulSet's status is of a generation before its
// spec's, whose replicas (an autoscaler's change) its counts do not count yet.
type rolloutCounts struct {
	updated, ready, available       int32
	old                             int32
	generation                      int64
	currentRevision, updateRevision string
	desired                         int32
	behind                          bool
}

// sameStage tells whether c and o count the same stage of a rollout: the same revisions or observed
// generation, which only a new pod template (or a DaemonSet's new spec) changes. How many pods to run
// is none of it: an autoscaler that scales a Deployment or StatefulSet, or a node added or removed, does
// not start the rollout again.
func (c rolloutCounts) sameStage(o rolloutCounts) bool {
	return c.generation == o.generation && c.currentRevision == o.currentRevision && c.updateRevision == o.updateRevision
}

// missing are the pods a rollout still has to update, to make ready and to make available: the pods to
// run less those its counts count. A Deployment's ready and available counts count the pods of an older
// template too, which its rollout takes away (and which are ready and available as it starts): those
// of the new template it still has to make ready or available are at least the pods to run less the
// ready or available ones that are not old.
type missing struct {
	updated, ready, available int32
}

// missing is what c still misses; false when its counts are behind the pods to run.
func (c rolloutCounts) missing() (missing, bool) {
	return missing{updated: c.desired - c.updated, ready: c.desired - c.ready + c.old, available: c.desired - c.available + c.old}, !c.behind
}

// fell tells whether o, of the same stage, misses fewer updated, ready or available pods than m:
// progress. A count that only falls (a pod that crashes, a node gone NotReady), or falls and rises back
// to where it was, is none; nor is a change of the pods to run (an autoscaler, a node added), whose new
// pods a count takes in as the pods to run grow, or that a count gives back as they shrink.
func (m missing) fell(o missing) bool {
	return o.updated < m.updated || o.ready < m.ready || o.available < m.available
}

// fewest is m with each count lowered to o's where o's is lower.
func (m missing) fewest(o missing) missing {
	return missing{updated: min(m.updated, o.updated), ready: min(m.ready, o.ready), available: min(m.available, o.available)}
}

// countsOf reads the rollout counts of a Deployment, StatefulSet or DaemonSet; false for another kind.
func countsOf(obj client.Object) (rolloutCounts, bool) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		s := o.Status
		return rolloutCounts{updated: s.UpdatedReplicas, ready: s.ReadyReplicas, available: s.AvailableReplicas,
			old: s.Replicas - s.UpdatedReplicas, updateRevision: deploymentRevision(o), desired: meshctx.DesiredReplicas(o.Spec.Replicas),
			behind: s.ObservedGeneration < o.Generation}, true
	case *appsv1.StatefulSet:
		s := o.Status
		return rolloutCounts{updated: s.UpdatedReplicas, ready: s.ReadyReplicas, available: s.AvailableReplicas,
			currentRevision: s.CurrentRevision, updateRevision: s.UpdateRevision, desired: meshctx.DesiredReplicas(o.Spec.Replicas),
			behind: s.ObservedGeneration < o.Generation}, true
	case *appsv1.DaemonSet:
		s := o.Status
		return rolloutCounts{updated: s.UpdatedNumberScheduled, ready: s.NumberReady, available: s.NumberAvailable,
			generation: s.ObservedGeneration, desired: s.DesiredNumberScheduled}, true
	}
	return rolloutCounts{}, false
}

// revisionAnnotation is the Deployment controller's annotation of a Deployment: the revision of its
// newest ReplicaSet, the one of its current pod template. A new pod template, or one brought back
// (kubectl rollout undo), gets a revision of its own; a scale keeps it.
const revisionAnnotation = "deployment.kubernetes.io/revision"

// deploymentRevision is the stage of a Deployment's rollout (revisionAnnotation) while it rolls out,
// the only time the restarts read it (progressed); "" once its rollout completed (meshctx.RolledOut,
// RolloutCompleted), and the workload cache keeps it only then (workloadFields).
func deploymentRevision(d *appsv1.Deployment) string {
	if meshctx.RolledOut(d) || meshctx.RolloutCompleted(d) {
		return ""
	}
	return d.Annotations[revisionAnnotation]
}

// NewWorkloadCache returns the cache the restarts read workloads from: every Deployment, StatefulSet
// and DaemonSet, and every ReplicaSet's metadata, to follow a pod to its Deployment, each cut to what the
// restarts read (workloadFields). The manager's cache holds only meshkeeper's own Deployments.
func NewWorkloadCache(mgr ctrl.Manager) (cache.Cache, error) {
	return cache.New(mgr.GetConfig(), cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		HTTPClient:       mgr.GetHTTPClient(),
		DefaultTransform: workloadFields,
	})
}

// workloadFields is the workload cache's transform: it keeps of a Deployment, StatefulSet or DaemonSet
// only what the restarts read of it (asWorkload, optedOut, controllerPod, countsOf, progressing,
// meshctx.RolledOut, RolloutCompleted and ProgressDeadlinePassed, and what an Event names), and of a
// ReplicaSet only what meshctx.PodWorkload follows. The cache holds every workload of the cluster, and
// whoever may edit one writes its labels and annotations and those of its pod template, up to the API
// server's limit on an object: kubectl's last-applied-configuration, a copy of the whole object, is one
// of them. Kept, they would cost the manager what each writer chose. Of the pod template only the
// sidecar.istio.io/inject label and meshkeeper's restart annotations are kept, of the workload's own
// annotations only the opt-out (and a Deployment's revision while it rolls out), of its conditions only
// a Deployment's Progressing verdict, and of its owners only the controller, which the restarts name
// when they leave the workload to it.
func workloadFields(obj any) (any, error) {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		s := o.Status
		d := &appsv1.Deployment{ObjectMeta: workloadMeta(&o.ObjectMeta),
			Spec: appsv1.DeploymentSpec{Replicas: o.Spec.Replicas, Paused: o.Spec.Paused,
				ProgressDeadlineSeconds: o.Spec.ProgressDeadlineSeconds, Template: templateMeta(&o.Spec.Template)},
			Status: appsv1.DeploymentStatus{ObservedGeneration: s.ObservedGeneration, Replicas: s.Replicas,
				UpdatedReplicas: s.UpdatedReplicas, ReadyReplicas: s.ReadyReplicas, AvailableReplicas: s.AvailableReplicas}}
		if c := progressing(o); c != nil {
			// Its verdict alone: the message and times are not read.
			d.Status.Conditions = []appsv1.DeploymentCondition{{Type: c.Type, Status: c.Status, Reason: c.Reason}}
		}
		if deploymentRevision(o) != "" {
			// The stage of a rollout (countsOf), kept only while it rolls out: most Deployments are rolled
			// out, and would each keep a map for it.
			d.Annotations = readKeys(o.Annotations, meshv1alpha1.RestartAnnotation, revisionAnnotation)
		}
		return d, nil
	case *appsv1.StatefulSet:
		s := o.Status
		st := &appsv1.StatefulSet{ObjectMeta: workloadMeta(&o.ObjectMeta),
			Spec: appsv1.StatefulSetSpec{Replicas: o.Spec.Replicas, Template: templateMeta(&o.Spec.Template),
				UpdateStrategy: appsv1.StatefulSetUpdateStrategy{Type: o.Spec.UpdateStrategy.Type}},
			Status: appsv1.StatefulSetStatus{ObservedGeneration: s.ObservedGeneration, UpdatedReplicas: s.UpdatedReplicas,
				ReadyReplicas: s.ReadyReplicas, AvailableReplicas: s.AvailableReplicas,
				CurrentRevision: s.CurrentRevision, UpdateRevision: s.UpdateRevision}}
		if u := o.Spec.UpdateStrategy.RollingUpdate; u != nil {
			st.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: u.Partition}
		}
		return st, nil
	case *appsv1.DaemonSet:
		s := o.Status
		return &appsv1.DaemonSet{ObjectMeta: workloadMeta(&o.ObjectMeta),
			Spec: appsv1.DaemonSetSpec{Template: templateMeta(&o.Spec.Template),
				UpdateStrategy: appsv1.DaemonSetUpdateStrategy{Type: o.Spec.UpdateStrategy.Type}},
			Status: appsv1.DaemonSetStatus{ObservedGeneration: s.ObservedGeneration, DesiredNumberScheduled: s.DesiredNumberScheduled,
				UpdatedNumberScheduled: s.UpdatedNumberScheduled, NumberReady: s.NumberReady, NumberAvailable: s.NumberAvailable}}, nil
	case *metav1.PartialObjectMetadata:
		// A ReplicaSet: PodWorkload reads its UID and its controller, the Deployment it follows the pod to.
		// Whoever creates a ReplicaSet writes that reference, and the API server bounds none of its fields;
		// but no Deployment's name or UID is longer than maxName, and of the API version only its start
		// is read: cut (policy.Bounded), the reference leads to the same Deployment as it did whole, or to none.
		// The cache serves the ServiceMesh controller too (its ReplicaSets), whose in-place upgrade gate
		// reads the Istio version of an istiod ReplicaSet's pods from its version label.
		rs := &metav1.PartialObjectMetadata{TypeMeta: o.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: o.Name, Namespace: o.Namespace,
			UID: o.UID, ResourceVersion: o.ResourceVersion, Labels: readKeys(o.Labels, VersionLabel)}}
		if owner := metav1.GetControllerOf(o); owner != nil {
			rs.OwnerReferences = []metav1.OwnerReference{{APIVersion: policy.Bounded(owner.APIVersion, maxName), Kind: policy.Bounded(owner.Kind, maxName),
				Name: policy.Bounded(owner.Name, maxName), UID: types.UID(policy.Bounded(string(owner.UID), maxName)), Controller: ptr.To(true)}}
		}
		return rs, nil
	}
	return obj, nil
}

// workloadMeta is what the workload cache keeps of a workload's metadata: what names it (to Events too)
// and tells it from another of its name, its generation, creation and deletion, the opt-out annotation,
// and the kind and name of its controller.
func workloadMeta(m *metav1.ObjectMeta) metav1.ObjectMeta {
	kept := metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Generation: m.Generation, CreationTimestamp: m.CreationTimestamp, DeletionTimestamp: m.DeletionTimestamp,
		Annotations: readKeys(m.Annotations, meshv1alpha1.RestartAnnotation)}
	if owner := metav1.GetControllerOf(m); owner != nil {
		kept.OwnerReferences = []metav1.OwnerReference{{Kind: policy.Bounded(owner.Kind, maxKind), Name: policy.Bounded(owner.Name, maxName),
			Controller: ptr.To(true)}}
	}
	return kept
}

// templateMeta is what the workload cache keeps of a pod template: the label controllerPod reads and
// meshkeeper's restart annotations, which asWorkload reads.
func templateMeta(t *corev1.PodTemplateSpec) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{
		Labels: readKeys(t.Labels, policy.SidecarInject),
		Annotations: readKeys(t.Annotations, meshv1alpha1.RestartedAtAnnotation, meshv1alpha1.RestartedOntoAnnotation,
			meshv1alpha1.RestartedForAnnotation),
	}}
}

// VersionLabel is the label Istio's charts give a workload's pod template, and so its ReplicaSets: the
// Istio version of its pods.
const VersionLabel = "app.kubernetes.io/version"

// maxValue is the longest value of a label or annotation the restarts read that they can take for a
// valid one: a revision (restarted-onto) is a DNS label; a time in RFC 3339, the digest of a target,
// "true" and "never" are shorter.
const maxValue = 63

// readKeys is what the workload cache keeps of labels or annotations: the keys given, each value cut to
// maxValue bytes and one more (policy.Bounded); nil when there is none of them.
func readKeys(m map[string]string, keys ...string) map[string]string {
	var kept map[string]string
	for _, key := range keys {
		if value, ok := m[key]; ok {
			if kept == nil {
				kept = make(map[string]string, len(keys))
			}
			kept[key] = policy.Bounded(value, maxValue)
		}
	}
	return kept
}
