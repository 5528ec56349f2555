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

package meshctx

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/event"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
)

func TestCNIInjectsOnceTheAgentIsIn(t *testing.T) {
	running := func(cniOn bool, agentNamespace string) *meshv1alpha1.ServiceMesh {
		mesh := &meshv1alpha1.ServiceMesh{}
		mesh.Spec.CNI.Enabled = ptr.To(cniOn)
		mesh.Status.Version = "1.31.1"
		mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: cniOn, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: agentNamespace}
		return mesh
	}
	fresh := &meshv1alpha1.ServiceMesh{} // a new mesh runs the agent, and its first istiod injects for it
	tests := map[string]struct {
		mesh *meshv1alpha1.ServiceMesh
		want bool
	}{
		"a new mesh, nothing installed yet":                 {fresh, true},
		"CNI on, the agent installed":                       {running(true, "istio-system"), true},
		"CNI just turned on, the agent not installed yet":   {running(true, ""), false},
		"CNI off, the agent still recorded while it drains": {running(false, "istio-system"), false},
		"CNI off": {running(false, ""), false},
		// The agent kept while CNI was off (its removal waits, or failed): istiod injected istio-init
		// meanwhile, and that agent may not run on every node. As on a first enable, istiod injects for
		// it once it is ready everywhere and the pass that recorded it on again (status.cni.enabled,
		// status.cni.injectorPending) has run.
		"CNI turned on again while the agent still runs": {func() *meshv1alpha1.ServiceMesh {
			mesh := running(false, "istio-system")
			mesh.Spec.CNI.Enabled = ptr.To(true)
			mesh.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionCNIReady, Status: metav1.ConditionFalse,
				Reason: meshv1alpha1.ReasonWaitingForControlPlane}}
			return mesh
		}(), false},
		// A running mesh that turns CNI on, its status lost whole while its agent is not ready on every
		// node: the CNI phase restores status.cni.injectorPending for the pass, and writes it back with
		// the status, whose version the next pass reads. istiod keeps injecting istio-init meanwhile.
		"CNI turned on, the status lost, the agent not ready": {func() *meshv1alpha1.ServiceMesh {
			mesh := &meshv1alpha1.ServiceMesh{}
			mesh.Spec.CNI.Enabled = ptr.To(true)
			mesh.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system", InjectorPending: true}
			return mesh
		}(), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := CNIInjects(tc.mesh); got != tc.want {
				t.Errorf("CNIInjects = %t, want %t", got, tc.want)
			}
		})
	}
	if !CNIInjectsChanged.Update(event.UpdateEvent{ObjectOld: running(true, ""), ObjectNew: running(true, "istio-system")}) {
		t.Error("the agent's install does not wake the enrollment")
	}
	if CNIInjectsChanged.Update(event.UpdateEvent{ObjectOld: running(true, "istio-system"), ObjectNew: running(true, "kube-system")}) {
		t.Error("a move of the agent wakes the enrollment, which it does not change")
	}
}

// TestAPendingInjectorHoldsBackWhatIstioInitIsRejectedFrom: the agent's install is recorded in the pass
// that installs it, whose istiod was rendered before it, for istio-init. Until the next pass installs
// istiod for the agent (status.cni.injectorPending), istiod's values are rendered for the agent once it is ready, but the
// enrollment judges the pods istiod still injects: a namespace that enforces restricted waits.
func TestAPendingInjectorHoldsBackWhatIstioInitIsRejectedFrom(t *testing.T) {
	mesh := func(pending bool) *meshv1alpha1.ServiceMesh {
		m := &meshv1alpha1.ServiceMesh{}
		m.Name = meshv1alpha1.ServiceMeshName
		m.Spec.CNI.Enabled = ptr.To(true)
		m.Spec.Injection.Namespaces = []string{"shop"}
		m.Status.Version = "1.31.1"
		m.Status.CNI = &meshv1alpha1.CNIStatus{Enabled: true, EnabledBy: meshv1alpha1.CNIBySpec, Namespace: "istio-system", InjectorPending: pending}
		m.Status.Conditions = []metav1.Condition{{Type: meshv1alpha1.ConditionCNIReady, Status: metav1.ConditionTrue, Reason: meshv1alpha1.ReasonAvailable}}
		return m
	}
	restricted := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
		Labels: map[string]string{"pod-security.kubernetes.io/enforce": "restricted"}}}
	for _, pending := range []bool{true, false} {
		m := mesh(pending)
		if !CNIInjects(m) || !*ValuesSpec(m).CNI.Enabled {
			t.Errorf("pending %t: istiod's values are not rendered for the agent", pending)
		}
		if got := *InjectionSpec(m).CNI.Enabled; got == pending {
			t.Errorf("pending %t: the pods istiod injects now are judged injected for the agent: %t", pending, got)
		}
		enrollment, err := Enrollment(m)
		if err != nil {
			t.Fatal(err)
		}
		if d := enrollment.Namespace(restricted, nil); d.Enroll == pending {
			t.Errorf("pending %t: the restricted namespace is enrolled: %t (%s)", pending, d.Enroll, d.Reason)
		}
		once, err := EnrollmentOnceInjecting(m)
		if err != nil {
			t.Fatal(err)
		}
		if d := once.Namespace(restricted, nil); !d.Enroll {
			t.Errorf("pending %t: once istiod injects for the agent, the restricted namespace is not enrolled (%s)", pending, d.Reason)
		}
	}
	if !CNIInjectsChanged.Update(event.UpdateEvent{ObjectOld: mesh(true), ObjectNew: mesh(false)}) {
		t.Error("istiod's install for the agent does not wake the enrollment")
	}
	if !EnrollmentChanged.Update(event.UpdateEvent{ObjectOld: mesh(true), ObjectNew: mesh(false)}) {
		t.Error("istiod's install for the agent does not wake the controllers that act on enrollment")
	}
}
