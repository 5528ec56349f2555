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
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/helm"
)

func cniDaemonSetWith(generation int64, st appsv1.DaemonSetStatus) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: cniDaemonSet, Generation: generation}, Status: st}
}

func TestCNIReadiness(t *testing.T) {
	rolledOut := appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
		UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3}
	halfway := rolledOut
	halfway.UpdatedNumberScheduled, halfway.NumberReady, halfway.NumberAvailable, halfway.NumberUnavailable = 2, 2, 2, 1

	tests := map[string]struct {
		obs         cniObservation
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMessage []string
	}{
		"off: True, and the message says what that means for pods": {
			obs:        cniObservation{enabled: false, by: meshv1alpha1.CNIByExistingMesh},
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonCNIDisabled,
			wantMessage: []string{"ExistingMesh", "istio-init"},
		},
		"the install failed": {
			obs:        cniObservation{enabled: true, err: meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("quota exceeded"))},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonInstallFailed, wantMessage: []string{"quota exceeded"},
		},
		"no DaemonSet yet": {
			obs:        cniObservation{enabled: true},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonDaemonSetMissing,
		},
		"a change its controller has not seen": {
			obs:        cniObservation{enabled: true, daemonSet: cniDaemonSetWith(3, rolledOut)},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonNodesNotReady, wantMessage: []string{"not yet observed"},
		},
		"not ready on one node, which is named": {
			obs:        cniObservation{enabled: true, daemonSet: cniDaemonSetWith(2, halfway), notReady: []string{"node-b"}},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonNodesNotReady,
			wantMessage: []string{"2 of 3 node(s) updated", "not ready on node-b", "istio-validation"},
		},
		"ready, available and updated everywhere": {
			obs:        cniObservation{enabled: true, daemonSet: cniDaemonSetWith(2, rolledOut)},
			wantStatus: metav1.ConditionTrue, wantReason: meshv1alpha1.ReasonAvailable, wantMessage: []string{"all 3 node(s)"},
		},
		"ready but not yet available (minReadySeconds)": {
			obs: cniObservation{enabled: true, daemonSet: cniDaemonSetWith(2, appsv1.DaemonSetStatus{ObservedGeneration: 2,
				DesiredNumberScheduled: 3, UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 1, NumberUnavailable: 2})},
			wantStatus: metav1.ConditionFalse, wantReason: meshv1alpha1.ReasonNodesNotReady,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, reason, message := cniReadiness(&tc.obs)
			if status != tc.wantStatus || reason != tc.wantReason {
				t.Errorf("cniReadiness = %s/%s (%s), want %s/%s", status, reason, message, tc.wantStatus, tc.wantReason)
			}
			for _, part := range tc.wantMessage {
				if !strings.Contains(message, part) {
					t.Errorf("message %q does not contain %q", message, part)
				}
			}
		})
	}
}

func TestNodesNotReady(t *testing.T) {
	pod := func(node string, ready corev1.ConditionStatus) corev1.Pod {
		return corev1.Pod{Spec: corev1.PodSpec{NodeName: node},
			Status: corev1.PodStatus{Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}}
	}
	pending := corev1.Pod{}
	starting := corev1.Pod{Spec: corev1.PodSpec{NodeName: "node-d"}}
	got := nodesNotReady([]corev1.Pod{pod("node-c", corev1.ConditionFalse), pod("node-a", corev1.ConditionTrue),
		pod("node-b", corev1.ConditionFalse), pending, starting})
	if want := []string{"node-b", "node-c", "node-d"}; !slices.Equal(got, want) {
		t.Errorf("nodesNotReady = %v, want %v", got, want)
	}
}

// During a rollout a node counts only once an agent pod of the DaemonSet's current template is
// available there: a ready pod of the old template runs the old settings. A pod is of the current
// template by its template generation, or by the revision hash of a pod of that generation (a template
// set back while pods of it still run).
func TestNodesRunningCurrentAgent(t *testing.T) {
	now := time.Now()
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Annotations: map[string]string{appsv1.DeprecatedTemplateGeneration: "3"}},
		Spec: appsv1.DaemonSetSpec{MinReadySeconds: 10}}
	pod := func(node, generation, hash string, readyFor time.Duration) corev1.Pod {
		p := corev1.Pod{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"pod-template-generation": generation, "controller-revision-hash": hash}},
			Spec: corev1.PodSpec{NodeName: node}}
		if readyFor >= 0 {
			p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue,
				LastTransitionTime: metav1.NewTime(now.Add(-readyFor))}}
		}
		return p
	}
	deleting := pod("node-g", "3", "a", time.Minute)
	deleting.DeletionTimestamp = &metav1.Time{Time: now}
	pods := []corev1.Pod{
		pod("node-a", "3", "a", time.Minute),   // current, available
		pod("node-a", "3", "a", time.Minute),   // a second one on the same node
		pod("node-b", "1", "a", time.Minute),   // set back to: its hash is the current template's
		pod("node-c", "2", "b", time.Minute),   // old template, ready
		pod("node-d", "3", "a", 5*time.Second), // ready, not yet for minReadySeconds
		pod("node-e", "3", "a", -1),            // not ready
		pod("", "3", "a", time.Minute),         // not bound
		deleting,                               // going away
	}
	if got := nodesRunningCurrentAgent(ds, pods, now); got != 2 {
		t.Errorf("nodesRunningCurrentAgent = %d, want 2 (node-a, node-b)", got)
	}
	if got := nodesRunningCurrentAgent(&appsv1.DaemonSet{}, pods, now); got != 0 {
		t.Errorf("nodesRunningCurrentAgent of a DaemonSet with no template generation = %d, want 0", got)
	}

	// The counts of a DaemonSet whose controller has not seen its template, or mid-rollout, are not
	// status.cni.readyNodes; those of a rolled-out one are.
	midRollout := cniDaemonSetWith(2, appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3,
		UpdatedNumberScheduled: 1, NumberReady: 2, NumberAvailable: 2})
	if got, ok := (&cniObservation{daemonSet: midRollout, currentNodes: 0, podsRead: true}).readyNodes(); got != 0 || !ok {
		t.Errorf("readyNodes mid-rollout = %d/%t, want 0/true", got, ok)
	}
	if _, ok := (&cniObservation{daemonSet: midRollout}).readyNodes(); ok {
		t.Error("readyNodes mid-rollout with its pods unread is known")
	}
	unseen := cniDaemonSetWith(3, appsv1.DaemonSetStatus{ObservedGeneration: 2, DesiredNumberScheduled: 3,
		UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3})
	if got, _ := (&cniObservation{daemonSet: unseen, podsRead: true}).readyNodes(); got != 0 {
		t.Errorf("readyNodes of a template its controller has not seen = %d, want 0", got)
	}
	unseen.Generation = 2
	if got, _ := (&cniObservation{daemonSet: unseen}).readyNodes(); got != 3 {
		t.Errorf("readyNodes rolled out = %d, want 3", got)
	}
}

// The decision whether the mesh runs CNI is recorded even when the phase could not run, so a new mesh
// whose first install fails is not taken for an existing one on the next reconcile.
func TestSetCNIReadyRecordsTheDecisionWhenThePhaseDidNotRun(t *testing.T) {
	current := &meshv1alpha1.ServiceMeshStatus{}
	obs := &observation{generation: 1, cni: &cniObservation{enabled: true, by: meshv1alpha1.CNIByNewMesh}}
	status := current.DeepCopy()
	setCNIReady(status, obs)
	if status.CNI == nil || !status.CNI.Enabled || status.CNI.EnabledBy != meshv1alpha1.CNIByNewMesh {
		t.Fatalf("status.cni = %+v, want the NewMesh decision recorded", status.CNI)
	}
	if c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionCNIReady); c != nil {
		t.Errorf("CNIReady = %+v, want none before the phase ran", c)
	}
	mesh := &meshv1alpha1.ServiceMesh{Status: *status}
	mesh.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionControlPlaneReady, Status: metav1.ConditionFalse}}
	if enabled, by := mesh.CNIEnabled(); !enabled || by != meshv1alpha1.CNIByNewMesh {
		t.Errorf("the next reconcile decides %t/%s, want true/NewMesh", enabled, by)
	}
}

// CNIReady counts for Ready: a mesh whose agent is not ready on some node is not Ready.
func TestCNIReadyHoldsReadyBack(t *testing.T) {
	status := &meshv1alpha1.ServiceMeshStatus{}
	obs := &observation{generation: 1, cni: &cniObservation{enabled: true, ran: true, namespace: "istio-system",
		daemonSet: cniDaemonSetWith(1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2,
			NumberReady: 1, NumberAvailable: 1, NumberUnavailable: 1}), notReady: []string{"node-1"}}}
	setCondition(status, obs, meshv1alpha1.ConditionControlPlaneReady, metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, "")
	setCNIReady(status, obs)
	summarizeReady(status, obs)
	ready := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionFalse || ready.Reason != meshv1alpha1.ReasonNodesNotReady ||
		!strings.Contains(ready.Message, "node-1") {
		t.Errorf("Ready = %+v, want False with NodesNotReady naming node-1", ready)
	}
	if status.CNI.DesiredNodes != 2 || status.CNI.ReadyNodes != 1 || status.CNI.Namespace != "istio-system" {
		t.Errorf("status.cni = %+v, want 1 of 2 nodes in istio-system", status.CNI)
	}
}

// recordingCharts records the releases Ensure and Uninstall are asked about, in order, and fails the
// Ensure of failRelease. The base and istiod releases are ensured side by side: they are recorded in
// the order they are passed to Ensure, which the reconciler does not fix.
type recordingCharts struct {
	mu                   sync.Mutex
	ensured, uninstalled []string
	// priorities are the pod priorities of the ensured releases that have one.
	priorities  []string
	failRelease string
	// hold is how long each Ensure takes; active are the releases under way, and alongside tells
	// whether the istio-cni release's ran while another's did.
	hold      time.Duration
	active    []string
	alongside bool
	// agentAfterIstiod tells whether istiod's release was done when the agent's began.
	agentAfterIstiod bool
}

func (c *recordingCharts) Ensure(_ context.Context, desired helm.Release) (helm.Result, error) {
	c.mu.Lock()
	if len(c.active) > 0 && (desired.Name == cniRelease || slices.Contains(c.active, cniRelease)) {
		c.alongside = true
	}
	if desired.Name == cniRelease {
		c.agentAfterIstiod = slices.ContainsFunc(c.ensured, func(e string) bool { return strings.HasSuffix(e, "/istiod (istiod)") })
	}
	c.active = append(c.active, desired.Name)
	c.mu.Unlock()
	if desired.Name == baseRelease {
		time.Sleep(3 * c.hold) // the base chart's CRDs take the longest
	} else {
		time.Sleep(c.hold)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.active = slices.DeleteFunc(c.active, func(name string) bool { return name == desired.Name })
	c.ensured = append(c.ensured, desired.Namespace+"/"+desired.Name+" ("+desired.Chart.Name()+")")
	if desired.PodPriority != nil {
		c.priorities = append(c.priorities, desired.Name+": "+desired.PodPriority.DaemonSet+" "+desired.PodPriority.ClassName)
	}
	if desired.Name == c.failRelease {
		return helm.Result{State: helm.StateAbsent, Action: helm.ActionInstalled}, errors.New("installing release " + desired.Name + ": quota exceeded")
	}
	return helm.Result{State: helm.StateInSync, Action: helm.ActionNone}, nil
}

func (c *recordingCharts) ReturnMemory() {}

func (c *recordingCharts) Uninstall(_ context.Context, namespace, name string, _ helm.Owner) (bool, error) {
	c.uninstalled = append(c.uninstalled, namespace+"/"+name)
	return false, nil // it holds no release records
}

func TestReconcileCNI(t *testing.T) {
	newMesh := func() *meshv1alpha1.ServiceMesh {
		mesh := testMesh()
		mesh.Status = meshv1alpha1.ServiceMeshStatus{}
		return mesh
	}
	tests := map[string]struct {
		mesh            func() *meshv1alpha1.ServiceMesh
		failRelease     string
		wantEnsured     []string
		wantUninstalled []string
		wantCNI         meshv1alpha1.CNIStatus
		wantReason      string
		wantErr         bool
		// istiodRunning puts istiod's Deployment in the cluster; wantAlongside wants the agent's release
		// ensured while the control plane's are.
		istiodRunning bool
		wantAlongside bool
		// agents are the namespaces that hold a CNI agent DaemonSet of the mesh's; othersAgent one that
		// holds another installation's.
		agents      []string
		othersAgent string
		// readyAgent is a namespace whose agent DaemonSet runs ready on every node.
		readyAgent string
	}{
		"a new mesh installs the CNI agent alongside the control plane": {
			mesh:          newMesh,
			wantEnsured:   []string{"istio-system/istio-base (base)", "istio-system/istio-cni (cni)", "istio-system/istiod (istiod)"},
			wantCNI:       meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"},
			wantReason:    meshv1alpha1.ReasonDaemonSetMissing,
			wantAlongside: true,
		},
		"a new mesh over a running istiod installs the CNI agent after the control plane": {
			mesh:          newMesh,
			istiodRunning: true,
			wantEnsured:   []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "istio-system/istio-cni (cni)"},
			wantCNI:       meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"},
			wantReason:    meshv1alpha1.ReasonDaemonSetMissing,
		},
		"a running agent is upgraded after the control plane": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Enabled = ptr.To(true)
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"}
				return mesh
			},
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "istio-system/istio-cni (cni)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system"},
			wantReason:  meshv1alpha1.ReasonDaemonSetMissing,
		},
		"a new mesh puts the agent in kube-system when asked": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := newMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				return mesh
			},
			wantEnsured:   []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantCNI:       meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "kube-system"},
			wantReason:    meshv1alpha1.ReasonDaemonSetMissing,
			wantAlongside: true,
		},
		"a mesh from before CNI keeps running without it": {
			mesh:        testMesh,
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIByExistingMesh},
			wantReason:  meshv1alpha1.ReasonCNIDisabled,
		},
		"turning CNI off uninstalls the agent": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Enabled = new(bool)
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"}
				return mesh
			},
			wantEnsured:     []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)"},
			wantUninstalled: []string{"istio-system/istio-cni"},
			wantCNI:         meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIBySpec},
			wantReason:      meshv1alpha1.ReasonCNIDisabled,
		},
		"moving the agent to kube-system keeps it where it was until the new one is ready": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"}
				return mesh
			},
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"},
			wantReason:  meshv1alpha1.ReasonNodesNotReady,
		},
		"moving the agent to kube-system uninstalls it where it was once the new one is ready": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"}
				return mesh
			},
			readyAgent:      "kube-system",
			wantEnsured:     []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantUninstalled: []string{"istio-system/istio-cni"},
			wantCNI: meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "kube-system",
				DesiredNodes: 2, ReadyNodes: 2},
			wantReason: meshv1alpha1.ReasonAvailable,
		},
		// The status write that would have recorded the agent's namespace was lost (a conflict, the
		// manager restarted): the agent found in the cluster is removed all the same.
		"turning CNI off uninstalls an agent whose namespace the status lost": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Enabled = new(bool)
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh}
				return mesh
			},
			agents: []string{"istio-system"}, othersAgent: "other-cni",
			wantEnsured:     []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)"},
			wantUninstalled: []string{"istio-system/istio-cni"},
			wantCNI:         meshv1alpha1.CNIStatus{Enabled: false, EnabledBy: meshv1alpha1.CNIBySpec},
			wantReason:      meshv1alpha1.ReasonCNIDisabled,
		},
		// The pods injected for the agent may rely on the one found running: a move keeps it, as one the
		// status names, until the new one is ready on every node.
		"moving the agent keeps it where the status lost it until the new one is ready": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh}
				return mesh
			},
			istiodRunning: true, agents: []string{"istio-system"}, othersAgent: "other-cni",
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"},
			wantReason:  meshv1alpha1.ReasonNodesNotReady,
		},
		"moving the agent uninstalls it where the status lost it once the new one is ready": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status = meshv1alpha1.ServiceMeshStatus{} // lost whole
				return mesh
			},
			istiodRunning: true, agents: []string{"istio-system"}, readyAgent: "kube-system",
			wantEnsured:     []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantUninstalled: []string{"istio-system/istio-cni"},
			wantCNI: meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "kube-system",
				DesiredNodes: 2, ReadyNodes: 2},
			wantReason: meshv1alpha1.ReasonAvailable,
		},
		// Anyone who may create a DaemonSet in a namespace can give it meshkeeper's label and the
		// mesh's owner reference: outside the namespaces the installer listed, it is none of the mesh's.
		"a DaemonSet in a namespace the installer did not list is no agent of the mesh's, nor a stray one": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh} // lost
				return mesh
			},
			istiodRunning: true, agents: []string{"team-a"},
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "kube-system"},
			wantReason:  meshv1alpha1.ReasonDaemonSetMissing,
		},
		"an agent where it is wanted, unrecorded, is the one kept": {
			mesh: func() *meshv1alpha1.ServiceMesh {
				mesh := testMesh()
				mesh.Spec.CNI.Namespace = "kube-system"
				mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh}
				return mesh
			},
			istiodRunning: true, agents: []string{"kube-system"},
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)", "kube-system/istio-cni (cni)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "kube-system"},
			wantReason:  meshv1alpha1.ReasonNodesNotReady,
		},
		"a failed control plane leaves the running agent alone, and the decision is still recorded": {
			mesh:          newMesh,
			istiodRunning: true,
			failRelease:   istiodRelease,
			wantEnsured:   []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)"},
			wantCNI:       meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh},
			wantErr:       true,
		},
		"a first install whose istiod fails: no agent beside no control plane": {
			mesh:        newMesh,
			failRelease: istiodRelease,
			wantEnsured: []string{"istio-system/istio-base (base)", "istio-system/istiod (istiod)"},
			wantCNI:     meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh},
			wantErr:     true,
		},
		"a first install whose base chart fails: the agent went alongside istiod, and its namespace is recorded": {
			mesh:          newMesh,
			failRelease:   baseRelease,
			wantEnsured:   []string{"istio-system/istio-base (base)", "istio-system/istio-cni (cni)", "istio-system/istiod (istiod)"},
			wantCNI:       meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh, Namespace: "istio-system"},
			wantErr:       true,
			wantAlongside: true,
		},
		"a failed CNI install is CNIReady's failure, retried, and what it left is removed": {
			mesh:            newMesh,
			failRelease:     cniRelease,
			wantEnsured:     []string{"istio-system/istio-base (base)", "istio-system/istio-cni (cni)", "istio-system/istiod (istiod)"},
			wantUninstalled: []string{"istio-system/istio-cni"},
			wantCNI:         meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIByNewMesh},
			wantReason:      meshv1alpha1.ReasonInstallFailed,
			wantErr:         true,
			wantAlongside:   true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			chartManager := &recordingCharts{failRelease: tc.failRelease, hold: 50 * time.Millisecond}
			mesh := tc.mesh()
			tr := newTestReconciler(t, mesh, chartManager)
			// The installer listed the namespaces the mesh may use: an agent found in one of them, where
			// only those trusted with the control plane write, may be taken for the mesh's.
			tr.Policy.Namespaces = []string{"istio-system", "kube-system"}
			if tc.istiodRunning {
				istiod := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: mesh.Spec.Namespace, Name: istiodDeployment}}
				if err := tr.Create(t.Context(), istiod); err != nil {
					t.Fatal(err)
				}
			}
			agent := func(namespace string, owner types.UID) {
				ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: cniDaemonSet,
					Labels:          map[string]string{meshv1alpha1.ManagedByLabel: meshv1alpha1.ManagedByValue},
					OwnerReferences: []metav1.OwnerReference{{APIVersion: meshv1alpha1.GroupVersion.String(), Kind: "ServiceMesh", Name: "default", UID: owner}}}}
				if err := tr.Create(t.Context(), ds); err != nil {
					t.Fatal(err)
				}
			}
			for _, namespace := range tc.agents {
				agent(namespace, mesh.UID)
			}
			if tc.othersAgent != "" {
				agent(tc.othersAgent, "another-mesh")
			}
			if tc.readyAgent != "" {
				ds := cniDaemonSetWith(1, appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
					UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2})
				ds.Namespace = tc.readyAgent
				if err := tr.Create(t.Context(), ds); err != nil {
					t.Fatal(err)
				}
			}
			_, err := tr.reconcile(t)
			status := tr.applied
			if (err != nil) != tc.wantErr || (err != nil && meshctx.IsTerminal(err)) {
				t.Errorf("Reconcile error = %v, want a retried error: %t", err, tc.wantErr)
			}
			// The releases ensured side by side come first, in any order.
			first := 2
			if tc.wantAlongside {
				first = 3
			}
			slices.Sort(chartManager.ensured[:min(first, len(chartManager.ensured))])
			if !slices.Equal(chartManager.ensured, tc.wantEnsured) {
				t.Errorf("ensured %v, want %v", chartManager.ensured, tc.wantEnsured)
			}
			if chartManager.alongside != tc.wantAlongside {
				t.Errorf("the agent's release ensured alongside the control plane: %t, want %t", chartManager.alongside, tc.wantAlongside)
			}
			if slices.Contains(chartManager.ensured, "istio-system/istiod (istiod)") && slices.ContainsFunc(chartManager.ensured, func(e string) bool {
				return strings.HasSuffix(e, "/istio-cni (cni)")
			}) && !chartManager.agentAfterIstiod {
				t.Error("the agent's release began before istiod's was done")
			}
			if !slices.Equal(chartManager.uninstalled, tc.wantUninstalled) {
				t.Errorf("uninstalled %v, want %v", chartManager.uninstalled, tc.wantUninstalled)
			}
			if status == nil || status.CNI == nil || !reflect.DeepEqual(*status.CNI, tc.wantCNI) {
				t.Fatalf("status.cni = %+v, want %+v", status, tc.wantCNI)
			}
			c := meta.FindStatusCondition(status.Conditions, meshv1alpha1.ConditionCNIReady)
			switch {
			case tc.wantReason == "" && c != nil:
				t.Errorf("CNIReady = %+v, want none", c)
			case tc.wantReason != "" && (c == nil || c.Reason != tc.wantReason):
				t.Errorf("CNIReady = %+v, want reason %s", c, tc.wantReason)
			}
		})
	}
}

func TestReconcileCNIGivesTheAgentItsPriorityClass(t *testing.T) {
	for class, want := range map[string]string{
		"":                "istio-cni: istio-cni-node system-node-critical",
		"mesh-node-agent": "istio-cni: istio-cni-node mesh-node-agent",
	} {
		mesh := testMesh()
		mesh.Status = meshv1alpha1.ServiceMeshStatus{}
		mesh.Spec.CNI.PriorityClassName = class
		chartManager := &recordingCharts{}
		if _, _, _, _, err := reconcileWith(t, mesh, chartManager); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(chartManager.priorities, []string{want}) {
			t.Errorf("spec.cni.priorityClassName %q: pod priorities %q, want only %q", class, chartManager.priorities, want)
		}
	}
}

func TestAgentVersion(t *testing.T) {
	for image, want := range map[string]string{
		"docker.io/istio/install-cni:1.31.1":                 "1.31.1",
		"registry.example.com:5000/istio/install-cni:1.32.0": "1.32.0",
		"registry.example.com:5000/istio/install-cni":        "",
		"docker.io/istio/install-cni:1.31.4@sha256:0123abcd": "1.31.4",
		"docker.io/istio/install-cni@sha256:0123abcd":        "",
	} {
		ds := &appsv1.DaemonSet{}
		ds.Spec.Template.Spec.Containers = []corev1.Container{{Name: "sidecar", Image: "example.com/other:9.9.9"}, {Name: "install-cni", Image: image}}
		if got := agentVersion(ds); got != want {
			t.Errorf("agentVersion of %s = %q, want %q", image, got, want)
		}
	}
}

// The namespaces the agent may still leave alone are the spec's once the agent installed with them is
// ready on every node, and until then also those recorded before, which its older pods still skip.
func TestExclusionsToReport(t *testing.T) {
	before := []string{"batch", "monitoring"}
	if got := exclusionsToReport(true, true, []string{"monitoring"}, before, false); !slices.Equal(got, []string{"batch", "monitoring"}) {
		t.Errorf("exclusionsToReport during a rollout = %v, want [batch monitoring]", got)
	}
	if got := exclusionsToReport(true, true, []string{"monitoring"}, before, true); !slices.Equal(got, []string{"monitoring"}) {
		t.Errorf("exclusionsToReport rolled out = %v, want [monitoring]", got)
	}
	if got := exclusionsToReport(false, false, []string{"monitoring"}, before, false); got != nil {
		t.Errorf("exclusionsToReport without the agent = %v, want none", got)
	}
	if got := exclusionsToReport(false, true, []string{"monitoring"}, before, false); !slices.Equal(got, []string{"batch", "monitoring"}) {
		t.Errorf("exclusionsToReport of an agent that still runs with CNI off = %v, want [batch monitoring]", got)
	}
}

// TestExclusionsOfAnAgentKeptWhileCNIIsOff: an agent that still runs while CNI is off (its removal waits
// for the istiod without a revision, or failed) still skips what it read as it started. Turned on again
// with a namespace taken out of spec.cni.excludeNamespaces meanwhile, its older pods skip that namespace
// until the change has rolled out: the status keeps naming it, or the namespace is enrolled at once and
// its pods fail in istio-validation on those nodes.
func TestExclusionsOfAnAgentKeptWhileCNIIsOff(t *testing.T) {
	status := &meshv1alpha1.ServiceMeshStatus{}
	ready := appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 2, CurrentNumberScheduled: 2,
		UpdatedNumberScheduled: 2, NumberReady: 2, NumberAvailable: 2}
	pass := func(obs *cniObservation) {
		t.Helper()
		obs.ran, obs.by, obs.namespace = true, meshv1alpha1.CNIBySpec, "istio-system"
		setCNIReady(status, &observation{cni: obs})
	}
	agent := func(generation int64, st appsv1.DaemonSetStatus) *appsv1.DaemonSet {
		return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: cniDaemonSet, Generation: generation}, Status: st}
	}
	pass(&cniObservation{enabled: true, excluded: []string{"batch"}, daemonSet: agent(1, ready)})
	if got := status.CNI.ExcludeNamespaces; !slices.Equal(got, []string{"batch"}) {
		t.Fatalf("status.cni.excludeNamespaces of the agent rolled out = %v, want [batch]", got)
	}
	// CNI off; the agent's removal waits, and batch is taken out of the spec meanwhile.
	held := meshctx.Wait(meshv1alpha1.ReasonWaitingForControlPlane, time.Minute, errors.New("the istiod without a revision injects for the agent"))
	pass(&cniObservation{enabled: false, err: held, daemonSet: agent(1, ready)})
	pass(&cniObservation{enabled: false, err: held, daemonSet: agent(1, ready)})
	// CNI on again: the agent is upgraded without batch, and rolls that out.
	pass(&cniObservation{enabled: true, daemonSet: agent(2, ready)})
	if got := status.CNI.ExcludeNamespaces; !slices.Contains(got, "batch") {
		t.Errorf("status.cni.excludeNamespaces while the agent that skips batch rolls out = %v, want batch in it", got)
	}
	ready.ObservedGeneration = 2
	pass(&cniObservation{enabled: true, daemonSet: agent(2, ready)})
	if got := status.CNI.ExcludeNamespaces; len(got) != 0 {
		t.Errorf("status.cni.excludeNamespaces once the agent rolled out = %v, want none", got)
	}
	// The agent removed: a mesh without it has none.
	status.CNI.ExcludeNamespaces = []string{"batch"}
	setCNIReady(status, &observation{cni: &cniObservation{enabled: false, ran: true, by: meshv1alpha1.CNIBySpec, excluded: []string{"batch"}}})
	if got := status.CNI.ExcludeNamespaces; got != nil {
		t.Errorf("status.cni.excludeNamespaces of a mesh without the agent = %v, want none", got)
	}
}
