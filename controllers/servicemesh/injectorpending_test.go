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
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/internal/revision"
)

// TestInjectorPendingUntilIstiodIsInstalledForTheAgent: a running mesh that turns CNI on installs the
// agent in a pass whose istiod was rendered for istio-init; istiod injects for the agent only once a
// later pass's control-plane phase succeeds, and the enrollment waits for that.
func TestInjectorPendingUntilIstiodIsInstalledForTheAgent(t *testing.T) {
	mesh := func(agent string, pending bool) *meshv1alpha1.ServiceMesh {
		m := &meshv1alpha1.ServiceMesh{}
		m.Spec.CNI.Enabled = ptr.To(true)
		m.Status.Version = "1.31.1"
		m.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: agent, InjectorPending: pending}
		m.Status.Conditions = agentReady()
		return m
	}
	notReady := func(m *meshv1alpha1.ServiceMesh) *meshv1alpha1.ServiceMesh {
		m.Status.Conditions = nil
		return m
	}
	tests := map[string]struct {
		mesh            *meshv1alpha1.ServiceMesh
		obs             cniObservation
		controlPlaneRan bool
		want            bool
	}{
		"the pass that installs the agent": {mesh("", false), cniObservation{enabled: true, namespace: "istio-system"}, true, true},
		"the agent installed beside a control plane that failed": {mesh("", false),
			cniObservation{enabled: true, namespace: "istio-system"}, false, true},
		"the next pass installs istiod for the agent": {mesh("istio-system", true), cniObservation{enabled: true, namespace: "istio-system"}, true, false},
		"the next pass's control plane fails":         {mesh("istio-system", true), cniObservation{enabled: true, namespace: "istio-system"}, false, true},
		"the next pass, the agent not ready yet": {notReady(mesh("istio-system", true)),
			cniObservation{enabled: true, namespace: "istio-system"}, true, true},
		"a mesh running with the agent, not ready on a node": {notReady(mesh("istio-system", false)),
			cniObservation{enabled: true, namespace: "istio-system"}, true, false},
		"a mesh running with the agent whose control plane fails": {mesh("istio-system", false),
			cniObservation{enabled: true, namespace: "istio-system"}, false, false},
		"a new mesh, whose first istiod injects for its agent": {&meshv1alpha1.ServiceMesh{Spec: meshv1alpha1.ServiceMeshSpec{
			CNI: meshv1alpha1.CNISpec{Enabled: ptr.To(true)}}}, cniObservation{enabled: true, namespace: "istio-system"}, true, false},
		"CNI turned off":           {mesh("istio-system", true), cniObservation{enabled: false, namespace: "istio-system"}, true, false},
		"no agent installed (yet)": {mesh("", false), cniObservation{enabled: true}, false, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			settleCNI(tc.mesh)
			forAgent := meshctx.CNIInjects(tc.mesh)
			if got := injectorPending(tc.mesh, &tc.obs, forAgent, tc.controlPlaneRan); got != tc.want {
				t.Errorf("injectorPending = %t, want %t", got, tc.want)
			}
		})
	}
}

// agentReady is the status conditions of a mesh whose CNI agent is ready on every node.
func agentReady() []metav1.Condition {
	return []metav1.Condition{{Type: meshv1alpha1.ConditionCNIReady, Status: metav1.ConditionTrue, Reason: meshv1alpha1.ReasonAvailable}}
}

// TestARestrictedNamespaceWaitingForTheInjectorIsBeingEnrolled: while istiod is being installed for the
// agent, a namespace that enforces restricted, which it will then enroll, is reported as being enrolled
// (Reconciling), not as one Pod Security rejects (Stalled, and a fix that says to turn CNI on, which is).
func TestARestrictedNamespaceWaitingForTheInjectorIsBeingEnrolled(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Spec.Injection.Namespaces = []string{"shop"}
	mesh.Status.Version = "1.31.1"
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system", InjectorPending: true}
	namespaces := []corev1.Namespace{{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}}
	enrollment, err := meshctx.Enrollment(mesh)
	if err != nil {
		t.Fatal(err)
	}
	once, err := meshctx.EnrollmentOnceInjecting(mesh)
	if err != nil {
		t.Fatal(err)
	}
	n := observeNamespaces(namespaces, enrollment, once, nil)
	if len(n.pending) != 1 || len(n.podSecurity) != 0 {
		t.Errorf("pending %v, rejected by Pod Security %v; want shop pending", n.pending, n.podSecurity)
	}
	status := &meshv1alpha1.ServiceMeshStatus{}
	setNamespacesEnrolled(status, &observation{namespaces: n})
	if c := status.Conditions; len(c) != 1 || c[0].Reason != meshv1alpha1.ReasonReconciling {
		t.Errorf("NamespacesEnrolled = %+v, want Reconciling", c)
	}
}

// TestTheIstiodWithoutARevisionKeepsTheInjectorPending: a mesh that switches from InPlace to
// RevisionBased while it turns CNI on renders its first revision for the agent, but the istiod without
// a revision, left as it is, injects istio-init until the tag takes over: the injector stays pending.
func TestTheIstiodWithoutARevisionKeepsTheInjectorPending(t *testing.T) {
	tests := map[string]struct {
		installed *installation
		want      bool
	}{
		"the phase failed":  {nil, false},
		"InPlace":           {&installation{}, true},
		"a revision active": {&installation{revisions: &revisionInstallation{active: "1-31-1", target: "1-31-1"}}, true},
		"the istiod without a revision active, its first revision coming": {
			&installation{revisions: &revisionInstallation{active: revision.Legacy, target: "1-31-1"}}, false},
		"switching back to InPlace, the istiod without a revision the target": {
			&installation{revisions: &revisionInstallation{active: revision.Legacy, target: revision.Legacy}}, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := injectorsInstalled(tc.installed); got != tc.want {
				t.Errorf("injectorsInstalled = %t, want %t", got, tc.want)
			}
		})
	}
}

// TestInjectorPendingUntilTheAgentIsReady: a running mesh that turns CNI on keeps istiod injecting
// istio-init while its agent's DaemonSet, installed, runs on no node yet (a PriorityClass that does not
// exist, a quota, an admission policy refusing privileged pods); pods injected for an agent that is not
// there fail in istio-validation. istiod is rendered for the agent once the DaemonSet is ready.
func TestInjectorPendingUntilTheAgentIsReady(t *testing.T) {
	mesh := &meshv1alpha1.ServiceMesh{}
	mesh.Name = meshv1alpha1.ServiceMeshName
	mesh.Spec.CNI.Enabled = ptr.To(true)
	mesh.Spec.Injection.Namespaces = []string{"shop"}
	mesh.Status.Version = "1.31.1"
	mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec}
	settleCNI(mesh)
	restricted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	ds := &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "istio-system", Name: cniDaemonSet, Generation: 1},
		Status: appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3}}
	// pass runs one reconcile's CNI decisions, its control-plane phase succeeding, and records its status.
	pass := func() {
		t.Helper()
		forAgent := meshctx.CNIInjects(mesh)
		obs := &cniObservation{enabled: true, by: meshv1alpha1.CNIBySpec, ran: true, namespace: "istio-system", daemonSet: ds.DeepCopy()}
		obs.injectorPending = injectorPending(mesh, obs, forAgent, true)
		setCNIReady(&mesh.Status, &observation{cni: obs})
	}
	for i := range 3 {
		pass()
		if !mesh.Status.CNI.InjectorPending {
			t.Fatalf("pass %d: the injector is not pending while the agent is ready on no node", i)
		}
		if meshctx.CNIInjects(mesh) || *meshctx.ValuesSpec(mesh).CNI.Enabled {
			t.Fatalf("pass %d: istiod's values are rendered for an agent ready on 0 of 3 nodes", i)
		}
		enrollment, err := meshctx.Enrollment(mesh)
		if err != nil {
			t.Fatal(err)
		}
		if d := enrollment.Namespace(restricted, nil); d.Enroll {
			t.Fatalf("pass %d: the restricted namespace is enrolled while istiod injects istio-init", i)
		}
	}
	c := meta.FindStatusCondition(mesh.Status.Conditions, meshv1alpha1.ConditionCNIReady)
	if c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "istiod keeps injecting istio-init") {
		t.Errorf("CNIReady = %+v, want False saying istiod keeps injecting istio-init", c)
	}

	ds.Status = appsv1.DaemonSetStatus{ObservedGeneration: 1, DesiredNumberScheduled: 3, CurrentNumberScheduled: 3,
		UpdatedNumberScheduled: 3, NumberReady: 3, NumberAvailable: 3}
	pass() // the agent is seen ready: the next pass renders istiod for it
	if !meshctx.CNIInjects(mesh) {
		t.Fatal("istiod's values are not rendered for the agent once it is ready on every node")
	}
	pass()
	if mesh.Status.CNI.InjectorPending || !meshctx.InjectsForAgentNow(mesh) {
		t.Fatal("the injector is still pending once istiod was installed for the ready agent")
	}
	ds.Status.NumberReady = 2
	pass()
	if !meshctx.CNIInjects(mesh) || mesh.Status.CNI.InjectorPending {
		t.Error("a node whose agent is not ready turned istiod back to istio-init")
	}
}
