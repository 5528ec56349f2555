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

package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// DataPlaneSpec says what meshkeeper does about the proxies of the enrolled namespaces.
type DataPlaneSpec struct {
	// Restarts says whether and when meshkeeper restarts the workloads whose pods run without a
	// sidecar or with an outdated one (see docs/upgrade.md).
	// +kubebuilder:default={}
	// +optional
	Restarts RestartsSpec `json:"restarts,omitempty"`
}

// RestartMode says whether meshkeeper restarts workloads itself.
// +kubebuilder:validation:Enum=Manual;Automatic
type RestartMode string

const (
	// RestartManual only reports the pods that need a restart (status.proxies, DataPlaneUpToDate);
	// their owners restart them.
	RestartManual RestartMode = "Manual"
	// RestartAutomatic restarts the owning Deployments, StatefulSets and DaemonSets, a few at a time.
	RestartAutomatic RestartMode = "Automatic"
)

// Weekday is a day of the week as its three-letter English abbreviation.
// +kubebuilder:validation:Enum=Mon;Tue;Wed;Thu;Fri;Sat;Sun
type Weekday string

// RestartsSpec bounds the restarts meshkeeper makes.
type RestartsSpec struct {
	// Mode is Manual (report only; the default) or Automatic (meshkeeper restarts the workloads whose
	// pods need a new sidecar, within the limits below). Switching back to Manual never starts a rollout.
	// +kubebuilder:default=Manual
	// +optional
	Mode RestartMode `json:"mode,omitempty"`

	// MaxConcurrent is how many workloads may be rolling out at once because meshkeeper restarted them,
	// cluster-wide.
	// +kubebuilder:default=5
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxConcurrent *int32 `json:"maxConcurrent,omitempty"`

	// MaxConcurrentPerNamespace is how many workloads of one namespace may be rolling out at once
	// because meshkeeper restarted them.
	// +kubebuilder:default=1
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=1000
	// +optional
	MaxConcurrentPerNamespace *int32 `json:"maxConcurrentPerNamespace,omitempty"`

	// Window, when set, is the only time restarts start (UTC). A rollout that started inside the window
	// is followed to its end after the window closes.
	// +optional
	Window *RestartWindow `json:"window,omitempty"`

	// RollbackOnFailure, during a canary (updateStrategy.canary), sends the canary namespaces back to
	// the active revision when a workload meshkeeper restarted onto the canary revision does not roll
	// out, and restarts their workloads onto it (status.canaryRollback, DataPlaneUpToDate reason
	// CanaryRolledBack). false: a stalled restart only stops further restarts (RestartStalled).
	// +kubebuilder:default=true
	// +optional
	RollbackOnFailure *bool `json:"rollbackOnFailure,omitempty"`
}

// RestartWindow is a weekly maintenance window in UTC. A window whose end is not after its start runs
// past midnight: days [Sat], start 22:00, end 02:00 opens Saturday 22:00 and closes Sunday 02:00.
// +kubebuilder:validation:XValidation:rule="self.start != self.end",message="dataPlane.restarts.window.start and end must differ"
type RestartWindow struct {
	// Days are the days on which the window opens. Empty means every day.
	// +listType=set
	// +kubebuilder:validation:MaxItems=7
	// +optional
	Days []Weekday `json:"days,omitempty"`

	// Start is when the window opens, as HH:MM (UTC).
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	Start string `json:"start"`

	// End is when the window closes, as HH:MM (UTC).
	// +kubebuilder:validation:Pattern=`^([01][0-9]|2[0-3]):[0-5][0-9]$`
	End string `json:"end"`
}

// Limits returns maxConcurrent and maxConcurrentPerNamespace, defaulted as the CRD defaults them.
func (r RestartsSpec) Limits() (cluster, perNamespace int) {
	cluster, perNamespace = 5, 1
	if r.MaxConcurrent != nil && *r.MaxConcurrent > 0 {
		cluster = int(*r.MaxConcurrent)
	}
	if r.MaxConcurrentPerNamespace != nil && *r.MaxConcurrentPerNamespace > 0 {
		perNamespace = int(*r.MaxConcurrentPerNamespace)
	}
	return cluster, perNamespace
}

// Rollback tells whether a failed restart onto a canary revision rolls the canary back.
func (r RestartsSpec) Rollback() bool {
	return r.RollbackOnFailure == nil || *r.RollbackOnFailure
}

// CanaryRollbackStatus records that meshkeeper rolled a canary back because a workload it restarted
// onto the canary revision did not roll out. It holds for the generation of the spec it was made
// under: any change of the spec (a new metadata.generation) ends it, and the canary serves again.
type CanaryRollbackStatus struct {
	// Revision is the canary revision that was rolled back; it stays installed (state Canary).
	Revision string `json:"revision"`
	// Workload names the restarted workload that did not roll out, as "<Kind> <namespace>/<name>".
	Workload string `json:"workload"`
	// Time is when meshkeeper rolled the canary back.
	Time metav1.Time `json:"time"`
	// ObservedGeneration is the metadata.generation of the spec the rollback was made under.
	ObservedGeneration int64 `json:"observedGeneration"`
}

// StalledRestart is a restart meshkeeper made whose rollout made no progress for its deadline: it holds back
// every further restart until the workload rolls out, or its pod template carries another restart.
type StalledRestart struct {
	// Workload names the restarted workload, as "<Kind> <namespace>/<name>" (as status.canaryRollback.workload).
	Workload string `json:"workload"`
	// RestartedAt is the time of the stalled restart, as its restarted-at annotation says.
	RestartedAt metav1.Time `json:"restartedAt"`
}

// Annotations of the data-plane restarts.
const (
	// RestartedAtAnnotation is the pod-template annotation whose change makes a workload roll out: the
	// time meshkeeper restarted it, RFC 3339 in UTC. It, RestartedOntoAnnotation and RestartedForAnnotation
	// are the fields meshkeeper leaves behind on uninstall: removing them would restart the workload again.
	RestartedAtAnnotation = "mesh.meshkeeper.io/restarted-at"
	// RestartedOntoAnnotation records, beside RestartedAtAnnotation and in the same apply, the revision
	// whose sidecar the restart was for ("default" with the InPlace strategy). It tells whether a
	// restart was onto the canary where the times cannot (the restart's time is the manager's clock, to
	// the second; since when the canary serves a namespace, the API server's). It never changes without
	// the restarted-at annotation, so it starts no rollout of its own.
	RestartedOntoAnnotation = "mesh.meshkeeper.io/restarted-onto"
	// RestartedForAnnotation records, beside RestartedAtAnnotation and in the same apply, a digest of
	// what the workload's pods were judged against when meshkeeper restarted it (the revision and Istio
	// version serving its namespace, the proxy image's tag, whether injection is for the CNI agent, since
	// when the mesh config and the namespace's enrollment hold). A restart that rolled out and whose own
	// pods still need one is not made again while that digest holds, after a restart of the manager too.
	// Like RestartedOntoAnnotation it never changes alone.
	RestartedForAnnotation = "mesh.meshkeeper.io/restarted-for"
	// RestartAnnotation set to RestartNever on a workload or a Namespace keeps meshkeeper from
	// restarting it (or any workload of the Namespace).
	RestartAnnotation = "mesh.meshkeeper.io/restart"
	// RestartNever is the opt-out value of RestartAnnotation.
	RestartNever = "never"
)

// Reasons of the data-plane restarts: DataPlaneUpToDate's, and the Events on workloads and on the
// ServiceMesh; docs/upgrade.md says what each means.
const (
	// ReasonRestarting: meshkeeper restarted workloads and follows their rollouts (DataPlaneUpToDate),
	// or restarted one (an Event on the workload).
	ReasonRestarting = "Restarting"
	// ReasonRestarted: a workload meshkeeper restarted rolled out (an Event on the workload).
	ReasonRestarted = "Restarted"
	// ReasonRestartStalled: a workload meshkeeper restarted made no progress for its progress deadline
	// before it rolled out; meshkeeper starts no further restart until it does.
	ReasonRestartStalled = "RestartStalled"
	// ReasonRestartFailed: meshkeeper could not write a workload's restart annotation (a Warning Event
	// on the workload and on the ServiceMesh); it restarts the other workloads and tries again.
	ReasonRestartFailed = "RestartFailed"
	// ReasonNotRestartable: pods that need a restart belong to no Deployment, StatefulSet or DaemonSet
	// (bare pods, Jobs, CronJobs), or to one that a change of its pod template does not roll out (a
	// paused Deployment, updateStrategy OnDelete, a StatefulSet partition), or to one meshkeeper
	// restarted whose new pods still need a restart (its pod template pins the proxy image or the
	// revision); their owners restart them (a Warning Event on the ServiceMesh).
	ReasonNotRestartable = "NotRestartable"
	// ReasonCanaryRolledBack: a workload restarted onto the canary revision did not roll out, and the
	// canary namespaces were sent back to the previous revision.
	ReasonCanaryRolledBack = "CanaryRolledBack"
)
