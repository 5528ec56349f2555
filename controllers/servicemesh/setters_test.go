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
	"errors"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	meshv1alpha1 "github.com/meshkeeper/meshkeeper/api/v1alpha1"
	"github.com/meshkeeper/meshkeeper/controllers/ingress"
	"github.com/meshkeeper/meshkeeper/controllers/meshctx"
	"github.com/meshkeeper/meshkeeper/controllers/restart"
	"github.com/meshkeeper/meshkeeper/internal/policy"
)

// wantCondition is what a setter test expects of one condition; a nil want means the setter leaves
// the condition out.
type wantCondition struct {
	status   metav1.ConditionStatus
	reason   string
	mentions []string
}

func checkCondition(t *testing.T, status *meshv1alpha1.ServiceMeshStatus, conditionType string, want *wantCondition) {
	t.Helper()
	c := meta.FindStatusCondition(status.Conditions, conditionType)
	if want == nil {
		if c != nil {
			t.Fatalf("%s = %s/%s, want no condition", conditionType, c.Status, c.Reason)
		}
		return
	}
	if c == nil {
		t.Fatalf("no %s condition", conditionType)
	}
	if c.Status != want.status || c.Reason != want.reason {
		t.Errorf("%s = %s/%s (%s), want %s/%s", conditionType, c.Status, c.Reason, c.Message, want.status, want.reason)
	}
	for _, m := range want.mentions {
		if !strings.Contains(c.Message, m) {
			t.Errorf("%s message %q does not mention %q", conditionType, c.Message, m)
		}
	}
	if c.ObservedGeneration != 4 {
		t.Errorf("%s.observedGeneration = %d, want 4", conditionType, c.ObservedGeneration)
	}
}

// setterCase is a setter test that changes one part of the observation.
type setterCase[P any] struct {
	part P
	want *wantCondition
}

// runSetterTable runs set over observations whose part put sets, and checks the condition it sets.
func runSetterTable[P any](t *testing.T, conditionType string, set func(*meshv1alpha1.ServiceMeshStatus, *observation),
	put func(*observation, P), tests map[string]setterCase[P]) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			put(obs, tc.part)
			status := &meshv1alpha1.ServiceMeshStatus{}
			set(status, obs)
			checkCondition(t, status, conditionType, tc.want)
		})
	}
}

func testObservation() *observation {
	return &observation{generation: 4, spec: &meshv1alpha1.ServiceMeshSpec{Namespace: "istio-system",
		IngressNginx: meshv1alpha1.IngressNginxSpec{Controller: meshv1alpha1.WorkloadReference{
			Namespace: "ingress-nginx", Name: "ingress-nginx-controller", Kind: "Deployment"}}}}
}

func TestSetControlPlaneReady(t *testing.T) {
	available := &appsv1.Deployment{Spec: appsv1.DeploymentSpec{Replicas: ptr.To[int32](1)},
		Status: appsv1.DeploymentStatus{UpdatedReplicas: 1, AvailableReplicas: 1, Replicas: 1}}
	tests := map[string]struct {
		change func(*observation)
		want   *wantCondition
	}{
		"a chart version that does not exist": {
			func(o *observation) {
				o.controlPlaneErr = meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New("chart istiod 9.9.9 not found"))
			},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonChartNotFound, []string{"9.9.9"}},
		},
		"a failed install": {
			func(o *observation) {
				o.controlPlaneErr = meshctx.Retry(meshv1alpha1.ReasonInstallFailed, errors.New("upgrading release istiod: boom"))
			},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonInstallFailed, []string{"boom"}},
		},
		"a namespace being deleted": {
			func(o *observation) {
				o.controlPlaneErr = meshctx.Wait(meshv1alpha1.ReasonNamespaceTerminating, namespaceRetry, errors.New("being deleted"))
			},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonNamespaceTerminating, nil},
		},
		"an API error leaves the condition as it was": {
			func(o *observation) { o.controlPlaneErr = errors.New("connection refused") },
			nil,
		},
		"installed, istiod missing": {
			func(o *observation) { o.installed, o.istiodRead = &installation{}, true },
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonDeploymentMissing, nil},
		},
		"installed, istiod available": {
			func(o *observation) { o.installed, o.istiodRead, o.istiod = &installation{}, true, available },
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, []string{"1 of 1"}},
		},
		// During a canary the default tag stays on the older revision, whose istiod injects and validates
		// for every enrolled namespace outside the canary, with webhooks that fail closed.
		"a canary available, the tagged revision's istiod available": {
			func(o *observation) {
				o.installed, o.istiodRead, o.istiod = &installation{}, true, available
				o.activeIstiodName, o.activeIstiodRead, o.activeIstiod = "istiod-1-31-0", true, available
			},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonAvailable, []string{"1 of 1"}},
		},
		"a canary available, the tagged revision's istiod without available replicas": {
			func(o *observation) {
				down := available.DeepCopy()
				down.Status.AvailableReplicas = 0
				o.installed, o.istiodRead, o.istiod = &installation{}, true, available
				o.istiodName = "istiod-1-31-1"
				o.activeIstiodName, o.activeIstiodRead, o.activeIstiod = "istiod-1-31-0", true, down
			},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut,
				[]string{"default revision tag", "istio-system/istiod-1-31-0", "0 available", "istio-system/istiod-1-31-1, is"}},
		},
		"a canary available, the tagged revision's istiod deleted": {
			func(o *observation) {
				o.installed, o.istiodRead, o.istiod = &installation{}, true, available
				o.activeIstiodName, o.activeIstiodRead = "istiod-1-31-0", true
			},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonDeploymentMissing, []string{"istiod-1-31-0", "does not exist"}},
		},
		"a canary available, the tagged revision's istiod not read": {
			func(o *observation) {
				o.installed, o.istiodRead, o.istiod = &installation{}, true, available
				o.activeIstiodName = "istiod-1-31-0"
			},
			nil,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			tc.change(obs)
			status := &meshv1alpha1.ServiceMeshStatus{}
			setControlPlaneReady(status, obs)
			checkCondition(t, status, meshv1alpha1.ConditionControlPlaneReady, tc.want)
		})
	}
}

func TestSetNamespacesEnrolled(t *testing.T) {
	tests := map[string]struct {
		enrollmentErr error
		namespaces    *namespacesObservation
		want          *wantCondition
		wantCounts    meshv1alpha1.NamespacesStatus
	}{
		"every selected namespace labelled": {
			nil, &namespacesObservation{enrolled: sets.New("shop", "web")},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonEnrolled, []string{"2 namespace(s)"}},
			meshv1alpha1.NamespacesStatus{Enrolled: 2},
		},
		"a namespace still being labelled": {
			nil, &namespacesObservation{enrolled: sets.New("shop"), pending: []string{"web"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, []string{"web"}},
			meshv1alpha1.NamespacesStatus{Enrolled: 1},
		},
		"a conflict outweighs a pending namespace": {
			nil, &namespacesObservation{enrolled: sets.New[string](), pending: []string{"web"}, conflicts: []string{"legacy"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonInjectionLabelConflict, []string{"legacy"}},
			meshv1alpha1.NamespacesStatus{Conflicts: 1},
		},
		"a selector that cannot be used": {
			meshctx.Terminal(meshv1alpha1.ReasonInvalidSpec, errors.New("spec.injection.namespaceSelector is not a valid label selector")), nil,
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonInvalidSpec, []string{"namespaceSelector"}},
			meshv1alpha1.NamespacesStatus{},
		},
		"not observed": {nil, nil, nil, meshv1alpha1.NamespacesStatus{}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := testObservation()
			obs.enrollmentErr, obs.namespaces = tc.enrollmentErr, tc.namespaces
			status := &meshv1alpha1.ServiceMeshStatus{}
			setNamespacesEnrolled(status, obs)
			checkCondition(t, status, meshv1alpha1.ConditionNamespacesEnrolled, tc.want)
			if status.Namespaces != tc.wantCounts {
				t.Errorf("status.namespaces = %+v, want %+v", status.Namespaces, tc.wantCounts)
			}
		})
	}
}

func TestSetIngressesConfigured(t *testing.T) {
	configured := policy.PodTemplateDecision{Configured: true, Reason: policy.Configured}
	rolledOut := ingress.Rollout{Done: true}
	tests := map[string]setterCase[*ingressesObservation]{
		"integration off": {
			&ingressesObservation{},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonIngressNginxDisabled, nil},
		},
		// Turned off, but meshkeeper's settings are still on the controller and the Ingresses.
		"integration off, settings not taken back yet": {
			&ingressesObservation{held: []string{"Deployment ingress-nginx/ingress-nginx-controller"}, pending: []string{"shop/web"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling,
				[]string{"integration is off", "pod template of Deployment ingress-nginx/ingress-nginx-controller", "1 Ingress(es): shop/web"}},
		},
		"controller and Ingresses configured": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: rolledOut,
				status: meshv1alpha1.IngressesStatus{Configured: 3}},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonConfigured, []string{"3 Ingress(es)"}},
		},
		// Its pod template carries the settings, but pods of the template before still run without the sidecar.
		"controller rolling out its sidecar": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true,
				controllerRollout: ingress.Rollout{Message: "the ingress-nginx controller Deployment a/b is rolling out"},
				status:            meshv1alpha1.IngressesStatus{Configured: 3}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRollingOut, []string{"Deployment a/b is rolling out", "3 Ingress(es)"}},
		},
		"controller on the host network": {
			&ingressesObservation{enabled: true, controller: policy.PodTemplateDecision{Reason: policy.HostNetwork, Message: "hostNetwork"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonHostNetwork, []string{"hostNetwork"}},
		},
		"Service ranges unknown": {
			&ingressesObservation{enabled: true, controller: policy.PodTemplateDecision{Reason: meshv1alpha1.ReasonServiceCIDRsUnknown,
				Message: "set spec.ingressNginx.serviceCIDRs"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonServiceCIDRsUnknown, []string{"set spec.ingressNginx.serviceCIDRs"}},
		},
		"controller's pod template being configured": {
			&ingressesObservation{enabled: true, controller: configured, pending: []string{"shop/web"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, []string{"Deployment ingress-nginx/ingress-nginx-controller"}},
		},
		"an Ingress being configured": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, pending: []string{"shop/web"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, []string{"shop/web"}},
		},
		"Ingresses skipped for one reason carry it": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true,
				skipped: map[string][]string{policy.ServiceMissing: {"shop/a"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonServiceMissing, []string{"shop/a"}},
		},
		"Ingresses skipped for several reasons": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true,
				skipped: map[string][]string{policy.ServiceMissing: {"shop/a"}, policy.NoBackend: {"shop/b"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressesSkipped, []string{"NoBackend: shop/b", "ServiceMissing: shop/a"}},
		},
		// An admission policy refuses the write: waiting does not configure it, so the condition says
		// what refuses it and what to do, not that it is being configured.
		"an Ingress whose write the API server refuses": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: rolledOut,
				refused: map[string]meshctx.Refusal{"shop/web": {Answer: "denied request: upstream-vhost is not allowed"}},
				pending: []string{"shop/api"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"putting them on", "1 Ingress(es): shop/web", "for shop/web it answers: denied request: upstream-vhost is not allowed",
					"allow meshkeeper's change", "make the webhook answer", "1 more Ingress(es) being configured: shop/api"}},
		},
		"refused Ingresses are named up to five, with the first one's answer": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: rolledOut,
				refused: map[string]meshctx.Refusal{
					"shop/g": {Answer: "no g"}, "shop/b": {Answer: "no b"}, "shop/f": {Answer: "no f"}, "shop/a": {Answer: "no a"},
					"shop/e": {Answer: "no e"}, "shop/d": {Answer: "no d"}, "shop/c": {Answer: "no c"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"7 Ingress(es): shop/a, shop/b, shop/c, shop/d, shop/e and 2 more", "for shop/a it answers: no a"}},
		},
		// Skipped Ingresses are left as they are, and counted in status.ingresses.skippedByReason; a
		// refused write is seen nowhere else.
		"a refused write comes before skipped Ingresses": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: rolledOut,
				refused: map[string]meshctx.Refusal{"shop/web": {Answer: "denied"}},
				skipped: map[string][]string{policy.ServiceMissing: {"shop/a"}},
				status:  meshv1alpha1.IngressesStatus{Skipped: 1, SkippedByReason: map[string]int32{policy.ServiceMissing: 1}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"shop/web", "1 more cannot be configured and are left unchanged"}},
		},
		"a refused write comes before the controller's pod template being configured": {
			&ingressesObservation{enabled: true, controller: configured,
				refused: map[string]meshctx.Refusal{"shop/web": {Answer: "denied"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"shop/web", "pod template of Deployment ingress-nginx/ingress-nginx-controller is being configured"}},
		},
		"a refused write names the controller's unfinished rollout": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true,
				controllerRollout: ingress.Rollout{Message: "the ingress-nginx controller Deployment a/b is rolling out"},
				refused:           map[string]meshctx.Refusal{"shop/web": {Answer: "denied"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"shop/web", "Meanwhile the ingress-nginx controller Deployment a/b is rolling out"}},
		},
		// Fixing the controller gives every Ingress its annotations back; the Ingresses that keep them
		// meanwhile are named all the same.
		"the controller's reason comes before a refused write, which it names": {
			&ingressesObservation{enabled: true, controller: policy.PodTemplateDecision{Reason: policy.HostNetwork, Message: "hostNetwork"},
				refused: map[string]meshctx.Refusal{"shop/web": {Releasing: true, Answer: "denied"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonHostNetwork,
				[]string{"hostNetwork", "taking them back", "1 Ingress(es): shop/web", "it answers: denied"}},
		},
		"integration off, the API server refuses to give annotations back": {
			&ingressesObservation{held: []string{"Deployment ingress-nginx/ingress-nginx-controller"},
				refused: map[string]meshctx.Refusal{"shop/web": {Releasing: true, Answer: "upstream-vhost is required"}},
				pending: []string{"shop/api"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused,
				[]string{"integration is off", "taking them back", "1 Ingress(es): shop/web", "upstream-vhost is required",
					"pod template of Deployment ingress-nginx/ingress-nginx-controller", "1 more Ingress(es): shop/api"}},
		},
		"Ingress writes refused both ways": {
			&ingressesObservation{enabled: true, controller: configured, controllerApplied: true, controllerRollout: rolledOut,
				refused: map[string]meshctx.Refusal{"shop/a": {Answer: "no"}, "shop/b": {Releasing: true, Answer: "no"}}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIngressWriteRefused, []string{"putting them on or taking them back"}},
		},
		"not observed": {nil, nil},
	}
	runSetterTable(t, meshv1alpha1.ConditionIngressesConfigured, setIngressesConfigured, func(o *observation, part *ingressesObservation) { o.ingresses = part }, tests)
}

func TestSetDataPlaneUpToDate(t *testing.T) {
	tests := map[string]setterCase[*proxiesObservation]{
		"every proxy current": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 5}},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonProxiesUpToDate, []string{"all 5"}},
		},
		"pods to restart, worst namespace first": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 9, WithoutSidecar: 1, Outdated: 3},
				needRestart: map[string]int{"shop": 1, "web": 3}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded, []string{"4 pod(s)", "web (3), shop (1)"}},
		},
		"automatic restarts rolling out": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 9, Outdated: 4}, needRestart: map[string]int{"shop": 4},
				restarts: restart.Status{Restarting: 1, Pending: 2}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRestarting, []string{"4 pod(s)", "1 workload(s) rolling out, 2 waiting"}},
		},
		// Pods of a Job or of a held workload need a restart too, but meshkeeper never makes it: they are
		// counted apart, with their owners to restart, not among those meshkeeper restarts.
		"automatic restarts, and pods meshkeeper does not restart": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 9, Outdated: 4}, needRestart: map[string]int{"shop": 4},
				restarts: restart.Status{Restarting: 1, NotRestartable: 1}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRestarting,
				[]string{"meshkeeper restarts the workloads of 3 pod(s)", "1 more pod(s) need a restart that meshkeeper does not make (status.proxies.notRestartable)"}},
		},
		// Nothing rolls out, but meshkeeper restarts them once it may: no advice to restart them by hand.
		"automatic restarts waiting for the window": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 9, Outdated: 4}, needRestart: map[string]int{"shop": 4},
				restarts: restart.Status{Pending: 2, Waiting: "the restart window (spec.dataPlane.restarts.window) is closed until 2026-12-05T22:00:00Z"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRestarting,
				[]string{"0 workload(s) rolling out, 2 waiting (the restart window (spec.dataPlane.restarts.window) is closed until 2026-12-05T22:00:00Z)"}},
		},
		"pods injected for the CNI agent, which is off": {
			&proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 3, Outdated: 3}, needRestart: map[string]int{"shop": 3}, cniOff: 2},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonRestartNeeded,
				[]string{"3 with an outdated proxy", "2 of the outdated pod(s) were injected for the CNI agent, which is off"}},
		},
		"not observed": {nil, nil},
	}
	runSetterTable(t, meshv1alpha1.ConditionDataPlaneUpToDate, setDataPlaneUpToDate, func(o *observation, part *proxiesObservation) { o.proxies = part }, tests)
}

func TestSetPoliciesApplied(t *testing.T) {
	tests := map[string]setterCase[*policiesObservation]{
		"CRDs not served": {
			&policiesObservation{},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonIstioCRDsMissing, nil},
		},
		// Discovery failing says nothing about the CRDs: the condition says it is not known.
		"discovery failed": {
			&policiesObservation{discovery: errors.New("the server is currently unable to handle the request")},
			&wantCondition{metav1.ConditionUnknown, meshv1alpha1.ReasonReconciling,
				[]string{"not known", "discovery failed (the server is currently unable to handle the request)"}},
		},
		"every policy in place": {
			&policiesObservation{served: true, applied: 3},
			&wantCondition{metav1.ConditionTrue, meshv1alpha1.ReasonPoliciesApplied, []string{"3 "}},
		},
		"one still to write": {
			&policiesObservation{served: true, applied: 1, pending: []string{"Sidecar shop/default"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonReconciling, []string{"Sidecar shop/default"}},
		},
		"a user's policy outweighs pending ones": {
			&policiesObservation{served: true, pending: []string{"Sidecar shop/default"}, conflicts: []string{"PeerAuthentication legacy/default"}},
			&wantCondition{metav1.ConditionFalse, meshv1alpha1.ReasonPolicyConflict, []string{"PeerAuthentication legacy/default"}},
		},
		"not observed": {nil, nil},
	}
	runSetterTable(t, meshv1alpha1.ConditionPoliciesApplied, setPoliciesApplied, func(o *observation, part *policiesObservation) { o.policies = part }, tests)
}

func TestCanaryRolledBack(t *testing.T) {
	spec := &meshv1alpha1.ServiceMeshSpec{UpdateStrategy: meshv1alpha1.UpdateStrategySpec{
		Type: meshv1alpha1.UpdateRevisionBased, Canary: &meshv1alpha1.CanarySpec{Namespaces: []string{"shop"}}}}
	rollback := &meshv1alpha1.CanaryRollbackStatus{Revision: "1-31-1", Workload: "Deployment shop/app", ObservedGeneration: 4}
	current := &meshv1alpha1.ServiceMeshStatus{ActiveRevision: "1-31-0", Version: "1.31.0"}
	obs := &observation{generation: 4, spec: spec, canaryRollback: rollback, proxies: &proxiesObservation{
		status: meshv1alpha1.ProxiesStatus{Total: 3, Outdated: 1}, needRestart: map[string]int{"shop": 1}}}

	status := computeStatus(current, obs)
	if status.CanaryRollback != rollback {
		t.Errorf("status.canaryRollback = %v, want the rollback that holds", status.CanaryRollback)
	}
	checkCondition(t, status, meshv1alpha1.ConditionDataPlaneUpToDate, &wantCondition{
		status: metav1.ConditionFalse, reason: meshv1alpha1.ReasonCanaryRolledBack,
		mentions: []string{"Deployment shop/app", "canary revision 1-31-1", "(shop)", "active revision 1-31-0",
			"change the spec", "set spec.version to 1.31.0", "1 pod(s) still need a restart"}})

	// The spec changed (so the rollback no longer holds for it), but its control-plane phase failed (a chart version not found):
	// the status still reports the revisions of the spec before, the rolled-back canary among them, so
	// the rollback stays, or the canary namespaces would move back to that canary.
	current.CanaryRollback = rollback
	current.Revisions = []meshv1alpha1.RevisionStatus{{Name: "1-31-0", State: meshv1alpha1.RevisionActive, Ready: true},
		{Name: "1-31-1", State: meshv1alpha1.RevisionCanary, Ready: true}}
	obs.canaryRollback = nil
	obs.controlPlaneErr = meshctx.Terminal(meshv1alpha1.ReasonChartNotFound, errors.New("chart istiod 1.31.9 not found"))
	status = computeStatus(current, obs)
	if !reflect.DeepEqual(status.CanaryRollback, rollback) {
		t.Errorf("status.canaryRollback = %v while the status reports the revisions of the spec before, want the rollback kept", status.CanaryRollback)
	}
	if got := meshctx.CanaryRevision(&meshv1alpha1.ServiceMesh{Spec: *spec, Status: *status}); got != "" {
		t.Errorf("the canary namespaces are moved to %q, the canary that was rolled back", got)
	}

	// A status pass that reports the revisions of the new spec records no rollback any more, and judges
	// the data plane as usual.
	obs.controlPlaneErr, obs.installed = nil, &installation{version: "1.31.2", revision: "1-31-0"}
	obs.proxies = &proxiesObservation{status: meshv1alpha1.ProxiesStatus{Total: 3}}
	status = computeStatus(current, obs)
	if status.CanaryRollback != nil {
		t.Errorf("status.canaryRollback = %v, want none once it no longer holds", status.CanaryRollback)
	}
	checkCondition(t, status, meshv1alpha1.ConditionDataPlaneUpToDate, &wantCondition{
		status: metav1.ConditionTrue, reason: meshv1alpha1.ReasonProxiesUpToDate})
}
